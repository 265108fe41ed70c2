/// A complete, sorted partition of one address family's space into ranges, each carrying a key
/// (an index into some table; -1 = nothing; below -1 an IPv4 alias, see `aliasKey`). Range i covers
/// starts[i] ..< starts[i+1] (the last one runs to the top of the space). Invariants: starts[0] == 0,
/// starts strictly increasing, and (after `merged`) no two neighbours carry the same key.
public struct PrefixPartition: Sendable {
    /// The key of an IPv6 range where a MaxMind database points back at its IPv4 data (::/96,
    /// ::ffff:0:0/96, Teredo 2001::/32, 6to4 2002::/16): an address there is decided as the IPv4
    /// address in its 32 bits above the low `shift` bits (`embeddedIPv4`). One range stands for what
    /// would otherwise be a copy of the whole IPv4 partition per alias. 0 <= shift <= 96.
    @inlinable public static func aliasKey(shift: Int) -> Int32 { -2 - Int32(shift) }
    @inlinable public static func isAlias(_ key: Int32) -> Bool { key < -1 }
    @inlinable public static func aliasShift(_ key: Int32) -> Int { Int(-2 - key) }

    /// The IPv4 address an IPv6 `address` under alias `key` stands for.
    @inlinable public static func embeddedIPv4(_ address: UInt128, aliasKey key: Int32) -> UInt128 {
        (address >> UInt128(aliasShift(key))) & 0xFFFF_FFFF
    }

    /// The IPv6 addresses around `address` (under alias `key`) whose embedded IPv4 address lies in
    /// `v4First...v4Last`.
    @inlinable public static func throughAlias(
        _ address: UInt128, aliasKey key: Int32, v4First: UInt128,
        v4Last: UInt128
    ) -> (first: UInt128, last: UInt128) {
        let shift = aliasShift(key)
        let base = address & ~IPPrefix.all(shift + 32)
        return (base | v4First << UInt128(shift), base | v4Last << UInt128(shift) | IPPrefix.all(shift))
    }

    public let width: Int
    public private(set) var starts: [UInt128]
    public private(set) var keys: [Int32]
    /// A 128-bit partition after `indexed()`: a static search tree of fanout 8 over the top 64 bits
    /// of `starts`, its levels root first in one array. Below the root, entry j of a level is the top
    /// half of the first start under it: level L's entry j covers entries 8j ..< 8j+8 of the level
    /// below, and the last level's entry j covers `starts[8j ..< 8j+8]`. Every level is padded to a
    /// multiple of 8 with UInt64.max, so a step's probes stay inside its block of 8 (64 octets)
    /// without a bound check. A lookup reads one block per level (the top levels, ~11 KiB for
    /// GeoLite2's 76,587 IPv6 ranges, stay cached) and one block of `starts`. It replaced a 256 KiB
    /// index on the top 16 bits, which GeoLite2 fills in only 59 buckets of up to 9,852 ranges each
    /// (`make microbench`: 42 % less time, 39 % fewer L1 and 20 % fewer last-level misses per IPv6
    /// lookup). Empty for 32-bit partitions and for partitions of at most 8 ranges.
    public private(set) var tree: [UInt64] = []
    /// Per level of `tree`, root first: its offset in `tree` and its count of real entries.
    public private(set) var treeOffsets: [Int] = []
    public private(set) var treeCounts: [Int] = []
    /// Bits of the first-level index over `packed` for 32-bit partitions at most.
    static let packedBucketBitsMax = 16
    /// A 32-bit partition after `indexed()`: range i packed as `start << 32 | UInt32(bitPattern: key)`,
    /// so that a lookup reads one array, where a range's start, its key and the next range's start
    /// (its end) usually share a cache line (`starts` and `keys` cost two or three misses per query
    /// under load). Empty for 128-bit partitions.
    public private(set) var packed: [UInt64] = []
    /// First-level index over `packed` on the top `32 - packedShift` bits, sized for about eight
    /// ranges (one cache line of `packed`) per bucket: for GeoLite2 continents (~49,000 IPv4 ranges)
    /// 4,096 buckets, 16 KiB, which stay cached where the 256 KiB of `buckets` did not.
    public private(set) var packedBuckets: [Int32] = []
    public private(set) var packedShift: UInt32 = 32

    /// One range covering everything with `key`.
    public init(width: Int, key: Int32 = -1) {
        self.width = width
        starts = [0]
        keys = [key]
    }

    public init(width: Int, starts: [UInt128], keys: [Int32]) {
        precondition(starts.first == 0 && starts.count == keys.count)
        self.width = width
        self.starts = starts
        self.keys = keys
    }

    public var count: Int { starts.count }

