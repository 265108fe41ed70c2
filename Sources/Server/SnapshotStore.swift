import Atomics
import CSocket
import Engine
import NIOConcurrencyHelpers

/// Hands the current serving snapshot to workers. Publishing (control plane) takes a lock and bumps a
/// generation counter; a worker compares the counter once per batch (one relaxed atomic load) and only
/// fetches the new snapshot when it changed, so the query path takes no lock in the steady state and
/// does not bounce a shared reference count between cores (DESIGN.md §3).
public final class SnapshotStore: Sendable {
    private let generationCounter = ManagedAtomic<UInt64>(0)
    private let box: NIOLockedValueBox<Snapshot>

    public init(_ initial: Snapshot) {
        box = NIOLockedValueBox(initial)
    }

    /// Replaces the snapshot whole; workers pick it up at their next batch.
    public func publish(_ snapshot: Snapshot) {
        box.withLockedValue { $0 = snapshot }
        generationCounter.wrappingIncrement(ordering: .releasing)
    }

    @inline(__always) public var generation: UInt64 { generationCounter.load(ordering: .acquiring) }

    /// The current snapshot and its generation (takes the lock: call only when the generation moved).
    public func current() -> (Snapshot, UInt64) {
        let generation = generationCounter.load(ordering: .acquiring)
        return (box.withLockedValue { $0 }, generation)
    }
}

/// Hands heap memory freed after loading back to the kernel (glibc `malloc_trim`): loading builds
/// large temporary tables, and without this the process keeps their pages resident.
public func releaseFreedMemory() { msock_release_free_memory() }
