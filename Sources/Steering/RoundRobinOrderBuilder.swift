/// `all` (round robin): no per-client order; every healthy pool answers, starting at a rotating one
/// (`CompiledService.writeAll`). The declared order is kept as the order for unknown clients.
struct RoundRobinOrderBuilder: OrderBuilder {
    func build(_ orders: inout RegionOrders, _ inputs: OrderInputs) throws -> OrderPlan {
        OrderPlan(kind: .all, unknownClientOrder: orders.intern(orders.declaredOrder))
    }
}
