/// `zones:` a list of `{ origin, file, dnssec }`; origins are made fully qualified, files resolved from
/// the config's directory. Each zone records where it was declared (for the "declared twice" rule).
enum ZonesSection: ConfigSection {
    static let key = "zones"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        draft.config.zones = try reader.sequence(node, "zones").map { item in
            let fields = try reader.mapping(item, "a zone")
            var origin: String?
            var zoneFile: String?
            var dnssec: MeridianConfig.DNSSECSettings?
            for (k, v) in fields {
                switch k {
                case "origin": origin = try reader.string(v, "origin")
                case "file": zoneFile = try reader.string(v, "file")
                case "dnssec": dnssec = try readDNSSEC(v, reader)
                default: throw reader.error(v, "unknown zone key '\(k)' (expected origin, file, dnssec)")
                }
            }
            guard let origin, !origin.isEmpty else { throw reader.error(item, "zone needs 'origin'") }
            guard let zoneFile else { throw reader.error(item, "zone \(origin) needs 'file'") }
            let fqdn = origin.hasSuffix(".") ? origin : origin + "."
            return MeridianConfig.Zone(
                origin: fqdn, file: reader.resolve(zoneFile), declaredAt: "\(reader.file):\(reader.line(item))", dnssec: dnssec)
        }
    }

    /// `dnssec: { keys, algorithm, denial, signature_validity, refresh, dnskey_ttl, serial_policy }`, or `dnssec: true`
    /// for every default.
    static func readDNSSEC(_ node: YAMLNode, _ reader: NodeReader) throws -> MeridianConfig.DNSSECSettings? {
        var settings = MeridianConfig.DNSSECSettings()
        settings.declaredAt = "\(reader.file):\(reader.line(node))"
        if node.scalarText != nil { return try reader.bool(node, "dnssec") ? settings : nil }
        for (k, v) in try reader.mapping(node, "dnssec") {
            switch k {
            case "keys": settings.keys = reader.resolve(try reader.string(v, k))
            case "algorithm":
                let name = try reader.string(v, k).lowercased()
                guard ["ecdsap256sha256", "ed25519"].contains(name) else {
                    throw reader.error(v, "algorithm must be ecdsap256sha256 or ed25519, got '\(name)'")
                }
                settings.algorithm = name
            case "denial":
                let denial = try reader.string(v, k)
                guard denial == "nsec3" else {
                    throw reader.error(v, "denial must be nsec3 (NSEC is not implemented), got '\(denial)'")
                }
            case "signature_validity": settings.signatureValidity = try reader.duration(v, k)
            case "refresh": settings.refresh = try reader.duration(v, k)
            case "dnskey_ttl": settings.dnskeyTTL = try reader.int(v, k, in: 0...86400)
            case "serial_policy":
                let name = try reader.string(v, k)
                guard ["unixtime", "increment"].contains(name) else {
                    throw reader.error(v, "serial_policy must be unixtime or increment, got '\(name)'")
                }
                settings.serialPolicy = name
            default:
                throw reader.error(
                    v,
                    "unknown dnssec key '\(k)' (expected keys, algorithm, denial, signature_validity, refresh, dnskey_ttl, serial_policy)")
            }
        }
        guard settings.refresh < settings.signatureValidity else {
            throw reader.error(node, "dnssec.refresh must be shorter than signature_validity")
        }
        return settings
    }
}
