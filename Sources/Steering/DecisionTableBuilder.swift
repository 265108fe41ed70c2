import Geo

/// The decision partitions of a table policy (geo, nearest, latency), control plane.
///
/// Each range of the database partition, the global CIDR table and the service's own rows is a key;
/// the key space is [0, R) database records, [R, R+G) global rows, [R+G, ...) the service's rows
/// (its own networks, then measured rows). Every key maps to an order id; the tables are overlaid
/// (longest prefix wins: service rows over global rows over the database) and neighbouring ranges
/// with the same order merged, so the range around a client is exactly the set of addresses decided
/// alike: its widest aligned block is the ECS scope (RFC 7871 §7.2.1, as gdnsd does).
enum DecisionTableBuilder {
    /// Orders are interned in key order (records, global rows, own networks, measured rows), then the
    /// default order. `recordOrder(r, &orders)` is database record r's order id; `measured` are rows
    /// whose order is final (no fallback appended).
    static func build(
        _ orders: inout RegionOrders, _ inputs: OrderInputs, measured: [(IPPrefix, [Int32])] = [],
        recordOrder: (Int, inout RegionOrders) -> Int32
    ) throws -> OrderPlan {
        let sources = inputs.tables.sources
        let records = sources.database?.records ?? []
        let defaultList = inputs.map.defaultList
        let globalBase = Int32(records.count)
        let serviceBase = globalBase + Int32(sources.networks.count)
        var keyOrder: [Int32] = []
        keyOrder.reserveCapacity(records.count + sources.networks.count + inputs.serviceNetworks.count + measured.count)
        for r in records.indices { keyOrder.append(recordOrder(r, &orders)) }
        // The global table names regions for every service: a service uses those it has pools for;
        // a line naming none of them leaves the decision to the service's map default.
        for e in sources.networks {
            let known = e.values.compactMap { orders.poolIndex[$0] }
            keyOrder.append(orders.intern(orders.withFallback(known.isEmpty ? defaultList : known)))
        }
        var serviceEntries: [(IPPrefix, Int32)] = []
        for e in inputs.serviceNetworks {
            keyOrder.append(orders.intern(orders.withFallback(try orders.resolve(e.values, "\(e.file):\(e.line)"))))
            serviceEntries.append((e.prefix, serviceBase + Int32(serviceEntries.count)))
        }
        for (prefix, list) in measured {
            keyOrder.append(orders.intern(list))
            serviceEntries.append((prefix, serviceBase + Int32(serviceEntries.count)))
        }
        let defaultOrder = orders.intern(orders.withFallback(defaultList))
        var plan = OrderPlan(kind: .table, unknownClientOrder: defaultOrder)
        let globalEntries = sources.networks.enumerated().map { ($0.element.prefix, globalBase + Int32($0.offset)) }
        for family in [4, 6] {
            let width = family == 4 ? 32 : 128
            let s = serviceEntries.filter { $0.0.family == family }
            let key = DecisionTableCache.Key(
                family: family, defaultOrder: defaultOrder, keyOrder: keyOrder,
                networks: s.map(\.0), networkKeys: s.map(\.1))
            let merged = inputs.tables.table(for: key) {
                var part = (family == 4 ? sources.database?.v4 : sources.database?.v6) ?? PrefixPartition(width: width, key: -1)
                let g = globalEntries.filter { $0.0.family == family }
                if !g.isEmpty { part = part.overlaid(with: .fromPrefixes(width: width, g)) }
                if !s.isEmpty { part = part.overlaid(with: .fromPrefixes(width: width, s)) }
                // alias keys stay: such a client is decided as its embedded IPv4 address (in `v4`)
                return part.merged { PrefixPartition.isAlias($0) ? $0 : $0 < 0 ? defaultOrder : keyOrder[Int($0)] }.indexed()
            }
            if family == 4 { plan.v4 = merged } else { plan.v6 = merged }
        }
        return plan
    }
}
