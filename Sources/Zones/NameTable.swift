import DNSWire

/// Interned wire names for the zone compiler: ids in insertion order, the names' bytes back to back
/// (in id order, so they are the compiled zone's name block as they stand), and an open-addressing
/// index keyed by `WireName.hash`. Lookups take a pointer and a length, so a name suffix or a
/// wildcard built in scratch space is looked up without an array of its own.
struct NameTable {
    /// All names, back to back, in id order.
    private(set) var bytes: [UInt8] = []
    /// Start of each name in `bytes`.
    private(set) var offsets: [Int32] = []
    /// Length of each name.
    private(set) var lengths: [UInt16] = []
    private var hashes: [UInt64] = []
    /// 0 when empty, else the hash's upper 32 bits above `id + 1`: a probe reads one cache line
    /// and touches a name's bytes only when the tags match.
    private var slots: [UInt64]
    private var shift: Int

    init(expectedCount: Int, expectedBytes: Int = 0) {
        var capacity = 16
        while capacity < expectedCount * 2 { capacity <<= 1 }
        slots = [UInt64](repeating: 0, count: capacity)
        shift = 64 - capacity.trailingZeroBitCount
        bytes.reserveCapacity(expectedBytes)
        offsets.reserveCapacity(expectedCount)
        lengths.reserveCapacity(expectedCount)
        hashes.reserveCapacity(expectedCount)
    }

    var count: Int { offsets.count }

    /// The id of `name`, or -1.
    func find(_ name: UnsafePointer<UInt8>, _ length: Int) -> Int32 {
        find(name, length, hash: WireName.hash(name, length: length)).id
    }

    private func find(_ name: UnsafePointer<UInt8>, _ length: Int, hash: UInt64) -> (id: Int32, slot: Int) {
        var slot = Self.slot(hash, shift)
        let mask = slots.count - 1
        let tag = hash & 0xFFFF_FFFF_0000_0000
        return slots.withUnsafeBufferPointer { slots in
            while true {
                let entry = slots[slot]
                if entry == 0 { return (-1, slot) }
                if entry & 0xFFFF_FFFF_0000_0000 == tag {
                    let i = Int(entry & 0xFFFF_FFFF) - 1
                    let same = bytes.withUnsafeBufferPointer { all in
                        WireName.equal(all.baseAddress! + Int(offsets[i]), Int(lengths[i]), name, length)
                    }
                    if same { return (Int32(i), slot) }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// The id of `name`, added when new. `name` must not point into this table.
    mutating func intern(_ name: UnsafePointer<UInt8>, _ length: Int) -> Int32 {
        let hash = WireName.hash(name, length: length)
        let (existing, slot) = find(name, length, hash: hash)
        if existing >= 0 { return existing }
        let id = Int32(offsets.count)
        offsets.append(Int32(bytes.count))
        lengths.append(UInt16(length))
        hashes.append(hash)
        bytes.append(contentsOf: UnsafeBufferPointer(start: name, count: length))
        slots[slot] = hash & 0xFFFF_FFFF_0000_0000 | UInt64(id + 1)
        if offsets.count * 2 > slots.count { grow() }
        return id
    }

    /// Calls `body` with the bytes of name `id`.
    func withName<R>(_ id: Int, _ body: (UnsafePointer<UInt8>, Int) throws -> R) rethrows -> R {
        try bytes.withUnsafeBufferPointer { try body($0.baseAddress! + Int(offsets[id]), Int(lengths[id])) }
    }

    /// Name `id` as an array (diagnostics and the few per-set checks).
    func name(_ id: Int) -> [UInt8] {
        Array(bytes[Int(offsets[id])..<(Int(offsets[id]) + Int(lengths[id]))])
    }

    /// Home slot: the top bits of a Fibonacci multiply of the hash (chosen when `WireName.hash` was
    /// FNV-1a, whose low bits are poorly mixed; the finaliser it has now makes this belt and braces).
    @inline(__always)
    private static func slot(_ hash: UInt64, _ shift: Int) -> Int {
        Int(truncatingIfNeeded: (hash &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
    }

    private mutating func grow() {
        let capacity = slots.count * 2
        slots = [UInt64](repeating: 0, count: capacity)
        shift = 64 - capacity.trailingZeroBitCount
        let mask = capacity - 1
        for (i, hash) in hashes.enumerated() {
            var slot = Self.slot(hash, shift)
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = hash & 0xFFFF_FFFF_0000_0000 | UInt64(i + 1)
        }
    }
}
