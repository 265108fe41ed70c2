/// `listen:` the addresses served over UDP and TCP, each HOST:PORT or [IPv6]:PORT (port 53 when omitted).
enum ListenSection: ConfigSection {
    static let key = "listen"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        draft.config.listen = try reader.sequence(node, "listen").map { item in
            let text = try reader.string(item, "listen address")
            guard let address = MeridianConfig.ListenAddress.parse(text) else {
                throw reader.error(item, "'\(text)' is not HOST:PORT or [IPv6]:PORT")
            }
            return address
        }
    }
}
