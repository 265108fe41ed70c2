/// `geo:` the MaxMind-format database and the operator's CIDR -> region table (paths resolved from
/// the config's directory; `false` or `~` turns one off).
enum GeoSection: ConfigSection {
    static let key = "geo"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        draft.config.geoDeclaredAt = "\(reader.file):\(reader.line(node))"
        for (k, v) in try reader.mapping(node, "geo") {
            switch k {
            case "database": draft.config.geoDatabase = try reader.optionalString(v, k).map { reader.resolve($0) }
            case "networks": draft.config.geoNetworks = try reader.optionalString(v, k).map { reader.resolve($0) }
            default: throw reader.error(v, "unknown geo key '\(k)' (expected database, networks)")
            }
        }
    }
}
