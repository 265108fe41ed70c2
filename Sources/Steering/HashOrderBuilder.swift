/// `hash`: rendezvous hashing on the client subnet at query time (`CompiledService.decide`); clients
/// without an address take the declared order.
struct HashOrderBuilder: OrderBuilder {
    func build(_ orders: inout RegionOrders, _ inputs: OrderInputs) throws -> OrderPlan {
        OrderPlan(kind: .hash, unknownClientOrder: orders.intern(orders.declaredOrder))
    }
}
