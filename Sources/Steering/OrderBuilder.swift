import Geo

/// A policy's first stage, compiled: how the service decides, the order for clients it cannot place
/// and, for table policies, the per-family decision partitions (keys are order ids).
struct OrderPlan {
    var kind: DecisionKind
    /// The order for clients without an address (ECS SOURCE PREFIX-LENGTH 0).
    var unknownClientOrder: Int32
    var v4 = PrefixPartition(width: 32, key: -1)
    var v6 = PrefixPartition(width: 128, key: -1)
    /// `latency`: the table's header and rows, kept for explain.
    var latencyRegions: [String] = []
    var latencyRows: [(NetworkEntry, [Double?])] = []
}

/// What an order builder reads besides the service's region orders.
struct OrderInputs {
    let map: ResolvedMap
    /// The service's own region table (`networks`), over the global table and the database.
    let serviceNetworks: [NetworkEntry]
    /// The build's geo sources and the partitions earlier services of the build made.
    let tables: DecisionTableCache
}

/// Builds one policy's first stage (control plane): interns the region orders its decisions name
/// into `orders` and says how a client is mapped to one. One conforming type per `PolicyKind`.
protocol OrderBuilder {
    func build(_ orders: inout RegionOrders, _ inputs: OrderInputs) throws -> OrderPlan
}

extension PolicyKind {
    /// The builder of this policy's first stage.
    var orderBuilder: any OrderBuilder {
        switch self {
        case .geo: return GeoOrderBuilder()
        case .nearest: return NearestOrderBuilder()
        case .latency: return LatencyOrderBuilder()
        case .failover: return FailoverOrderBuilder()
        case .weighted: return WeightedOrderBuilder()
        case .all: return RoundRobinOrderBuilder()
        case .hash: return HashOrderBuilder()
        }
    }
}
