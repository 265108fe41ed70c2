import Atomics

/// Counters of one worker: a single writer (the worker thread) bumps them with relaxed atomic
/// load+store (plain moves on x86-64, no locked instruction, no contended cache line); the metrics
/// endpoint reads them from another thread and sums the workers (DESIGN.md §1.4).
public final class WorkerCounters: @unchecked Sendable {
    /// Slot layout.
    public enum Slot {
        public static let queries = 0
        public static let dropped = 1
        public static let truncated = 2
        public static let badVersion = 3
        public static let clientSubnet = 4
        public static let udp = 5
        public static let tcp = 6
        /// RCODE r (0...15) at rcodeBase + r.
        public static let rcodeBase = 8
        /// QTYPE t (0...255) at qtypeBase + t; larger types at qtypeOther.
        public static let qtypeBase = 24
        public static let qtypeOther = 280
        /// GSLB answers: service s (< maxServices), pool p (< maxPools) at gslbBase + s * maxPools + p.
        public static let gslbBase = 288
        public static let maxServices = 256
        public static let maxPools = 16
        /// Cookies and response rate limiting, after the GSLB block.
        public static let defenceBase = gslbBase + maxServices * maxPools
        /// Queries whose COOKIE option was answered with a new server cookie (client cookie alone, or a
        /// server cookie not valid), and those whose server cookie was valid (RFC 7873 §5.2).
        public static let cookieNew = defenceBase
        public static let cookieValid = defenceBase + 1
        /// Responses sent with RCODE BADCOOKIE.
        public static let cookieBadCookie = defenceBase + 2
        /// UDP responses over the rate limit (also counted in dry-run mode, where they are sent), and
        /// of those the ones sent truncated (slipped) and the ones dropped.
        public static let rrlLimited = defenceBase + 3
        public static let rrlSlipped = defenceBase + 4
        public static let rrlDropped = defenceBase + 5
        public static let count = defenceBase + 6
    }

    let slots: UnsafeMutablePointer<UInt64.AtomicRepresentation>

    public init() {
        slots = .allocate(capacity: Slot.count)
        slots.initialize(repeating: UInt64.AtomicRepresentation(0), count: Slot.count)
    }

    deinit { slots.deallocate() }

    @inline(__always)
    public func bump(_ slot: Int) {
        let p = slots + slot
        let v = UInt64.AtomicRepresentation.atomicLoad(at: p, ordering: .relaxed)
        UInt64.AtomicRepresentation.atomicStore(v &+ 1, at: p, ordering: .relaxed)
    }

    @inline(__always)
    public func value(_ slot: Int) -> UInt64 {
        UInt64.AtomicRepresentation.atomicLoad(at: slots + slot, ordering: .relaxed)
    }

    @inline(__always) public func bumpRCode(_ rcode: UInt16) { bump(Slot.rcodeBase + Int(rcode & 0x0F)) }
    @inline(__always) public func bumpQType(_ qtype: UInt16) { bump(qtype < 256 ? Slot.qtypeBase + Int(qtype) : Slot.qtypeOther) }
    @inline(__always) public func bumpAnswer(service: Int, pool: Int) {
        if service < Slot.maxServices && pool < Slot.maxPools { bump(Slot.gslbBase + service * Slot.maxPools + pool) }
    }
}
