import Health
import Steering

/// The health endpoints of one snapshot's services, numbered: the ids `ServiceCompiler` gave them,
/// made dense over the snapshot. Services compiled in one build share an `EndpointIndex` and keep its
/// ids unchanged; services compiled apart (tests, tools) each bring their own index, whose ids are
/// shifted past the previous ones.
///
/// Invariant: `keys[base(s) + id]` is the key of service s's endpoint `id`; `bases` has one entry per
/// service.
public struct EndpointCatalog: Sendable {
    /// Every endpoint key by snapshot-wide id (a key compiled apart twice appears twice).
    public let keys: [EndpointKey]
    private let bases: [Int]

    public init(services: [CompiledService]) {
        var keys: [EndpointKey] = []
        var baseOf: [ObjectIdentifier: Int] = [:]
        var bases: [Int] = []
        for service in services {
            let index = service.endpoints.index
            if let base = baseOf[ObjectIdentifier(index)] {
                bases.append(base)
            } else {
                baseOf[ObjectIdentifier(index)] = keys.count
                bases.append(keys.count)
                keys += index.keys
            }
        }
        self.keys = keys
        self.bases = bases
    }

    /// The snapshot-wide id of service s's endpoint `id` (-1 stays -1: no endpoint).
    @inline(__always) public func id(service s: Int, _ id: Int32) -> Int {
        id < 0 ? -1 : bases[s] + Int(id)
    }

    /// Ids of pool p of `service` (service s of the snapshot): its addresses in compiled order, then
    /// its CNAME target.
    public func ids(service s: Int, _ service: CompiledService, pool p: Int) -> [Int] {
        let pool = service.pools[p]
        let start = Int(pool.weightOffset)
        var ids = (start..<start + Int(pool.aCount + pool.aaaaCount)).map { id(service: s, service.endpoints.addresses[$0]) }
        let target = id(service: s, service.endpoints.targets[p])
        if target >= 0 { ids.append(target) }
        return ids
    }

    /// The endpoints to probe: each (address or CNAME target, check) of a pool with a check, once,
    /// sorted.
    public var monitored: [Endpoint] {
        Set(keys.compactMap { key in key.check.map { Endpoint(address: key.address, check: $0) } }).sorted()
    }
}
