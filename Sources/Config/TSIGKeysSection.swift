import FoundationEssentials

/// `tsig_keys:` named TSIG keys (RFC 8945) for zone transfers and NOTIFY, as Knot's `key:` section:
/// `NAME: { algorithm: hmac-sha256, secret: BASE64 }`. The secret must decode to at least 16 octets
/// (RFC 8945 §6: a key shorter than half the hash output is not allowed); only hmac-sha256 is
/// offered.
enum TSIGKeysSection: ConfigSection {
    static let key = "tsig_keys"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        draft.config.tsigKeys = try reader.mapping(node, key).map { name, value in
            var algorithm = "hmac-sha256"
            var secret: String?
            for (k, v) in try reader.mapping(value, "tsig key \(name)") {
                switch k {
                case "algorithm":
                    algorithm = try reader.string(v, k).lowercased()
                    guard algorithm == "hmac-sha256" else { throw reader.error(v, "tsig key \(name): algorithm must be hmac-sha256") }
                case "secret":
                    let text = try reader.string(v, k)
                    guard let decoded = Data(base64Encoded: text), decoded.count >= 16 else {
                        throw reader.error(v, "tsig key \(name): secret must be base64 of at least 16 octets")
                    }
                    secret = text
                default: throw reader.error(v, "unknown tsig key field '\(k)' (expected algorithm, secret)")
                }
            }
            guard let secret else { throw reader.error(value, "tsig key \(name) needs a secret") }
            return MeridianConfig.TSIGKeySettings(name: name, algorithm: algorithm, secret: secret)
        }
    }
}
