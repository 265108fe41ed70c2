import DNSWire
import Geo

extension CompiledService {
    /// "What would you answer for this client, and why" (control plane, allocates): the client network,
    /// the table line or database record it matched, each policy step, the regions in order with their
    /// health, the answer and the ECS scope. `client` nil = no client information (ECS SOURCE 0).
    public func explain(client: IPPrefix?, qtype: UInt16, up: [Bool]) -> [String] {
        var lines: [String] = []
        let key: IPAddress?
        if let client {
            key = client.network
            lines.append("client: \(client) (decided on \(client.network))")
        } else {
            key = nil
            lines.append("client: none (ECS SOURCE PREFIX-LENGTH 0 or no address): the unknown-client order applies")
        }
        lines.append("service: \(spec.name) policy \(spec.policy.rawValue), ttl \(spec.ttl), declared at \(spec.declaredAt)")
        if case .table = kind, let client {
            if client.family == 6, case let k = v6.keys[v6.index(of: client.address)], PrefixPartition.isAlias(k) {
                let embedded = PrefixPartition.embeddedIPv4(client.address, aliasKey: k)
                lines.append("alias: the database points this IPv6 range back at its IPv4 data: decided as \(IPPrefix.formatAddress(family: 4, embedded))")
                lines.append(contentsOf: matchLines(IPPrefix(family: 4, address: embedded, length: 32)))
            } else {
                lines.append(contentsOf: matchLines(client))
            }
        }
        let decision = decide(client: key, qtype: qtype, random: 0) { up[$0] }
        if decision.order >= 0 {
            let list = order(Int(decision.order))
            if list.isEmpty {
                lines.append("regions in order: (none) -> the zone's static records")
            } else {
                let text = list.map { "\(pools[Int($0)].region) (\(up[Int($0)] ? "up" : "down"))" }.joined(separator: ", ")
                lines.append("regions in order: \(text)")
            }
        } else {
            let text = pools.indices.map { "\(pools[$0].region) (\(up[$0] ? "up" : "down"))" }.joined(separator: ", ")
            lines.append("regions: \(text) (\(spec.policy.rawValue) choice per query)")
        }
        switch decision.pool {
        case Decision.staticRecords: lines.append("answer: the zone's static records for \(spec.name)")
        case Decision.noData: lines.append("answer: no \(qtype == DNSType.a ? "A" : "AAAA") records in any region -> NODATA")
        default:
            let pool = spec.pools[Int(decision.pool)]
            let chosen = pool.cname.map { "CNAME \($0)" } ?? pool.addresses.map(\.text).joined(separator: " ")
            lines.append("answer: region \(pool.region): \(chosen) (ttl \(spec.ttl), select \(spec.select.rawValue))")
        }
        switch kind {
        case .table:
            if let client {
                let range = tableLookup(client.network)
                let first = IPPrefix.formatAddress(family: client.family, range.first)
                let last = IPPrefix.formatAddress(family: client.family, range.last)
                lines.append(
                    "scope: /\(decision.scope): every address from \(first) to \(last) is decided alike; /\(decision.scope) is the widest aligned block around the client inside that range"
                )
            } else {
                lines.append("scope: /0: without client information the answer is the same for everyone")
            }
        case .hash:
            lines.append("scope: /\(decision.scope): the answer depends on the client's /\(decision.scope) only (rendezvous hash)")
        default:
            lines.append("scope: /0: \(spec.policy.rawValue) does not depend on the client")
        }
        return lines
    }

    /// Which layer decided: the service's own table, the global CIDR table, or the database.
    func matchLines(_ client: IPPrefix) -> [String] {
        func longest(_ entries: [NetworkEntry]) -> NetworkEntry? {
            entries.filter {
                $0.prefix.family == client.family && $0.prefix.length <= 128
                    && (client.address & IPPrefix.mask($0.prefix.length, width: client.width)) == $0.prefix.address
            }
            .max { $0.prefix.length < $1.prefix.length }
        }
        if let e = longest(serviceNetworks) {
            return ["matched: \(e.file):\(e.line): \(e.prefix) -> \(e.values.joined(separator: " ")) (service table)"]
        }
        if let (e, rtts) = latencyRows.filter({ r in
            r.0.prefix.family == client.family && (client.address & IPPrefix.mask(r.0.prefix.length, width: client.width)) == r.0.prefix.address
        })
        .max(by: { $0.0.prefix.length < $1.0.prefix.length }) {
            let cells = zip(latencyRegions, rtts).map { "\($0)=\($1.map { "\($0)ms" } ?? "-")" }.joined(separator: " ")
            return ["matched: \(e.file):\(e.line): \(e.prefix) RTT \(cells) (latency table: lowest RTT first)"]
        }
        if let e = longest(sources.networks) {
            return ["matched: \(e.file):\(e.line): \(e.prefix) -> \(e.values.joined(separator: " ")) (geo networks table)"]
        }
        guard let db = sources.database else { return ["matched: nothing (no database configured) -> map default"] }
        let hit = db.lookup(family: client.family, address: client.address)
        let range = "\(IPPrefix.formatAddress(family: client.family, hit.first))-\(IPPrefix.formatAddress(family: client.family, hit.last))"
        guard let record = hit.record else {
            return ["matched: not in the database \(db.path) (range \(range)) -> map default"]
        }
        var lines = ["matched: database \(db.path) (\(db.databaseType)) range \(range): \(record.summary)"]
        switch spec.policy {
        case .nearest, .latency:
            lines.append("step: \(record.latitude == nil ? "no coordinates -> map default" : "regions sorted by great-circle distance + bias")")
        default:
            if let s = record.subdivision, let l = spec.map.subdivision[s] {
                lines.append("step: subdivision \(s) -> \(text(l))")
            } else if let c = record.country, let l = spec.map.country[c] {
                lines.append("step: country \(c) -> \(text(l))")
            } else if let c = record.continent, let l = spec.map.continent[c] {
                lines.append("step: continent \(c) -> \(text(l))")
            } else {
                lines.append("step: no map entry for \(record.summary) -> default \(text(spec.map.defaultRegions))")
            }
        }
        return lines
    }

    private func text(_ list: RegionList) -> String { list.isEmpty ? "static" : "[\(list.joined(separator: ", "))]" }
}
