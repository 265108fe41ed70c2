/// `server:` the transports' settings: EDNS payload size (RFC 6891), UDP workers, TCP timeouts and
/// connection caps (RFC 7766 §6.2.2, §6.2.3). Read at start only: a reload that changes them is refused.
enum ServerSection: ConfigSection {
    static let key = "server"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        for (k, v) in try reader.mapping(node, "server") {
            switch k {
            case "udp_payload_size": draft.config.udpPayloadSize = try reader.int(v, k, in: 512...4096)
            case "workers": draft.config.workers = try reader.int(v, k, in: 0...256)
            case "tcp_idle_timeout": draft.config.tcpIdleTimeout = try reader.duration(v, k)
            case "tcp_max_connections": draft.config.tcpMaxConnections = try reader.int(v, k, in: 1...1_000_000)
            case "tcp_message_timeout": draft.config.tcpMessageTimeout = try reader.duration(v, k)
            case "tcp_max_connections_per_client": draft.config.tcpMaxConnectionsPerClient = try reader.int(v, k, in: 1...1_000_000)
            case "tcp_max_queries_per_connection": draft.config.tcpMaxQueriesPerConnection = try reader.int(v, k, in: 1...100_000_000)
            case "tcp_max_connection_lifetime": draft.config.tcpMaxConnectionLifetime = try reader.duration(v, k)
            default:
                throw reader.error(
                    v,
                    "unknown server key '\(k)' (expected udp_payload_size, workers, tcp_idle_timeout, tcp_max_connections, tcp_message_timeout, tcp_max_connections_per_client, tcp_max_queries_per_connection, tcp_max_connection_lifetime)"
                )
            }
        }
    }
}
