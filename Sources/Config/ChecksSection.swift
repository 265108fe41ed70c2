/// `checks:` named health checks, in declared order (each read by `CheckReader`).
enum ChecksSection: ConfigSection {
    static let key = "checks"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        for (name, v) in try reader.mapping(node, "checks") {
            draft.config.checks.append(try CheckReader(reader: reader).read(name: name, node: v))
        }
    }
}
