/// The region orders of one service being compiled (control plane): its pools by region, its
/// fallback list, and the distinct orders its decisions name, interned as small ids.
///
/// Invariant: `orders[id]` is the list interned as `id`; ids are handed out in first-use order, so
/// the same calls in the same sequence give the same ids (a compiled service's layout depends on it).
struct RegionOrders {
    let spec: ServiceSpec
    /// The build's regions by name (the first of a repeated name).
    let regionByName: [String: RegionSpec]
    /// Pool index per region name (validated: one pool per region).
    let poolIndex: [String: Int32]
    /// The pools in declared order.
    let declaredOrder: [Int32]
    /// Appended after a decision's own list (`fallback`, else every pool in declared order).
    let fallback: [Int32]
    /// Interned orders, by id.
    private(set) var orders: [[Int32]] = []
    private var ids: [[Int32]: Int32] = [:]

    /// Checks the pools (regions known and distinct, addresses or a CNAME, positive weights) and
    /// resolves the fallback list.
    init(_ spec: ServiceSpec, regions: [RegionSpec]) throws {
        self.spec = spec
        let regionByName = Dictionary(regions.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.regionByName = regionByName
        let at = spec.declaredAt
        var poolIndex: [String: Int32] = [:]
        for (i, pool) in spec.pools.enumerated() {
            let poolAt = pool.declaredAt.isEmpty ? at : pool.declaredAt
            if !regions.isEmpty && regionByName[pool.region] == nil {
                throw SteeringError(poolAt, "unknown region '\(pool.region)' in service \(spec.name)")
            }
            guard poolIndex[pool.region] == nil else { throw SteeringError(at, "two pools for region \(pool.region)") }
            if pool.addresses.isEmpty && pool.cname == nil {
                throw SteeringError(poolAt, "pool \(pool.region) of \(spec.name) has no addresses")
            }
            if !pool.addresses.isEmpty && pool.cname != nil {
                throw SteeringError(poolAt, "pool \(pool.region) has both addresses and a cname")
            }
            guard pool.weight > 0 else { throw SteeringError(pool.declaredAt, "pool weight must be positive") }
            poolIndex[pool.region] = Int32(i)
        }
        self.poolIndex = poolIndex
        declaredOrder = spec.pools.indices.map { Int32($0) }
        fallback = try spec.fallback.map { try Self.resolve($0, "fallback", spec, poolIndex) } ?? declaredOrder
    }

    /// The pool indices of `list`; an unknown region is an error naming `context`.
    func resolve(_ list: RegionList, _ context: String) throws -> [Int32] {
        try Self.resolve(list, context, spec, poolIndex)
    }

    private static func resolve(_ list: RegionList, _ context: String, _ spec: ServiceSpec, _ poolIndex: [String: Int32]) throws -> [Int32] {
        try list.map { r in
            guard let p = poolIndex[r] else {
                throw SteeringError(
                    spec.declaredAt, "unknown region '\(r)' in \(context) of service \(spec.name) (pools: \(spec.pools.map(\.region).joined(separator: ", ")))")
            }
            return p
        }
    }

    /// `list` followed by the fallback pools it lacks; an empty list (static records) stays empty.
    func withFallback(_ list: [Int32]) -> [Int32] {
        guard !list.isEmpty else { return list }
        var out = list
        for p in fallback where !out.contains(p) { out.append(p) }
        return out
    }

    /// The id of `list`, interning it at its first use.
    mutating func intern(_ list: [Int32]) -> Int32 {
        if let id = ids[list] { return id }
        orders.append(list)
        ids[list] = Int32(orders.count - 1)
        return Int32(orders.count - 1)
    }
}
