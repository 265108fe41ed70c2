/// `failover`: one fixed order for every client (`order`, else the pools as declared), then the fallback.
struct FailoverOrderBuilder: OrderBuilder {
    func build(_ orders: inout RegionOrders, _ inputs: OrderInputs) throws -> OrderPlan {
        let spec = orders.spec
        let order = spec.order.isEmpty ? orders.declaredOrder : try orders.resolve(spec.order, "order")
        let id = orders.intern(orders.withFallback(order))
        return OrderPlan(kind: .fixed(id), unknownClientOrder: id)
    }
}
