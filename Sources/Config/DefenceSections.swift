import Geo

/// `rrl:` response rate limiting (off unless the section is present; `enabled: false` keeps the
/// settings and turns it off). The model and defaults are Knot's and BIND's: `rate` responses per
/// second per client network and response class, every `slip`-th limited response truncated.
enum RRLSection: ConfigSection {
    static let key = "rrl"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        var rrl = MeridianConfig.RRLSettings()
        rrl.enabled = true
        rrl.declaredAt = "\(reader.file):\(node.line)"
        for (k, v) in try reader.mapping(node, "rrl") {
            switch k {
            case "enabled": rrl.enabled = try reader.bool(v, k)
            case "rate": rrl.rate = try reader.int(v, k, in: 1...10_000)
            case "slip": rrl.slip = try reader.int(v, k, in: 0...100)
            case "ipv4_prefix": rrl.ipv4Prefix = try reader.int(v, k, in: 8...32)
            case "ipv6_prefix": rrl.ipv6Prefix = try reader.int(v, k, in: 16...128)
            case "exempt":
                rrl.exempt = try reader.sequence(v, k).map { item in
                    let text = try reader.string(item, "an exempt network")
                    guard let prefix = IPPrefix.parse(text) else {
                        throw reader.error(item, "'\(text)' is not a network (e.g. 192.0.2.0/24, 2001:db8::/32) with its host bits zero")
                    }
                    return prefix
                }
            case "dry_run": rrl.dryRun = try reader.bool(v, k)
            case "badcookie_slip": rrl.badCookieSlip = try reader.bool(v, k)
            case "table_size": rrl.tableSize = try reader.int(v, k, in: 64...(1 << 26))
            default:
                throw reader.error(
                    v, "unknown rrl key '\(k)' (expected enabled, rate, slip, ipv4_prefix, ipv6_prefix, exempt, dry_run, badcookie_slip, table_size)")
            }
        }
        draft.config.rrl = rrl
    }
}

/// `cookies:` DNS cookies (RFC 7873) with RFC 9018 server cookies, on by default. `secret` (32 hex
/// digits) is shared by every instance of an NS set; without it the secret is kept in
/// `${state_dir}/cookie-secret`, made once. `previous_secret` is still accepted while a new secret is
/// rolled out (RFC 9018 §5).
enum CookiesSection: ConfigSection {
    static let key = "cookies"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        var cookies = MeridianConfig.CookieSettings()
        for (k, v) in try reader.mapping(node, "cookies") {
            switch k {
            case "enabled": cookies.enabled = try reader.bool(v, k)
            case "secret": cookies.secret = try hexSecret(v, k, reader)
            case "previous_secret": cookies.previousSecret = try hexSecret(v, k, reader)
            default: throw reader.error(v, "unknown cookies key '\(k)' (expected enabled, secret, previous_secret)")
            }
        }
        draft.config.cookies = cookies
    }

    /// 32 hexadecimal digits (a 128-bit SipHash key, RFC 9018 §4.4), kept as lower-case text.
    static func hexSecret(_ node: YAMLNode, _ key: String, _ reader: NodeReader) throws -> String {
        let text = try reader.string(node, key)
        guard text.utf8.count == 32, text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0 | 0x20) }) else {
            throw reader.error(node, "\(key) must be 32 hexadecimal digits (128 bits), e.g. from `openssl rand -hex 16`")
        }
        return text.lowercased()
    }
}
