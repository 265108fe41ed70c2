import CYAML

/// One node of a parsed YAML document (libyaml's document API, YAML 1.1), with the 1-based line it
/// starts on for file:line messages. Scalars stay untagged text: `NodeReader` types them itself.
struct YAMLNode {
    /// The shape of a node; mapping pairs keep the file's order.
    enum Kind {
        case scalar(String, plain: Bool)
        case sequence([YAMLNode])
        case mapping([(key: YAMLNode, value: YAMLNode)])
    }

    let kind: Kind
    let line: Int

    /// The text of a scalar node, nil for sequences and mappings.
    var scalarText: String? {
        if case let .scalar(text, _) = kind { return text }
        return nil
    }
}

/// A YAML syntax error: libyaml's problem text and the 1-based line it was found on.
struct YAMLSyntaxError: Error, CustomStringConvertible {
    let line: Int
    let description: String
}

/// Parses the first document of a YAML text into `YAMLNode`s with libyaml.
///
/// Aliases are expanded into copies, so two limits keep a hostile or mistaken file from exhausting
/// the process: nesting deeper than `maximumDepth` (which includes an alias inside its own anchor,
/// a cycle in libyaml's graph) and more than `maximumNodes` expanded nodes (a "billion laughs"
/// chain of aliases) are errors, not a crash.
enum YAMLDocumentParser {
    static let maximumDepth = 64
    static let maximumNodes = 1_000_000

    /// The root node, or nil for an empty document.
    static func parse(_ text: String) throws -> YAMLNode? {
        guard !text.utf8.isEmpty else { return nil } // libyaml asserts on a NULL input buffer
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw YAMLSyntaxError(line: 0, description: "out of memory") }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(text.utf8)
        return try bytes.withUnsafeMutableBufferPointer { buffer -> YAMLNode? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var document = yaml_document_t()
            guard yaml_parser_load(&parser, &document) == 1 else { throw syntaxError(parser) }
            defer { yaml_document_delete(&document) }
            return try withUnsafeMutablePointer(to: &document) { pointer -> YAMLNode? in
                guard let root = yaml_document_get_root_node(pointer) else { return nil }
                var converter = Converter(document: pointer)
                return try converter.convert(root, depth: 0)
            }
        }
    }

    /// libyaml's message, "<context> (line N): <problem>", located at the problem's line.
    static func syntaxError(_ parser: yaml_parser_t) -> YAMLSyntaxError {
        let problem = parser.problem.map { String(cString: $0) } ?? "syntax error"
        var text = problem
        if let context = parser.context {
            text = "\(String(cString: context)) (line \(parser.context_mark.line + 1)): \(problem)"
        }
        return YAMLSyntaxError(line: Int(parser.problem_mark.line) + 1, description: text)
    }

    /// Walks libyaml's node graph (1-based node indices) into a tree, counting what it builds.
    private struct Converter {
        let document: UnsafeMutablePointer<yaml_document_t>
        var nodes = 0

        init(document: UnsafeMutablePointer<yaml_document_t>) { self.document = document }

        mutating func node(_ index: Int32, depth: Int) throws -> YAMLNode {
            guard let pointer = yaml_document_get_node(document, index) else {
                throw YAMLSyntaxError(line: 0, description: "dangling node reference")
            }
            return try convert(pointer, depth: depth)
        }

        mutating func convert(_ pointer: UnsafeMutablePointer<yaml_node_t>, depth: Int) throws -> YAMLNode {
            let line = Int(pointer.pointee.start_mark.line) + 1
            guard depth < YAMLDocumentParser.maximumDepth else {
                throw YAMLSyntaxError(line: line, description: "nested deeper than \(YAMLDocumentParser.maximumDepth) levels (an alias inside its own anchor?)")
            }
            nodes += 1
            guard nodes <= YAMLDocumentParser.maximumNodes else {
                throw YAMLSyntaxError(line: line, description: "more than \(YAMLDocumentParser.maximumNodes) nodes once aliases are expanded")
            }
            switch pointer.pointee.type {
            case YAML_SCALAR_NODE:
                let scalar = pointer.pointee.data.scalar
                let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                return YAMLNode(kind: .scalar(text, plain: scalar.style == YAML_PLAIN_SCALAR_STYLE), line: line)
            case YAML_SEQUENCE_NODE:
                let items = pointer.pointee.data.sequence.items
                var out: [YAMLNode] = []
                var item = items.start
                while let current = item, current != items.top {
                    out.append(try node(current.pointee, depth: depth + 1))
                    item = current + 1
                }
                return YAMLNode(kind: .sequence(out), line: line)
            case YAML_MAPPING_NODE:
                let pairs = pointer.pointee.data.mapping.pairs
                var out: [(key: YAMLNode, value: YAMLNode)] = []
                var pair = pairs.start
                while let current = pair, current != pairs.top {
                    out.append((try node(current.pointee.key, depth: depth + 1), try node(current.pointee.value, depth: depth + 1)))
                    pair = current + 1
                }
                return YAMLNode(kind: .mapping(out), line: line)
            default:
                return YAMLNode(kind: .scalar("", plain: true), line: line)
            }
        }
    }
}
