import Engine
import Health
import Steering

extension VerdictTable {
    /// The data plane's health table for `services` (the services `catalog` was made from), per
    /// DESIGN.md §5:
    /// - an address is up per `isUp` (the last-resort pool's addresses always are);
    /// - a pool of addresses is up when at least `upShare` of them are, and at least one; a CNAME
    ///   pool when its target is;
    /// - a region override (for this service, else for every service), else the service override,
    ///   forces the pool: up, or down for down and drain;
    /// - a service is degraded when one of its regular pools is down.
    public func healthTable(for services: [CompiledService], catalog: EndpointCatalog) -> HealthTable {
        var up: [[Bool]] = []
        var addressUp: [[Bool]] = []
        var degraded: [Bool] = []
        for (s, service) in services.enumerated() {
            let name = service.spec.name
            let serviceOverride = overrides[OverrideTarget(scope: .service, name: name)]
            var poolUp = [Bool](repeating: true, count: service.pools.count)
            var addresses = [Bool](repeating: true, count: service.weights.count)
            var anyDown = false
            for p in 0..<service.regularPools {
                let pool = service.pools[p]
                let start = Int(pool.weightOffset)
                let count = Int(pool.aCount + pool.aaaaCount)
                var upCount = 0
                for a in start..<start + count {
                    let ok = isUp(catalog.id(service: s, service.endpoints.addresses[a]))
                    addresses[a] = ok
                    if ok { upCount += 1 }
                }
                var isPoolUp =
                    count == 0
                    ? isUp(catalog.id(service: s, service.endpoints.targets[p]))
                    : Double(upCount) >= service.spec.upShare * Double(count) && upCount > 0
                let forced =
                    overrides[OverrideTarget(scope: .region, name: pool.region, service: name)]
                    ?? overrides[OverrideTarget(scope: .region, name: pool.region)] ?? serviceOverride
                switch forced {
                case .up?: isPoolUp = true
                case .down?, .drain?: isPoolUp = false
                case nil: break
                }
                poolUp[p] = isPoolUp
                if !isPoolUp { anyDown = true }
            }
            up.append(poolUp)
            addressUp.append(addresses)
            degraded.append(anyDown)
        }
        return HealthTable(up: up, addressUp: addressUp, degraded: degraded)
    }
}
