import Geo

/// `control:` the control API's TCP address and write token, its Unix socket, and its connection
/// limits. The rule that a non-loopback address needs a token is checked once every section is read
/// (`ConfigDraft.finished`), since the keys may come in any order.
enum ControlSection: ConfigSection {
    static let key = "control"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        draft.controlNode = node
        for (k, v) in try reader.mapping(node, "control") {
            switch k {
            case "listen":
                if let text = try reader.optionalString(v, k) {
                    guard let a = MeridianConfig.ListenAddress.parse(text) else { throw reader.error(v, "'\(text)' is not HOST:PORT") }
                    draft.config.controlListen = a
                } else {
                    draft.config.controlListen = nil
                }
            case "token": draft.config.controlToken = try reader.optionalString(v, k)
            case "socket": draft.controlSocket = .some(try reader.optionalString(v, k).map { reader.resolve($0) })
            case "max_connections": draft.config.controlMaxConnections = try reader.int(v, k, in: 1...100_000)
            case "idle_timeout": draft.config.controlIdleTimeout = try reader.duration(v, k)
            case "allow":
                draft.config.controlAllow = try reader.sequence(v, k).map { item in
                    let text = try reader.string(item, "an allowed network")
                    guard let prefix = IPPrefix.parse(text) else {
                        throw reader.error(item, "'\(text)' is not a network (e.g. 192.0.2.0/24, ::1/128) with its host bits zero")
                    }
                    return prefix
                }
            default: throw reader.error(v, "unknown control key '\(k)' (expected listen, token, socket, max_connections, idle_timeout, allow)")
            }
        }
    }
}
