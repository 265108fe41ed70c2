import Atomics
import DNSWire

/// A sampled GSLB decision, fixed-size so that recording it does not allocate.
public struct DecisionRecord: Sendable {
    public var nanoseconds: UInt64 = 0
    public var qtype: UInt16 = 0
    public var service: Int32 = -1
    public var pool: Int32 = -1
    public var scope: UInt8 = 0
    /// Client (ECS address if present, else the packet source): family 0/4/6 and address bits.
    public var family: UInt8 = 0
    public var address: UInt128 = 0
    /// ECS SOURCE PREFIX-LENGTH, or -1 without ECS.
    public var ecsSource: Int16 = -1
    public var qnameLength: UInt8 = 0
    /// The question name as sent (wire form, up to 255 octets).
    public var qname:
        (
            UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
            UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
            UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
            UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64
        ) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    public init() {}

    /// The question name's wire bytes.
    public var qnameBytes: [UInt8] {
        withUnsafeBytes(of: qname) { Array($0.prefix(Int(qnameLength))) }
    }
}

/// A single-producer single-consumer ring of decision records: the worker writes (never blocks: when
/// the ring is full the record is dropped and counted), the log writer thread reads.
public final class DecisionRing: @unchecked Sendable {
    public let capacity: Int
    let slots: UnsafeMutablePointer<DecisionRecord>
    let head = ManagedAtomic<Int>(0) // next slot to write (producer)
    let tail = ManagedAtomic<Int>(0) // next slot to read (consumer)
    public let dropped = ManagedAtomic<Int>(0)
    /// Record one GSLB decision in `sample` (1 = all).
    public let sample: Int
    var countdown: Int

    public init(capacity: Int = 4096, sample: Int) {
        self.capacity = capacity
        self.sample = max(1, sample)
        countdown = 1
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: DecisionRecord(), count: capacity)
    }

    deinit { slots.deallocate() }

    /// Producer side: whether this decision is sampled (cheap countdown, no randomness needed).
    @inline(__always) public func shouldSample() -> Bool {
        countdown -= 1
        if countdown > 0 { return false }
        countdown = sample
        return true
    }

    @inline(__always) public func push(_ record: DecisionRecord) {
        let h = head.load(ordering: .relaxed)
        if h - tail.load(ordering: .acquiring) >= capacity {
            dropped.wrappingIncrement(ordering: .relaxed)
            return
        }
        slots[h % capacity] = record
        head.store(h + 1, ordering: .releasing)
    }

    /// Consumer side: takes every record available now.
    public func drain(_ body: (DecisionRecord) -> Void) {
        let t = tail.load(ordering: .relaxed)
        let h = head.load(ordering: .acquiring)
        var i = t
        while i < h {
            body(slots[i % capacity])
            i += 1
        }
        tail.store(h, ordering: .releasing)
    }
}
