import DNSWire
import Geo

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
            var transfer: MeridianConfig.TransferSettings?
            for (k, v) in fields {
                switch k {
                case "origin": origin = try reader.string(v, "origin")
                case "file": zoneFile = try reader.string(v, "file")
                case "dnssec": dnssec = try readDNSSEC(v, reader)
                case "transfer": transfer = try readTransfer(v, reader)
                default: throw reader.error(v, "unknown zone key '\(k)' (expected origin, file, dnssec, transfer)")
                }
            }
            guard let origin, !origin.isEmpty else { throw reader.error(item, "zone needs 'origin'") }
            guard let zoneFile else { throw reader.error(item, "zone \(origin) needs 'file'") }
            let fqdn = origin.hasSuffix(".") ? origin : origin + "."
            return MeridianConfig.Zone(
                origin: fqdn, file: reader.resolve(zoneFile), declaredAt: "\(reader.file):\(reader.line(item))", dnssec: dnssec,
                transfer: transfer)
        }
    }

    /// `dnssec: { keys, algorithm, denial, signature_validity, refresh, dnskey_ttl, serial_policy, rollover timings... }`, or `dnssec: true`
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
                guard ["nsec3", "nsec"].contains(denial) else { throw reader.error(v, "denial must be nsec3 or nsec, got '\(denial)'") }
                settings.denial = denial
            case "signature_validity": settings.signatureValidity = try reader.duration(v, k)
            case "refresh": settings.refresh = try reader.duration(v, k)
            case "dnskey_ttl": settings.dnskeyTTL = try reader.int(v, k, in: 0...86400)
            case "serial_policy":
                let name = try reader.string(v, k)
                guard ["unixtime", "increment"].contains(name) else {
                    throw reader.error(v, "serial_policy must be unixtime or increment, got '\(name)'")
                }
                settings.serialPolicy = name
            case "zsk_lifetime": settings.zskLifetime = try lifetime(v, k, reader)
            case "ksk_lifetime": settings.kskLifetime = try lifetime(v, k, reader)
            case "propagation_delay": settings.propagationDelay = try reader.duration(v, k)
            case "zone_max_ttl": settings.zoneMaxTTL = try reader.duration(v, k)
            case "parent_ds_ttl": settings.parentDSTTL = try reader.duration(v, k)
            case "manage_keys": settings.manageKeys = try reader.bool(v, k)
            case "cds_delete": settings.cdsDelete = try reader.bool(v, k)
            case "ds_check_interval": settings.dsCheckInterval = try reader.duration(v, k)
            case "ksk_submission":
                settings.kskSubmission = try reader.sequence(v, k).map { item in
                    let text = try reader.string(item, "a server")
                    guard let server = MeridianConfig.ServerAddress.parse(text) else {
                        throw reader.error(item, "ksk_submission lists IP addresses with an optional :PORT (53), got '\(text)'")
                    }
                    return server
                }
            default:
                throw reader.error(
                    v,
                    "unknown dnssec key '\(k)' (expected keys, algorithm, denial, signature_validity, refresh, dnskey_ttl, serial_policy, zsk_lifetime, ksk_lifetime, propagation_delay, zone_max_ttl, parent_ds_ttl, manage_keys, ksk_submission, ds_check_interval, cds_delete)"
                )
            }
        }
        guard settings.refresh < settings.signatureValidity else {
            throw reader.error(node, "dnssec.refresh must be shorter than signature_validity")
        }
        return settings
    }

    /// A key lifetime: a duration, or `0`/`never` (the key is never rolled).
    static func lifetime(_ node: YAMLNode, _ what: String, _ reader: NodeReader) throws -> Double {
        ["0", "never"].contains(node.scalarText ?? "") ? 0 : try reader.duration(node, what)
    }

    /// `transfer: { allow: [RULE...], notify: [TARGET...] }`. A rule is a network (`192.0.2.0/24`, an
    /// address) or `{ network, key }`; a target is `HOST:PORT` or `{ address, key }`. Key names must be
    /// under `tsig_keys` (checked once the whole config is read).
    static func readTransfer(_ node: YAMLNode, _ reader: NodeReader) throws -> MeridianConfig.TransferSettings {
        var settings = MeridianConfig.TransferSettings()
        settings.declaredAt = "\(reader.file):\(reader.line(node))"
        for (k, v) in try reader.mapping(node, "transfer") {
            switch k {
            case "allow":
                settings.allow = try reader.sequence(v, k).map { item in
                    var rule = MeridianConfig.TransferSettings.Rule()
                    func network(_ node: YAMLNode) throws -> IPPrefix {
                        let text = try reader.string(node, "a network")
                        guard let prefix = IPPrefix.parse(text) else {
                            throw reader.error(node, "'\(text)' is not a network (address/length, host bits zero) or an address")
                        }
                        return prefix
                    }
                    if item.scalarText != nil {
                        rule.network = try network(item)
                    } else {
                        for (field, value) in try reader.mapping(item, "an allow rule") {
                            switch field {
                            case "network": rule.network = try network(value)
                            case "key": rule.key = try reader.string(value, field)
                            default: throw reader.error(value, "unknown allow field '\(field)' (expected network, key)")
                            }
                        }
                    }
                    guard rule.network != nil || rule.key != nil else { throw reader.error(item, "an allow rule needs a network or a key") }
                    return rule
                }
            case "notify":
                settings.notify = try reader.sequence(v, k).map { item in
                    var text: String?
                    var key: String?
                    if item.scalarText != nil {
                        text = try reader.string(item, "a secondary")
                    } else {
                        for (field, value) in try reader.mapping(item, "a notify target") {
                            switch field {
                            case "address": text = try reader.string(value, field)
                            case "key": key = try reader.string(value, field)
                            default: throw reader.error(value, "unknown notify field '\(field)' (expected address, key)")
                            }
                        }
                    }
                    guard let text, let server = MeridianConfig.ServerAddress.parse(text) else {
                        throw reader.error(item, "a notify target is an IP address with an optional :PORT (53)")
                    }
                    return MeridianConfig.TransferSettings.NotifyTarget(server: server, key: key)
                }
            default: throw reader.error(v, "unknown transfer key '\(k)' (expected allow, notify)")
            }
        }
        return settings
    }
}
