/// `identity:` the CHAOS `version.bind` / `id.server` answers and the EDNS NSID (RFC 5001); each
/// off unless set.
enum IdentitySection: ConfigSection {
    static let key = "identity"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        for (k, v) in try reader.mapping(node, "identity") {
            let text = try reader.optionalString(v, k)
            switch k {
            case "version": draft.config.identity.version = text
            case "id": draft.config.identity.id = text
            case "nsid": draft.config.identity.nsid = text
            default: throw reader.error(v, "unknown identity key '\(k)' (expected version, id, nsid)")
            }
        }
    }
}
