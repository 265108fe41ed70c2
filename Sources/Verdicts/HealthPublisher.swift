import Engine
import Health
import Steering
import Synchronization

/// Publishes health into the serving snapshot (DESIGN.md §1.5: health is data): the monitor's states
/// (or, in an NS set on etcd, the set's quorum verdicts) and the admin overrides become a `VerdictTable` over the snapshot's `EndpointCatalog`, then the
/// snapshot's `HealthTable`, and a snapshot that shares every other table replaces the current one.
/// Runs on the monitor's threads (one call per coalesced batch of transitions) and the control API;
/// the query path only sees the snapshot swap.
///
/// Invariant: every publication reads the store's snapshot and writes its successor under
/// `publishLock`, and a reload installs under the same lock, so a health update never overwrites a
/// newer reloaded snapshot.
public final class HealthPublisher: Sendable {
    public let store: SnapshotStore
    public let overrides: OverrideStore
    private let states = Mutex<HealthMonitor.States>([:])
    /// An NS set's quorum verdicts, which replace the monitor's states when set (Cluster).
    private let shared = Mutex<[Endpoint: Bool]?>(nil)
    private let publishLock = Mutex<Void>(())

    public init(store: SnapshotStore, overrides: OverrideStore) {
        self.store = store
        self.overrides = overrides
    }

    /// Records new endpoint states and publishes.
    public func update(states newStates: HealthMonitor.States) {
        states.withLock { $0 = newStates }
        publish()
    }

    /// Records the NS set's quorum verdicts (nil: back to this instance's own) and publishes.
    public func update(shared newShared: [Endpoint: Bool]?) {
        shared.withLock { $0 = newShared }
        publish()
    }

    /// The NS set's quorum verdicts in force, nil when answers follow this instance's own.
    public var sharedVerdicts: [Endpoint: Bool]? { shared.withLock { $0 } }

    /// Rebuilds the health table from the current states and overrides and swaps the snapshot.
    public func publish() {
        publishLock.withLock { _ in
            let (snapshot, _) = store.current()
            store.publish(snapshot.with(health: table(for: snapshot.services)))
        }
    }

    /// Installs a reloaded snapshot with the current health applied to its services.
    public func install(_ snapshot: Snapshot, states newStates: HealthMonitor.States?) {
        publishLock.withLock { _ in
            if let newStates { states.withLock { $0 = newStates } }
            store.publish(snapshot.with(health: table(for: snapshot.services)))
        }
    }

    /// The health table for `services` from the current states and overrides.
    public func table(for services: [CompiledService]) -> HealthTable {
        let catalog = EndpointCatalog(services: services)
        let verdicts = VerdictTable(catalog: catalog, states: endpointStates, overrides: overrides.current, shared: sharedVerdicts)
        return verdicts.healthTable(for: services, catalog: catalog)
    }

    public var endpointStates: HealthMonitor.States { states.withLock { $0 } }
}