    /// Index of the range containing `address`: down `tree` when it is there, else a binary search
    /// (no allocation either way).
    @inlinable
    public func index(of address: UInt128) -> Int {
        if tree.isEmpty && starts.count > 8 { return index(of: address, below: starts.count) }
        let top = UInt64(truncatingIfNeeded: address >> 64)
        var j = 0
        for level in 0..<treeOffsets.count {
            // the last of the block's 8 entries <= top, in three halving steps without branches (the
            // step is added unless top - entry borrows); the first one always is (the entry chosen
            // above it, or the root's first: starts[0]'s top half, 0); padding is <= top only when
            // top == UInt64.max, and then the level's last real entry is the one
            let base = treeOffsets[level] &+ j &* 8
            var i = base
            i &+= 4 &* PrefixPartition.notBelow(top, tree[i &+ 4])
            i &+= 2 &* PrefixPartition.notBelow(top, tree[i &+ 2])
            i &+= PrefixPartition.notBelow(top, tree[i &+ 1])
            j = min(j &* 8 &+ (i &- base), treeCounts[level] &- 1)
        }
        let first = j &* 8
        // the block's first start has a top half <= top's; when equal, its low half may still lie
        // above the address (ranges inside one /64): then the range is further left
        if starts[first] > address { return index(of: address, below: first) }
        // the same halving steps over the block (the last one may be short)
        let last = starts.count &- 1
        var i = first
        if i &+ 4 <= last && starts[i &+ 4] <= address { i &+= 4 }
        if i &+ 2 <= last && starts[i &+ 2] <= address { i &+= 2 }
        if i &+ 1 <= last && starts[i &+ 1] <= address { i &+= 1 }
        return i
    }

    /// 1 when a >= b, else 0, from the borrow of a - b (no branch).
    @inlinable @inline(__always)
    static func notBelow(_ a: UInt64, _ b: UInt64) -> Int {
        1 &- Int(unsafeBitCast(a.subtractingReportingOverflow(b).overflow, to: UInt8.self))
    }

