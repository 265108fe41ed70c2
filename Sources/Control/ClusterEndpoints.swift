import Cluster
import Health

extension ControlEndpoints {
    /// The `cluster` object of `/v1/status`: this instance's standing with the NS set, each peer
    /// (whether its configuration matches ours, its verdicts) and the votes per endpoint.
    func clusterStatus(_ agent: ClusterAgent) -> JSONValue {
        let status = agent.status
        let ours = agent.info.configDigest
        let peers: [JSONValue] = status.view.members.keys.sorted().map { node in
            let info = status.view.members[node]!
            let verdicts = status.view.verdicts[node] ?? [:]
            return [
                "node": .string(node), "version": .string(info.version), "config_digest": .string(info.configDigest),
                "config_matches": .bool(info.configDigest == ours), "listen": .array(info.listen.map(JSONValue.string)),
                "started_at": .int(Int(info.startedAt)), "serves_dns": .bool(!info.listen.isEmpty),
                "zones": .object(info.zones.mapValues { .int(Int($0)) }),
                "verdicts": .object(Dictionary(uniqueKeysWithValues: verdicts.map { ($0.key.description, JSONValue.string($0.value ? "up" : "down")) })),
            ]
        }
        let votes: [JSONValue] = status.view.votes(rule: agent.rule).sorted { $0.key < $1.key }.map { endpoint, vote in
            [
                "endpoint": .string(endpoint.description), "probers": .int(vote.probers), "down_votes": .int(vote.down),
                "needed": .int(vote.needed), "state": .string(vote.isDown ? "down" : "up"),
            ]
        }
        var object: [String: JSONValue] = [
            "node": .string(agent.node), "prefix": .string(agent.keys.prefix), "quorum": .string(agent.rule.description),
            "state": .string(status.mode.rawValue), "connected": .bool(status.mode == .connected),
            "revision": .int(Int(status.view.revision)), "sessions": .int(status.sessions), "peers": .array(peers), "endpoints": .array(votes),
            "config_mismatch": .array(status.view.members.values.filter { $0.configDigest != ours }.map { .string($0.node) }.sorted { "\($0)" < "\($1)" }),
            "answers_follow": .string(context.publisher.sharedVerdicts == nil ? "own verdicts" : "shared verdicts"),
        ]
        if let member = status.member { object["etcd_member"] = .string(member) }
        if let error = status.lastError { object["last_error"] = .string(error) }
        if let seconds = status.disconnectedFor { object["disconnected_for_s"] = .double((seconds * 10).rounded() / 10) }
        return .object(object)
    }

    /// `GET /healthz`: 200 when this instance should receive traffic (its snapshot is loaded and,
    /// in an NS set, the shared state is fresh: connected, or within the grace), 503 otherwise, with
    /// the reason; for BIRD or ExaBGP to withdraw an anycast route, or a load balancer its target.
    func healthz() -> ControlReply {
        let (snapshot, _) = context.store.current()
        guard !snapshot.zones.isEmpty else { return .json(.serviceUnavailable, ["ok": false, "reason": "no zone loaded"]) }
        guard let agent = context.cluster else { return .json(.ok, ["ok": true, "reason": "standalone"]) }
        let status = agent.status
        switch status.mode {
        case .connected: return .json(.ok, ["ok": true, "reason": "in session with the NS set", "cluster": "connected"])
        case .degraded:
            return .json(.ok, ["ok": true, "reason": "etcd unreachable, within the grace: answers keep the last shared state", "cluster": "degraded"])
        case .fallback:
            return .json(
                .serviceUnavailable,
                ["ok": false, "reason": "etcd unreachable past the grace: answers follow this instance's own verdicts", "cluster": "fallback"])
        }
    }
}

extension MetricsRenderer {
    /// The cluster's gauges.
    static func renderCluster(_ agent: ClusterAgent, sharedInForce: Bool) -> String {
        let status = agent.status
        let ours = agent.info.configDigest
        var out = ""
        out += "# HELP meridian_cluster_connected Whether this instance is in session with etcd (1) or not (0).\n"
        out += "# TYPE meridian_cluster_connected gauge\nmeridian_cluster_connected \(status.mode == .connected ? 1 : 0)\n"
        out += "# HELP meridian_cluster_state This instance's cluster state (1 for the current one).\n# TYPE meridian_cluster_state gauge\n"
        for mode in ["connected", "degraded", "fallback"] {
            out += "meridian_cluster_state{state=\"\(mode)\"} \(status.mode.rawValue == mode ? 1 : 0)\n"
        }
        out += "# HELP meridian_cluster_shared_verdicts Whether answers follow the NS set's quorum verdicts (1) or this instance's own (0).\n"
        out += "# TYPE meridian_cluster_shared_verdicts gauge\nmeridian_cluster_shared_verdicts \(sharedInForce ? 1 : 0)\n"
        out += "# HELP meridian_cluster_peers Live instances of the NS set (this one included).\n"
        out += "# TYPE meridian_cluster_peers gauge\nmeridian_cluster_peers \(status.view.members.count)\n"
        out += "# HELP meridian_cluster_config_mismatch Live instances whose configuration digest differs from this one's.\n"
        out += "# TYPE meridian_cluster_config_mismatch gauge\n"
        out += "meridian_cluster_config_mismatch \(status.view.members.values.filter { $0.configDigest != ours }.count)\n"
        out += "# HELP meridian_cluster_sessions_total Sessions with etcd begun.\n"
        out += "# TYPE meridian_cluster_sessions_total counter\nmeridian_cluster_sessions_total \(status.sessions)\n"
        out += "# HELP meridian_cluster_revision The etcd revision this instance's shared state reflects.\n"
        out += "# TYPE meridian_cluster_revision gauge\nmeridian_cluster_revision \(status.view.revision)\n"
        return out
    }
}
