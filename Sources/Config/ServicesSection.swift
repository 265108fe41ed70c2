/// `services:` GSLB services by name, in declared order (each read by `ServiceReader`).
enum ServicesSection: ConfigSection {
    static let key = "services"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        for (name, v) in try reader.mapping(node, "services") {
            draft.config.services.append(try ServiceReader(reader: reader).read(name: name, node: v))
        }
    }
}
