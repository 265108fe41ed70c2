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
            "config_mismatch": .array(status.view.nodes(differingFrom: ours).map(JSONValue.string)),
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
    /// The cluster's gauges and counter, one family each.
    static func renderCluster(_ agent: ClusterAgent, sharedInForce: Bool) -> String {
        let status = agent.status
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: Int64)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for sample in samples { out += "\(name)\(sample.labels) \(sample.value)\n" }
        }
        family("meridian_cluster_connected", "gauge", "Whether this instance is connected to etcd (1) or not (0).", [("", status.mode == .connected ? 1 : 0)])
        family(
            "meridian_cluster_state", "gauge", "This instance's cluster state (1 for the current one).",
            [ClusterAgent.Mode.connected, .degraded, .fallback].map { ("{state=\"\($0.rawValue)\"}", status.mode == $0 ? 1 : 0) })
        family(
            "meridian_cluster_shared_verdicts", "gauge", "Whether answers follow the NS set's quorum verdicts (1) or this instance's own (0).",
            [("", sharedInForce ? 1 : 0)])
        family("meridian_cluster_peers", "gauge", "Live instances of the NS set (this one included).", [("", Int64(status.view.members.count))])
        family(
            "meridian_cluster_config_mismatch", "gauge", "Live instances whose configuration digest differs from this one's.",
            [("", Int64(status.view.nodes(differingFrom: agent.info.configDigest).count))])
        family("meridian_cluster_sessions_total", "counter", "Connections to etcd established (each rereads the whole prefix).", [("", Int64(status.sessions))])
        family("meridian_cluster_revision", "gauge", "The etcd revision this instance's shared state reflects.", [("", status.view.revision)])
        return out
    }
}
