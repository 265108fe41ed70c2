import Synchronization

/// Hands the current serving snapshot to workers. Publishing (control plane) takes a lock and bumps a
/// generation counter; a worker compares the counter once per batch (one acquiring atomic load) and
/// only fetches the new snapshot when it changed, so the query path takes no lock in the steady state
/// and does not bounce a shared reference count between cores (DESIGN.md §3).
///
/// Invariant: the counter is bumped (releasing) after the new snapshot is stored, so a worker that
/// sees generation g and then calls `current()` gets the snapshot of generation g or a newer one.
public final class SnapshotStore: Sendable {
    /// Bumped by every publish; visible to inlined code so that `generation` inlines into the
    /// workers (another module).
    @usableFromInline let generationCounter = Atomic<UInt64>(0)
    private let box: Mutex<Snapshot>

    public init(_ initial: Snapshot) {
        box = Mutex(initial)
    }

    /// Replaces the snapshot whole; workers pick it up at their next batch.
    public func publish(_ snapshot: Snapshot) {
        box.withLock { $0 = snapshot }
        generationCounter.wrappingAdd(1, ordering: .releasing)
    }

    /// The generation of the current snapshot: one acquiring atomic load, no lock.
    @inlinable public var generation: UInt64 { generationCounter.load(ordering: .acquiring) }

    /// The current snapshot and its generation (takes the lock: call only when the generation moved).
    public func current() -> (Snapshot, UInt64) {
        let generation = generationCounter.load(ordering: .acquiring)
        return (box.withLock { $0 }, generation)
    }
}
