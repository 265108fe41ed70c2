import Engine
import Geo
import Health
import NIOConcurrencyHelpers
import Server
import Steering

/// Turns endpoint states and admin overrides into the data plane's `HealthTable` and publishes a
/// new snapshot (DESIGN.md §1.5: health is data). Runs on the monitor's threads and the control API;
/// the query path only sees the snapshot swap.
public final class HealthPublisher: Sendable {
    public let store: SnapshotStore
    public let overrides: OverrideStore
    let states = NIOLockedValueBox<HealthMonitor.States>([:])
    /// Serializes publishing so that a health update never overwrites a newer reloaded snapshot.
    let publishLock = NIOLock()

    public init(store: SnapshotStore, overrides: OverrideStore) {
        self.store = store
        self.overrides = overrides
    }

    /// Endpoints to probe for these services: each (address or CNAME target, check) once.
    public static func endpoints(of services: [CompiledService]) -> [Endpoint] {
        var set = Set<Endpoint>()
        for service in services {
            for pool in service.spec.pools {
                guard let check = pool.check else { continue }
                for a in pool.addresses { set.insert(Endpoint(address: a.text, check: check)) }
                if let target = pool.cname { set.insert(Endpoint(address: String(target.trimmingSuffix(".")), check: check)) }
            }
        }
        return set.sorted()
    }

    /// Records new endpoint states and publishes.
    public func update(states newStates: HealthMonitor.States) {
        states.withLockedValue { $0 = newStates }
        publish()
    }

    /// Rebuilds the health table from the current states and overrides and swaps the snapshot.
    public func publish() {
        publishLock.withLock {
            let (snapshot, _) = store.current()
            store.publish(snapshot.with(health: table(for: snapshot.services)))
        }
    }

    /// Installs a reloaded snapshot with the current health applied to its services.
    public func install(_ snapshot: Snapshot, states newStates: HealthMonitor.States?) {
        publishLock.withLock {
            if let newStates { states.withLockedValue { $0 = newStates } }
            store.publish(snapshot.with(health: table(for: snapshot.services)))
        }
    }

    /// The health table for `services` (also used by status and explain).
    public func table(for services: [CompiledService]) -> HealthTable {
        let current = states.withLockedValue { $0 }
        let forced = overrides.current
        var up: [[Bool]] = []
        var addressUp: [[Bool]] = []
        var degraded: [Bool] = []
        for service in services {
            let serviceOverride = forced[OverrideTarget(scope: .service, name: service.spec.name)]
            var poolUp = [Bool](repeating: true, count: service.pools.count)
            var addresses = [Bool](repeating: true, count: service.weights.count)
            var anyDown = false
            for (p, pool) in service.spec.pools.enumerated() {
                let compiled = service.pools[p]
                let ordered = HealthPublisher.orderedAddresses(pool)
                var upCount = 0
                for (i, text) in ordered.enumerated() {
                    let ok = addressHealthy(text, check: pool.check, states: current, forced: forced)
                    addresses[Int(compiled.weightOffset) + i] = ok
                    if ok { upCount += 1 }
                }
                var isUp: Bool
                if ordered.isEmpty {
                    // a CNAME pool: its target is the endpoint
                    isUp = addressHealthy(String((pool.cname ?? "").trimmingSuffix(".")), check: pool.check, states: current, forced: forced)
                } else {
                    isUp = Double(upCount) >= service.spec.upShare * Double(ordered.count) && upCount > 0
                }
                let regionOverride = forced[OverrideTarget(scope: .region, name: pool.region, service: service.spec.name)]
                    ?? forced[OverrideTarget(scope: .region, name: pool.region)] ?? serviceOverride
                switch regionOverride {
                case .up?: isUp = true
                case .down?, .drain?: isUp = false
                case nil: break
                }
                poolUp[p] = isUp
                if !isUp { anyDown = true }
            }
            up.append(poolUp)
            addressUp.append(addresses)
            degraded.append(anyDown)
        }
        return HealthTable(up: up, addressUp: addressUp, degraded: degraded)
    }

    func addressHealthy(_ address: String, check: String?, states: HealthMonitor.States,
                        forced: [OverrideTarget: OverrideState]) -> Bool {
        switch forced[OverrideTarget(scope: .endpoint, name: address)] {
        case .up?: return true
        case .down?, .drain?: return false
        case nil: break
        }
        guard let check, let state = states[Endpoint(address: address, check: check)] else { return true }
        return state.status != .down // unknown (not probed yet) counts as up
    }

    /// A pool's addresses in the compiled order: IPv4 first, then IPv6, each in declared order.
    public static func orderedAddresses(_ pool: PoolSpec) -> [String] {
        let v4 = pool.addresses.filter { IPPrefix.parseAddress($0.text)?.0 == 4 }.map(\.text)
        let v6 = pool.addresses.filter { IPPrefix.parseAddress($0.text)?.0 == 6 }.map(\.text)
        return v4 + v6
    }

    public var endpointStates: HealthMonitor.States { states.withLockedValue { $0 } }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> Substring {
        hasSuffix(suffix) ? dropLast(suffix.count) : Substring(self)
    }
}
