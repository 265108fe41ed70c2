import Steering
import SourceFiles

/// Typed access to YAML nodes with file:line errors and environment expansion.
struct NodeReader {
    let file: String
    let environment: [String: String]
    /// The config file's directory: relative paths are taken from it.
    let baseDir: String

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
        self.baseDir = NodeReader.directory(of: file)
    }

    func line(_ node: YAMLNode) -> Int { node.line }

    /// The directory part of a path ("" for a bare file name, "/" for a file in the root).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Relative paths are taken from the config file's directory.
    func resolve(_ path: String) -> String {
        path.hasPrefix("/") || baseDir.isEmpty ? path : baseDir + "/" + path
    }

    /// A region or a list of regions; `static` (or an empty list) = the zone's static records.
    func regionList(_ node: YAMLNode, _ what: String) throws -> RegionList {
        if case .sequence = node.kind { return try sequence(node, what).map { try string($0, what) } }
        let text = try string(node, what)
        if text == "static" { return [] }
        return text.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
    }

    func error(_ node: YAMLNode, _ reason: String) -> ConfigError {
        ConfigError(file: file, line: line(node), reason: reason)
    }

    func mapping(_ node: YAMLNode, _ what: String) throws -> [(String, YAMLNode)] {
        guard case let .mapping(m) = node.kind else { throw error(node, "\(what) must be a mapping") }
        var out: [(String, YAMLNode)] = []
        for (k, v) in m {
            guard let key = k.scalarText else { throw error(k, "keys must be strings") }
            if out.contains(where: { $0.0 == key }) { throw error(k, "duplicate key '\(key)'") }
            out.append((key, v))
        }
        return out
    }

    func sequence(_ node: YAMLNode, _ what: String) throws -> [YAMLNode] {
        guard case let .sequence(s) = node.kind else { throw error(node, "\(what) must be a list") }
        return s
    }

    func string(_ node: YAMLNode, _ what: String) throws -> String {
        guard case let .scalar(text, _) = node.kind else { throw error(node, "\(what) must be a single value") }
        return try expand(text, at: node)
    }

    /// A string, or nil for `false`, `null` or an empty value (the feature is then disabled).
    func optionalString(_ node: YAMLNode, _ what: String) throws -> String? {
        guard case let .scalar(text, plain) = node.kind else { throw error(node, "\(what) must be a single value") }
        if plain, ["false", "null", "~", "", "no", "off"].contains(text.lowercased()) { return nil }
        let value = try expand(text, at: node)
        return value.isEmpty ? nil : value
    }

    func bool(_ node: YAMLNode, _ what: String) throws -> Bool {
        switch try string(node, what).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(node, "\(what) must be true or false")
        }
    }

    func double(_ node: YAMLNode, _ what: String) throws -> Double {
        let text = try string(node, what)
        if text.hasSuffix("%"), let v = Double(text.dropLast()) { return v / 100 }
        guard let v = Double(text) else { throw error(node, "\(what) must be a number") }
        return v
    }

    func int(_ node: YAMLNode, _ what: String, in range: ClosedRange<Int>) throws -> Int {
        let text = try string(node, what)
        guard let v = Int(text), range.contains(v) else {
            throw error(node, "\(what) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return v
    }

    /// "10s", "500ms", "2m", "1h" or a number of seconds.
    func duration(_ node: YAMLNode, _ what: String) throws -> Double {
        let text = String(try string(node, what).trimmingWhitespace())
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            if let v = Double(text.dropLast(suffix.count)), v > 0 { return v * factor }
        }
        if let v = Double(text), v > 0 { return v }
        throw error(node, "\(what) must be a positive duration such as 10s, 500ms or 14d, got '\(text)'")
    }

    /// `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`.
    func expand(_ text: String, at node: YAMLNode) throws -> String {
        guard text.contains("$") else { return text }
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == "$", text.index(after: i) < text.endIndex {
                let n = text.index(after: i)
                if text[n] == "$" { out.append("$"); i = text.index(after: n); continue }
                if text[n] == "{" {
                    guard let close = text[n...].firstIndex(of: "}") else { throw error(node, "unterminated ${ in '\(text)'") }
                    let body = String(text[text.index(after: n)..<close])
                    let name: String
                    var fallback: String?
                    // ":-" found by hand: String.firstRange(of:) runs _StringProcessing's searcher,
                    // code the server otherwise never touches (resident pages, docs/PERFORMANCE.md)
                    if let colon = body.indices.first(where: { body[$0] == ":" && body[body.index(after: $0)...].first == "-" }) {
                        name = String(body[..<colon])
                        fallback = String(body[body.index(colon, offsetBy: 2)...])
                    } else {
                        name = body
                    }
                    guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                        throw error(node, "bad variable name '${\(body)}'")
                    }
                    if let v = environment[name], !(v.isEmpty && fallback != nil) {
                        out += v
                    } else if let fallback {
                        out += fallback
                    } else {
                        throw error(node, "environment variable \(name) is not set")
                    }
                    i = text.index(after: close)
                    continue
                }
            }
            out.append(c)
            i = text.index(after: i)
        }
        return out
    }
}
