import DNSWire
import Geo

/// Compiles service specs into `CompiledService`s (control plane; runs at load and may allocate).
///
/// A compile checks the pools and resolves every region name (`RegionOrders`, `ResolvedMap`), lets
/// the policy's `OrderBuilder` intern the region orders and build the decision tables, and lays out
/// the pools' records (`PoolEncoder`).
public enum ServiceCompiler {
    /// Compiles one service on its own (tests, tools); a configuration's services go through one
    /// `DecisionTableCache` so that services deciding alike share their tables.
    public static func compile(_ spec: ServiceSpec, regions: [RegionSpec], sources: GeoSources) throws -> CompiledService {
        try compile(spec, regions: regions, tables: DecisionTableCache(sources: sources))
    }

    /// Compiles `spec` against `tables.sources`, taking its decision partitions from `tables` when an
    /// earlier service of the same build produced identical ones.
    public static func compile(_ spec: ServiceSpec, regions: [RegionSpec], tables: DecisionTableCache) throws -> CompiledService {
        guard let name = WireName.fromText(spec.name), name.count > 1 else {
            throw SteeringError(spec.declaredAt, "service name '\(spec.name)' is not a domain name")
        }
        guard !spec.pools.isEmpty else { throw SteeringError(spec.declaredAt, "service \(spec.name) has no pools") }
        var orders = try RegionOrders(spec, regions: regions)
        let map = try ResolvedMap(spec.map, orders)
        let serviceNetworks = try spec.networks.map { try NetworkTable.readRegionTable(path: $0) } ?? []
        let inputs = OrderInputs(map: map, serviceNetworks: serviceNetworks, tables: tables)
        let plan = try spec.policy.orderBuilder.build(&orders, inputs)
        let encoded = try PoolEncoder.encode(spec, endpoints: tables.endpoints)
        return CompiledService(
            spec: spec, name: name, kind: plan.kind, pools: encoded.pools, orders: orders.orders,
            v4: plan.v4, v6: plan.v6, unknownClientOrder: plan.unknownClientOrder,
            weights: encoded.weights, data: encoded.data, degradedData: encoded.degradedData,
            regularPools: spec.pools.count, lastResort: encoded.lastResort,
            sources: tables.sources, serviceNetworks: serviceNetworks,
            latencyRegions: plan.latencyRegions, latencyRows: plan.latencyRows, regions: regions,
            endpoints: ServiceEndpoints(index: tables.endpoints, addresses: encoded.addressEndpoints, targets: encoded.targetEndpoints))
    }
}
