/// `zones:` a list of `{ origin, file }`; origins are made fully qualified, files resolved from the
/// config's directory. Each zone records where it was declared (for the "declared twice" rule).
enum ZonesSection: ConfigSection {
    static let key = "zones"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        draft.config.zones = try reader.sequence(node, "zones").map { item in
            let fields = try reader.mapping(item, "a zone")
            var origin: String?
            var zoneFile: String?
            for (k, v) in fields {
                switch k {
                case "origin": origin = try reader.string(v, "origin")
                case "file": zoneFile = try reader.string(v, "file")
                default: throw reader.error(v, "unknown zone key '\(k)' (expected origin, file)")
                }
            }
            guard let origin, !origin.isEmpty else { throw reader.error(item, "zone needs 'origin'") }
            guard let zoneFile else { throw reader.error(item, "zone \(origin) needs 'file'") }
            let fqdn = origin.hasSuffix(".") ? origin : origin + "."
            return MeridianConfig.Zone(origin: fqdn, file: reader.resolve(zoneFile), declaredAt: "\(reader.file):\(reader.line(item))")
        }
    }
}
