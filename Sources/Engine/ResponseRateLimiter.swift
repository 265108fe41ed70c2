import Atomics
import DNSWire
import Glibc

/// One worker's response-rate-limiting table (`RateLimitPolicy` says what is counted): a fixed number
/// of entries allocated when the worker starts, so that memory is bounded whatever the number of
/// sources and nothing is allocated or locked per query.
///
/// An entry is one (client network, response class) with a token bucket: `rate` tokens, refilled at
/// `rate` per second (whole seconds, as Knot does), one taken per response; a response finding none is
/// limited. Entries live in sets of four (one 64-octet cache line) chosen by a keyed hash; a new key
/// takes the set's empty or least recently used entry. An attacker who floods many classes evicts
/// entries, which can only restart their buckets full: eviction never limits anyone.
public final class ResponseRateLimiter {
    /// 16 octets, four to a cache line.
    struct Entry {
        /// The keyed hash of (network, class); 0 = empty.
        var key: UInt64
        /// When the bucket was last refilled (seconds, the processor's clock).
        var stamp: UInt32
        var tokens: Int16
        /// Bit 0: the entry is being limited: set when a response finds no token, cleared when a whole
        /// second passes without a response (the start/stop events).
        var flags: UInt16
    }

    static let ways = 4
    let entries: UnsafeMutablePointer<Entry>
    let setMask: UInt64
    /// Entries in the table.
    public let capacity: Int
    /// Limited responses seen, for the slip rhythm.
    var slipCounter: UInt32 = 0
    /// Key of the hash: per table, so an outsider cannot aim keys at one set.
    let seed: UInt64
    /// Where the table tells when a network starts or stops being limited (drained by the log).
    public let events: RateLimitEventRing

    /// `capacity` is rounded up to a power of two (at least 64 entries). The memory comes zeroed from
    /// calloc: untouched pages cost nothing until used.
    public init(capacity: Int, seed: UInt64) {
        var n = 64
        while n < capacity { n <<= 1 }
        self.capacity = n
        setMask = UInt64(n / ResponseRateLimiter.ways - 1)
        entries = calloc(n, MemoryLayout<Entry>.stride)!.bindMemory(to: Entry.self, capacity: n)
        self.seed = seed | 1
        events = RateLimitEventRing()
    }

    deinit { free(entries) }

    /// Bytes the table takes.
    public var memory: Int { capacity * MemoryLayout<Entry>.stride }

    /// The key of a response class for network (high, low): `kind` (see `ResponseClass`), the zone,
    /// the node the answer came from (or -1), the query type, and for answers that hold only for a
    /// part of the ECS client's network, that part mixed into one word (`ecsBlock`, 0 otherwise).
    @inline(__always)
    func key(network: (UInt64, UInt64), kind: UInt8, zone: Int32, node: Int32, qtype: UInt16, ecsBlock: UInt64) -> UInt64 {
        // two multiply-xor rounds under the per-table seed: for one network, distinct classes give
        // distinct keys (each round is a bijection of the class word), and without the seed an
        // outsider cannot aim keys at one set or at another network's keys
        let network = (network.0 ^ seed) &* 0x9E37_79B9_7F4A_7C15 ^ network.1
        let klass = UInt64(kind) << 56 | UInt64(qtype) << 32 | UInt64(UInt32(bitPattern: zone)) ^ UInt64(UInt32(bitPattern: node)) << 40
        let h = (network ^ klass ^ ecsBlock) &* 0x27D4_EB2F_1656_67C5
        return (h ^ (h >> 32)) | 1 // never 0, the empty key
    }

    /// Takes a token from the entry of `key` at `now` (seconds): true when the response may go out.
    /// Sets `transition` when the entry starts (+1) or stops (-1) being limited, for the caller's event.
    @inline(__always)
    func take(key: UInt64, now: UInt32, rate: Int32, transition: inout Int8) -> Bool {
        let set = entries + Int(truncatingIfNeeded: ((key >> 40) & setMask) &* UInt64(ResponseRateLimiter.ways))
        var entry = set
        if set[0].key != key {
            if set[1].key == key {
                entry = set + 1
            } else if set[2].key == key {
                entry = set + 2
            } else if set[3].key == key {
                entry = set + 3
            } else {
                entry = replace(set, key: key, now: now, rate: rate)
            }
        }
        let elapsed = now &- entry.pointee.stamp
        if elapsed != 0 && elapsed < UInt32.max / 2 {
            // a whole second without a response: the network is no longer being limited
            if elapsed >= 2 && entry.pointee.flags & 1 != 0 {
                entry.pointee.flags = 0
                transition = -1
            }
            let refill = Int32(clamping: Int64(elapsed) * Int64(rate))
            entry.pointee.tokens = Int16(clamping: min(rate, Int32(entry.pointee.tokens) + refill))
            entry.pointee.stamp = now
        }
        if entry.pointee.tokens > 0 {
            entry.pointee.tokens &-= 1
            return true
        }
        if entry.pointee.flags & 1 == 0 {
            entry.pointee.flags = 1
            transition = 1
        }
        return false
    }

