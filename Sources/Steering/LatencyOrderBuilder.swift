import Geo

/// `latency`: a measured network's order is its regions by RTT (lowest first, ties by pool index),
/// then the unmeasured pools in declared order; other clients are ordered as by `nearest`.
struct LatencyOrderBuilder: OrderBuilder {
    func build(_ orders: inout RegionOrders, _ inputs: OrderInputs) throws -> OrderPlan {
        let spec = orders.spec
        guard let path = spec.latencyTable else { throw SteeringError(spec.declaredAt, "policy latency needs latency_table") }
        let table = try NetworkTable.readLatencyTable(path: path)
        for r in table.regions where orders.poolIndex[r] == nil {
            throw SteeringError("\(path):\(table.headerLine)", "unknown region '\(r)' in the latency table header")
        }
        var measured: [(IPPrefix, [Int32])] = []
        for (e, rtts) in table.rows {
            var byRTT: [(Double, Int32)] = []
            for (i, rtt) in rtts.enumerated() { if let rtt { byRTT.append((rtt, orders.poolIndex[table.regions[i]]!)) } }
            var list = byRTT.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map(\.1)
            for p in orders.declaredOrder where !list.contains(p) { list.append(p) }
            measured.append((e.prefix, list))
        }
        let byRecord = NearestRecordOrders(inputs)
        var plan = try DecisionTableBuilder.build(&orders, inputs, measured: measured) { r, orders in byRecord.order(record: r, &orders) }
        plan.latencyRegions = table.regions
        plan.latencyRows = table.rows
        return plan
    }
}
