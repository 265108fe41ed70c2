import DNSWire
import Steering

/// Health as the data plane sees it, per service: one flag per pool (region) and one per address,
/// and whether the service is degraded (some region down: `degraded_ttl` applies). Immutable; the
/// health publisher builds a new table and a new snapshot when a state changes.
/// Stored once, flat, for the query path (no reference counting per query, see `Snapshot.zoneRefs`):
/// service s's pool p at `upFlat[upStart[s] + p]`, its address i at
/// `addressUpFlat[addressUpStart[s] + i]`; each start table has one entry more than there are
/// services (row s ends where row s + 1 starts). Freed with the table.
public final class HealthTable: @unchecked Sendable {
    let upFlat: UnsafeBufferPointer<Bool>
    let upStart: UnsafeBufferPointer<Int>
    let addressUpFlat: UnsafeBufferPointer<Bool>
    let addressUpStart: UnsafeBufferPointer<Int>
    let degradedFlat: UnsafeBufferPointer<Bool>

    /// `up[s][p]`: pool p of service s answers; `addressUp[s][i]`: address i (in `weights` order);
    /// `degraded[s]`: some region of service s is down.
    public init(up: [[Bool]], addressUp: [[Bool]], degraded: [Bool]) {
        precondition(up.count == degraded.count && addressUp.count == degraded.count, "one health row per service")
        upFlat = UnsafeBufferPointer.frozenCopy(of: Array(up.joined()))
        upStart = UnsafeBufferPointer.frozenCopy(of: rowStarts(up))
        addressUpFlat = UnsafeBufferPointer.frozenCopy(of: Array(addressUp.joined()))
        addressUpStart = UnsafeBufferPointer.frozenCopy(of: rowStarts(addressUp))
        degradedFlat = UnsafeBufferPointer.frozenCopy(of: degraded)
    }
    public convenience init(allUp services: [CompiledService]) {
        self.init(
            up: services.map { [Bool](repeating: true, count: $0.pools.count) },
            addressUp: services.map { [Bool](repeating: true, count: $0.weights.count) },
            degraded: services.map { _ in false })
    }

    /// Services the table has rows for.
    public var serviceCount: Int { degradedFlat.count }
    /// Service s's pool flags (a copy: explain, status).
    public func up(_ s: Int) -> [Bool] { Array(upFlat[upStart[s]..<upStart[s + 1]]) }
    public func isUp(service s: Int, pool p: Int) -> Bool { upFlat[upStart[s] + p] }
    public func isAddressUp(service s: Int, address i: Int) -> Bool { addressUpFlat[addressUpStart[s] + i] }
    public func isDegraded(_ s: Int) -> Bool { degradedFlat[s] }
    /// Flags in service s's pool and address rows.
    func rowLengths(_ s: Int) -> (pools: Int, addresses: Int) {
        (upStart[s + 1] - upStart[s], addressUpStart[s + 1] - addressUpStart[s])
    }

    deinit {
        upFlat.deallocate()
        upStart.deallocate()
        addressUpFlat.deallocate()
        addressUpStart.deallocate()
        degradedFlat.deallocate()
    }
}