    /// A new key in `set`: the set's empty entry, else its least recently refilled one, with a full bucket.
    @inline(never)
    func replace(_ set: UnsafeMutablePointer<Entry>, key: UInt64, now: UInt32, rate: Int32) -> UnsafeMutablePointer<Entry> {
        var entry = set
        for i in 0..<ResponseRateLimiter.ways {
            if set[i].key == 0 {
                entry = set + i
                break
            }
            let older = entry.pointee.stamp &- set[i].stamp
            if older > 0 && older < UInt32.max / 2 { entry = set + i }
        }
        entry.pointee = Entry(key: key, stamp: now, tokens: Int16(clamping: rate), flags: 0)
        return entry
    }

    /// Whether a limited response slips: the first of the worker's limited responses, then every
    /// `slip`-th; 0 never (all dropped), 1 always.
    @inline(__always)
    func slips(_ slip: UInt32) -> Bool {
        guard slip > 0 else { return false }
        let n = slipCounter
        slipCounter = n + 1 >= slip ? 0 : n + 1
        return n == 0
    }

    /// Records a start (+1) or stop (-1) for the log.
    @inline(never)
    func record(_ transition: Int8, network: (UInt64, UInt64), family: IPAddress.Family, kind: UInt8, now: UInt32) {
        events.push(RateLimitEvent(started: transition > 0, family: family, network: network, kind: kind, seconds: now))
    }
}

/// The response classes counted apart (as Knot's and BIND's RRL do): an answer or NODATA counts per
/// (name, type) — by the zone node it came from, so every name a wildcard synthesises shares the
/// wildcard's count; NXDOMAIN, referrals and errors count per zone, so that random names do not each
/// get a fresh allowance.
public enum ResponseClass {
    public static let answer: UInt8 = 0
    public static let nxdomain: UInt8 = 1
    public static let referral: UInt8 = 2
    public static let error: UInt8 = 3

    /// The class of a response from its RCODE and flags (`zone` < 0: no zone was looked up).
    @inline(__always)
    static func of(rcode: UInt16, flags: UInt16, zone: Int32) -> UInt8 {
        if zone < 0 || (rcode != RCode.noError && rcode != RCode.nxDomain) { return error }
        if rcode == RCode.nxDomain { return nxdomain }
        return flags & HeaderFlag.aa != 0 ? answer : referral
    }

    public static func name(_ kind: UInt8) -> String {
        switch kind {
        case answer: return "answers"
        case nxdomain: return "NXDOMAIN"
        case referral: return "referrals"
        default: return "errors"
        }
    }
}

/// A network starting or stopping being limited, for the log.
public struct RateLimitEvent: Sendable {
    public var started: Bool
    public var family: IPAddress.Family
    public var network: (UInt64, UInt64)
    public var kind: UInt8
    public var seconds: UInt32

    /// The network as text, e.g. 192.0.2.0/24 (`prefix`: the policy's length for the family).
    public func text(prefix: Int) -> String { "\(IPAddress(family: family, leftAlignedWords: network))/\(prefix)" }
}

/// A single-producer single-consumer ring of `RateLimitEvent`s: the worker writes (never blocks; a
/// full ring drops the event and counts it), the log reads.
public final class RateLimitEventRing: @unchecked Sendable {
    public static let capacity = 1024
    let slots: UnsafeMutablePointer<RateLimitEvent>
    let head = ManagedAtomic<Int>(0)
    let tail = ManagedAtomic<Int>(0)
    let dropped = ManagedAtomic<Int>(0)
    /// Events lost because the ring was full, since start.
    public var droppedCount: Int { dropped.load(ordering: .relaxed) }

    init() {
        slots = .allocate(capacity: RateLimitEventRing.capacity)
        slots.initialize(
            repeating: RateLimitEvent(started: false, family: .v4, network: (0, 0), kind: 0, seconds: 0),
            count: RateLimitEventRing.capacity)
    }

    deinit { slots.deallocate() }

    @inline(__always) func push(_ event: RateLimitEvent) {
        let h = head.load(ordering: .relaxed)
        if h - tail.load(ordering: .acquiring) >= RateLimitEventRing.capacity {
            dropped.wrappingIncrement(ordering: .relaxed)
            return
        }
        slots[h % RateLimitEventRing.capacity] = event
        head.store(h + 1, ordering: .releasing)
    }

    /// Consumer side: takes every event available now.
    public func drain(_ body: (RateLimitEvent) -> Void) {
        let t = tail.load(ordering: .relaxed)
        let h = head.load(ordering: .acquiring)
        var i = t
        while i < h {
            body(slots[i % RateLimitEventRing.capacity])
            i += 1
        }
        tail.store(h, ordering: .releasing)
    }
}