    /// Binary search for the range containing `address` among the first `end` ranges, where
    /// starts[end] > address (or end == count).
    @inlinable
    func index(of address: UInt128, below end: Int) -> Int {
        var lo = 0
        var hi = end - 1
        while lo < hi {
            let mid = (lo + hi + 1) >> 1
            if starts[mid] <= address { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// The key for `address` and the addresses around it that share it. In a range with an alias key
    /// (an IPv6 partition only) that is the key of the embedded IPv4 address in `ipv4`, the partition
    /// the alias points into, and the part of the alias whose embedded addresses share its IPv4 range.
    @inlinable @inline(__always)
    public func resolve(_ address: UInt128, ipv4: PrefixPartition) -> (key: Int32, first: UInt128, last: UInt128) {
        let here = lookup(address)
        guard PrefixPartition.isAlias(here.key) else { return here }
        let v4 = ipv4.lookup(PrefixPartition.embeddedIPv4(address, aliasKey: here.key))
        let r = PrefixPartition.throughAlias(address, aliasKey: here.key, v4First: v4.first, v4Last: v4.last)
        return (v4.key, max(r.first, here.first), min(r.last, here.last))
    }

    /// The key of `address` and the range around it, without alias resolution (what an IPv4
    /// partition needs): from `packed` when it is there, else `starts` and `keys`.
    @inlinable @inline(__always)
    public func lookup(_ address: UInt128) -> (key: Int32, first: UInt128, last: UInt128) {
        guard !packed.isEmpty else {
            let i = index(of: address)
            return (keys[i], starts[i], end(of: i))
        }
        let a = UInt32(truncatingIfNeeded: address)
        let b = Int(truncatingIfNeeded: UInt64(a) >> UInt64(packedShift))
        var lo = Int(packedBuckets[b])
        var hi = Int(packedBuckets[b + 1])
        // start <= a  <=>  start << 32 | key <= a << 32 | 0xFFFF_FFFF
        // (plain subscripts: a withUnsafeBufferPointer closure retained the array per query)
        let probe = UInt64(a) << 32 | 0xFFFF_FFFF
        while lo < hi {
            let mid = (lo + hi + 1) >> 1
            if packed[mid] <= probe { lo = mid } else { hi = mid - 1 }
        }
        let entry = packed[lo]
        let last: UInt128 = lo + 1 < packed.count ? UInt128(packed[lo + 1] >> 32) - 1 : 0xFFFF_FFFF
        return (Int32(truncatingIfNeeded: UInt32(truncatingIfNeeded: entry)), UInt128(entry >> 32), last)
    }

    /// Last address of range i.
    @inlinable
    public func end(of i: Int) -> UInt128 {
        i + 1 < starts.count ? starts[i + 1] - 1 : IPPrefix.all(width)
    }

    /// A copy with a search index: for 128-bit partitions `tree`, for 32-bit ones `packed` and
    /// `packedBuckets`.
    public func indexed() -> PrefixPartition {
        var copy = self
        if width != 32 {
            (copy.tree, copy.treeOffsets, copy.treeCounts) = PrefixPartition.searchTree(starts)
        } else {
            // IPv4 queries read `packed` through its own, smaller index; `index(of:)` (explain, tests)
            // searches the whole table
            copy.packed = zip(starts, keys).map { UInt64(truncatingIfNeeded: $0.0) << 32 | UInt64(UInt32(bitPattern: $0.1)) }
            var bits = 8
            while bits < PrefixPartition.packedBucketBitsMax && (starts.count >> bits) > 8 { bits += 1 }
            copy.packedShift = UInt32(32 - bits)
            copy.packedBuckets = PrefixPartition.bucketTable(starts, width: 32, bits: bits)
        }
        return copy
    }

    /// `tree`, `treeOffsets` and `treeCounts` over `starts` (empty for at most 8 ranges): levels
    /// built from the bottom (the top half of every 8th start, then of every 8th entry) until one
    /// has at most 8 entries, then laid out root first, each padded to a multiple of 8.
    static func searchTree(_ starts: [UInt128]) -> (tree: [UInt64], offsets: [Int], counts: [Int]) {
        var levels: [[UInt64]] = []
        var below = starts.map { UInt64(truncatingIfNeeded: $0 >> 64) }
        while below.count > 8 {
            let level = stride(from: 0, to: below.count, by: 8).map { below[$0] }
            levels.append(level)
            below = level
        }
        var tree: [UInt64] = [], offsets: [Int] = [], counts: [Int] = []
        for level in levels.reversed() {
            offsets.append(tree.count)
            counts.append(level.count)
            tree += level
            tree += [UInt64](repeating: .max, count: (8 - level.count % 8) % 8)
        }
        return (tree, offsets, counts)
    }

    /// Entry b: the range holding the first address of bucket b (the top `bits` bits = b); one more
    /// entry at the end holds the last range.
    static func bucketTable(_ starts: [UInt128], width: Int, bits: Int) -> [Int32] {
        var table = [Int32](repeating: 0, count: (1 << bits) + 1)
        let shift = UInt128(width - bits)
        var range = 0
        for b in 0..<(1 << bits) {
            let first = UInt128(b) << shift
            while range + 1 < starts.count && starts[range + 1] <= first { range += 1 }
            table[b] = Int32(range)
        }
        table[1 << bits] = Int32(starts.count - 1)
        return table
    }

    /// Appends a range starting at `start` (>= the last start), merging equal neighbours.
    public mutating func append(start: UInt128, key: Int32) {
        if start == starts[starts.count - 1] {
            keys[keys.count - 1] = key
            if keys.count >= 2 && keys[keys.count - 2] == key {
                starts.removeLast()
                keys.removeLast()
            }
            return
        }
        if keys[keys.count - 1] == key { return }
        starts.append(start)
        keys.append(key)
    }

    /// Maps every key through `transform` and merges neighbours that end up equal.
    public func merged(_ transform: (Int32) -> Int32) -> PrefixPartition {
        var out = PrefixPartition(width: width, key: transform(keys[0]))
        for i in 1..<starts.count { out.append(start: starts[i], key: transform(keys[i])) }
        return out
    }

    /// `top` over `self`: where `top` has a key other than -1 it wins. Linear in both sizes.
    public func overlaid(with top: PrefixPartition) -> PrefixPartition {
        precondition(top.width == width)
        var out = PrefixPartition(width: width, key: -1)
        var i = 0, j = 0
        var position: UInt128 = 0
        var first = true
        while true {
            let key = top.keys[j] != -1 ? top.keys[j] : keys[i]
            if first { out = PrefixPartition(width: width, key: key); first = false } else { out.append(start: position, key: key) }
            let endA = end(of: i), endB = top.end(of: j)
            let stop = min(endA, endB)
            if stop == IPPrefix.all(width) { break }
            position = stop + 1
            if endA == stop { i += 1 }
            if endB == stop { j += 1 }
        }
        return out
    }

    /// Longest-prefix-match partition of possibly nested CIDR blocks (later duplicates win);
    /// addresses under no block get -1.
    public static func fromPrefixes(width: Int, _ entries: [(IPPrefix, Int32)]) -> PrefixPartition {
        // keep the last of identical prefixes
        var unique: [IPPrefix: Int32] = [:]
        for (p, k) in entries { unique[p] = k }
        let sorted = unique.sorted { a, b in a.key.address != b.key.address ? a.key.address < b.key.address : a.key.length < b.key.length }
        var out = PrefixPartition(width: width, key: -1)
        var stack: [(end: UInt128, key: Int32)] = []
        var cursor: UInt128 = 0
        var cursorAtTop = false // cursor passed the top of the space
        func emit(upTo end: UInt128, key: Int32) {
            // range [cursor, end] gets key
            guard !cursorAtTop, cursor <= end else { return }
            out.append(start: cursor, key: key)
            if end == IPPrefix.all(width) { cursorAtTop = true } else { cursor = end + 1 }
        }
        for (prefix, key) in sorted {
            while let top = stack.last, top.end < prefix.address {
                emit(upTo: top.end, key: top.key)
                stack.removeLast()
            }
            if !cursorAtTop, cursor < prefix.address {
                emit(upTo: prefix.address - 1, key: stack.last?.key ?? -1)
            }
            stack.append((prefix.last, key))
        }
        while let top = stack.popLast() { emit(upTo: top.end, key: top.key) }
        emit(upTo: IPPrefix.all(width), key: -1)
        return out
    }
}
