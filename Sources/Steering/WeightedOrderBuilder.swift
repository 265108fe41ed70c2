/// `weighted`: no per-client order; a pool is drawn by weight per query (`CompiledService.decide`).
/// The declared order is kept as the order for unknown clients.
struct WeightedOrderBuilder: OrderBuilder {
    func build(_ orders: inout RegionOrders, _ inputs: OrderInputs) throws -> OrderPlan {
        OrderPlan(kind: .weighted, unknownClientOrder: orders.intern(orders.declaredOrder))
    }
}
