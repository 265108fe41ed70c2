import DNSWire
import Geo
#if canImport(Glibc)
import Glibc
#endif

/// A pool compiled for the wire: A and AAAA RR bodies (TYPE CLASS TTL RDLENGTH RDATA, fixed sizes
/// 14 and 26 octets) or one CNAME body, in the service's data area.
public struct CompiledPool: Sendable {
    public let region: String
    public let aOffset: Int32
    public let aCount: Int32
    public let aaaaOffset: Int32
    public let aaaaCount: Int32
    public let cnameOffset: Int32 // -1 without CNAME
    public let cnameLength: Int32
    /// A (AAAA) addresses of the service's pools before this one: where its addresses start in the
    /// `all` policy's count (`writeAll`'s `written`).
    public let aBefore: Int32
    public let aaaaBefore: Int32
    /// Cumulative address weights (A then AAAA) in `weights`, for `select: weighted`.
    public let weightOffset: Int32
    public let weight: Int
    /// Hash of the region name: rendezvous scores depend on the region, not on its position, so
    /// removing a region from the config moves only that region's clients.
    public let regionHash: UInt64

    @inlinable public func has(_ qtype: UInt16) -> Bool {
        cnameOffset >= 0 || (qtype == DNSType.a ? aCount > 0 : aaaaCount > 0)
    }
}

/// How a compiled service decides (first stage).
public enum DecisionKind: Sendable {
    /// Per-client decision tables (geo, nearest, latency).
    case table
    /// One fixed order (failover).
    case fixed(Int32)
    case weighted
    case all
    case hash
}

/// The outcome of a decision: which pool answers (or the zone's static records, or nothing), and the
/// ECS scope over which that outcome holds (RFC 7871 §7.2.1).
public struct Decision: Sendable, Equatable {
    public static let staticRecords: Int32 = -1
    public static let noData: Int32 = -2
    public var pool: Int32
    public var scope: UInt8
    /// Index into `orders` that produced it (-1 for weighted/all/hash): for explain and tests.
    public var order: Int32
    /// Every region of the order was down and health is being ignored (fail open).
    public var failOpen = false
}

/// An immutable, compiled GSLB service (DESIGN.md §2 "Steering"): decision tables, region orders,
/// pre-encoded answers. Read concurrently by every worker (`@unchecked Sendable`: never mutated).
public final class CompiledService: @unchecked Sendable {
    public let spec: ServiceSpec
    /// Lower-case wire form of the owner name.
    public let name: [UInt8]
    public let ttl: UInt32
    public let kind: DecisionKind
    public let pools: [CompiledPool]
    /// Per-family decision partitions whose keys are order ids (kind == .table).
    public let v4: PrefixPartition
    public let v6: PrefixPartition
    /// Order used when the client is unknown (ECS SOURCE PREFIX-LENGTH 0).
    public let unknownClientOrder: Int32
    /// Cumulative weights of addresses (select weighted); pool weights are `pools[i].weight`.
    public let weights: [UInt32]
    /// The pools' pre-encoded records (frozen: the query path reads them without reference counting).
    public let data: UnsafeRawBufferPointer
    /// The same records with `degradedTTL` (used while some region is down).
    public let degradedData: UnsafeRawBufferPointer
    /// Region orders (pool indices; an empty order means "static records"), flat and frozen for the
    /// query path: order i is `orderPools[orderStart[i] ..< orderStart[i + 1]]` (an array of arrays
    /// would cost a retain and a release per query). `order(_:)` reads one for the control plane.
    let orderStart: UnsafeBufferPointer<Int32>
    let orderPools: UnsafeBufferPointer<Int32>
    /// Pools that are regions; a last-resort pool (all_down) follows them at index `regularPools`.
    public let regularPools: Int
    public let lastResort: Int32
    /// Control-plane inputs kept for `explain`.
    public let sources: GeoSources
    public let serviceNetworks: [NetworkEntry]
    public let latencyRegions: [String]
    public let latencyRows: [(NetworkEntry, [Double?])]
    public let regions: [RegionSpec]
    /// Health endpoint ids of the addresses and CNAME targets (control plane).
    public let endpoints: ServiceEndpoints

    init(
        spec: ServiceSpec, name: [UInt8], kind: DecisionKind, pools: [CompiledPool], orders: [[Int32]],
        v4: PrefixPartition, v6: PrefixPartition, unknownClientOrder: Int32, weights: [UInt32],
        data: [UInt8], degradedData: [UInt8], regularPools: Int, lastResort: Int32, sources: GeoSources, serviceNetworks: [NetworkEntry],
        latencyRegions: [String],
        latencyRows: [(NetworkEntry, [Double?])], regions: [RegionSpec], endpoints: ServiceEndpoints
    ) {
        self.spec = spec
        self.name = name
        self.ttl = spec.ttl
        self.kind = kind
        self.pools = pools
        self.v4 = v4
        self.v6 = v6
        self.unknownClientOrder = unknownClientOrder
        self.weights = weights
        self.data = UnsafeRawBufferPointer(UnsafeBufferPointer.frozenCopy(of: data))
        self.degradedData = UnsafeRawBufferPointer(UnsafeBufferPointer.frozenCopy(of: degradedData))
        var starts: [Int32] = [0]
        for order in orders { starts.append(starts[starts.count - 1] + Int32(order.count)) }
        self.orderStart = UnsafeBufferPointer.frozenCopy(of: starts)
        self.orderPools = UnsafeBufferPointer.frozenCopy(of: Array(orders.joined()))
        self.regularPools = regularPools
        self.lastResort = lastResort
        self.sources = sources
        self.serviceNetworks = serviceNetworks
        self.latencyRegions = latencyRegions
        self.latencyRows = latencyRows
        self.regions = regions
        precondition(
            endpoints.addresses.count == weights.count && endpoints.targets.count == pools.count,
            "one endpoint id per address and one target per pool")
        self.endpoints = endpoints
    }

    /// Pool indices of order `i` (control plane: explain, tests).
    public func order(_ i: Int) -> [Int32] {
        Array(orderPools[Int(orderStart[i])..<Int(orderStart[i + 1])])
    }

    /// Whether some client is answered from the zone's static records (then the zone must have some).
    public var usesStaticRecords: Bool { (0..<orderStart.count - 1).contains { orderStart[$0] == orderStart[$0 + 1] } }

    deinit {
        data.deallocate()
        degradedData.deallocate()
        orderStart.deallocate()
        orderPools.deallocate()
    }

    // MARK: data plane (no allocation)

    /// Decides for `client` (nil: no client information, ECS SOURCE 0) and `qtype` given pool health
    /// (`up(i)`), per DESIGN.md §5: the first
    /// healthy pool in the client's order that has data of the type; an empty order -> static records.
    /// When every pool of a non-empty order is down, the last-resort pool answers (`all_down`), else
    /// health is ignored (fail open) so that the answer is never empty.
    @inline(__always)
    public func decide(client: IPAddress?, qtype: UInt16, random: UInt64, up: (Int) -> Bool) -> Decision {
        switch kind {
        case .table:
            guard let client else {
                return pick(order: unknownClientOrder, qtype: qtype, scope: 0, up: up)
            }
            let (order, first, last) = tableLookup(client)
            let scope = widestPrefix(containing: client.value, within: first, last, width: client.width)
            return pick(order: order, qtype: qtype, scope: UInt8(scope), up: up)
        case let .fixed(order):
            return pick(order: order, qtype: qtype, scope: 0, up: up)
        case .weighted:
            // draw among healthy pools with data, by weight
            var total = 0
            for p in 0..<regularPools where up(p) && pools[p].has(qtype) { total += pools[p].weight }
            if total == 0 {
                if lastResort >= 0 && pools[Int(lastResort)].has(qtype) {
                    return Decision(pool: lastResort, scope: 0, order: -1)
                }
                for p in 0..<regularPools where pools[p].has(qtype) { total += pools[p].weight }
                guard total > 0 else { return Decision(pool: Decision.noData, scope: 0, order: -1) }
                var r = Int(random % UInt64(total))
                for p in 0..<regularPools where pools[p].has(qtype) {
                    r -= pools[p].weight
                    if r < 0 { return Decision(pool: Int32(p), scope: 0, order: -1, failOpen: true) }
                }
            }
            var r = Int(random % UInt64(max(total, 1)))
            for p in 0..<regularPools where up(p) && pools[p].has(qtype) {
                r -= pools[p].weight
                if r < 0 { return Decision(pool: Int32(p), scope: 0, order: -1) }
            }
            return Decision(pool: Decision.noData, scope: 0, order: -1)
        case .all:
            for p in 0..<regularPools where pools[p].has(qtype) { return Decision(pool: Int32(p), scope: 0, order: -1) }
            return Decision(pool: Decision.noData, scope: 0, order: -1)
        case .hash:
            guard let client else { return pick(order: unknownClientOrder, qtype: qtype, scope: 0, up: up) }
            let bits = client.family == .v4 ? spec.hashPrefixV4 : spec.hashPrefixV6
            let key = client.masked(to: bits).value
            var best: Int32 = Decision.noData
            var bestScore = -1.0
            var bestAny: Int32 = Decision.noData
            var bestAnyScore = -1.0
            for p in 0..<regularPools where pools[p].has(qtype) {
                let score = CompiledService.rendezvous(key: key, family: client.family.rawValue, region: pools[p].regionHash, weight: pools[p].weight)
                if score > bestAnyScore { bestAnyScore = score; bestAny = Int32(p) }
                if up(p) && score > bestScore { bestScore = score; best = Int32(p) }
            }
            if best >= 0 { return Decision(pool: best, scope: UInt8(bits), order: -1) }
            if lastResort >= 0 && pools[Int(lastResort)].has(qtype) { return Decision(pool: lastResort, scope: UInt8(bits), order: -1) }
            return Decision(pool: bestAny, scope: UInt8(bits), order: -1, failOpen: bestAny >= 0)
        }
    }

    /// The client's order in the decision tables and the range of addresses decided alike around it
    /// (kind == .table, family 4 or 6). An IPv6 range with an alias key is decided as the IPv4 address
    /// embedded in the client's (`PrefixPartition.aliasKey`): the range is then the part of the alias
    /// whose embedded addresses share the client's IPv4 range.
    @inline(__always)
    public func tableLookup(_ client: IPAddress) -> (order: Int32, first: UInt128, last: UInt128) {
        // on the stored tables themselves: a `family == .v4 ? v4 : v6` copy, or `v4.resolve(_, ipv4: v4)`,
        // would retain their arrays per query (IPv4 needs no alias step)
        let r = client.family == .v4 ? v4.lookup(client.value) : v6.resolve(client.value, ipv4: v4)
        return (r.key, r.first, r.last)
    }

    @inline(__always)
    func pick(order: Int32, qtype: UInt16, scope: UInt8, up: (Int) -> Bool) -> Decision {
        guard order >= 0 else { return Decision(pool: Decision.staticRecords, scope: scope, order: order) }
        let first = Int(orderStart[Int(order)]), end = Int(orderStart[Int(order) + 1])
        if first == end { return Decision(pool: Decision.staticRecords, scope: scope, order: order) }
        var firstWithData: Int32 = Decision.noData
        for p in orderPools[first..<end] where pools[Int(p)].has(qtype) {
            if up(Int(p)) { return Decision(pool: p, scope: scope, order: order) }
            if firstWithData < 0 { firstWithData = p }
        }
        // every region of the order is down: the last-resort answer, else fail open (DESIGN.md §5)
        if lastResort >= 0 && pools[Int(lastResort)].has(qtype) { return Decision(pool: lastResort, scope: scope, order: order) }
        return Decision(pool: firstWithData, scope: scope, order: order, failOpen: firstWithData >= 0)
    }

    /// Weighted rendezvous (highest random weight) score: weight / -ln(u), u from a hash of (key, pool).
    @inline(__always)
    static func rendezvous(key: UInt128, family: Int, region: UInt64, weight: Int) -> Double {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 &* (region | 1) ^ UInt64(family)
        h ^= UInt64(truncatingIfNeeded: key) &* 0xBF58_476D_1CE4_E5B9
        h ^= UInt64(truncatingIfNeeded: key >> 64) &* 0x94D0_49BB_1331_11EB
        h = (h ^ (h >> 31)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 31
        let u = (Double(h >> 11) + 0.5) / Double(UInt64(1) << 53)
        return Double(weight) / -log(u)
    }

    /// Writes the chosen pool's records of `qtype` (or its CNAME) as the answer. Returns false when
    /// they do not fit (the caller truncates).
    /// `addressUp(i)` is the health of address i of the service (pool `weightOffset` + index, A before
    /// AAAA): down addresses are left out unless the decision fails open or none would remain.
    /// `written` gets which addresses went out, the key of the answer's RRSIG in a signed zone
    /// (`AnswerSet`): bit i for the pool's i-th address of the type (its CNAME: bit 0).
    public func writeAnswer(
        _ decision: Decision, qtype: UInt16, owner: ResponseWriter.Owner, random: UInt64,
        up: (Int) -> Bool, addressUp: (Int) -> Bool, degraded: Bool,
        writer w: inout ResponseWriter, written mask: inout UInt64
    ) -> Bool {
        let bytes = degraded ? degradedData : data
        if case .all = kind {
            return writeAll(qtype: qtype, owner: owner, random: random, up: up, bytes: bytes, writer: &w, written: &mask)
        }
        // the pool's fields one by one: a copy of the whole CompiledPool would retain its region name
        let p = Int(decision.pool)
        let cnameOffset = pools[p].cnameOffset
        if cnameOffset >= 0 {
            let body = UnsafeRawBufferPointer(rebasing: bytes[Int(cnameOffset)..<Int(cnameOffset + pools[p].cnameLength)])
            mask = 1
            return w.writeRRSet(owner: owner, bodies: body, records: 1, section: .answer)
        }
        let isA = qtype == DNSType.a
        let count = Int(isA ? pools[p].aCount : pools[p].aaaaCount)
        let offset = Int(isA ? pools[p].aOffset : pools[p].aaaaOffset)
        let weightOffset = Int(pools[p].weightOffset), aCount = Int(pools[p].aCount)
        let size = isA ? 14 : 26
        // `first` answers one address unless max_answers asks for more; the others all by default
        let wanted = spec.maxAnswers > 0 ? spec.maxAnswers : (spec.select == .first ? 1 : count)
        let limit = min(wanted, count)
        let firstAddress = weightOffset + (isA ? 0 : aCount)
        var anyUp = false
        for i in 0..<count where addressUp(firstAddress + i) { anyUp = true }
        if !decision.failOpen && anyUp {
            var someDown = false
            for i in 0..<count where !addressUp(firstAddress + i) { someDown = true }
            if someDown {
                // only the healthy addresses of an up region (DESIGN.md §5)
                var written = 0
                for i in 0..<count where written < limit && addressUp(firstAddress + i) {
                    let body = UnsafeRawBufferPointer(rebasing: bytes[(offset + i * size)..<(offset + (i + 1) * size)])
                    guard w.writeRRSet(owner: owner, bodies: body, records: 1, section: .answer) else { return false }
                    mask |= 1 << UInt64(i)
                    written += 1
                }
                return true
            }
        }
        switch spec.select {
        case .all, .first:
            let body = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + limit * size)])
            mask = limit >= 64 ? ~0 : (1 << UInt64(limit)) - 1
            return w.writeRRSet(owner: owner, bodies: body, records: limit, section: .answer)
        case .weighted, .hash:
            // start at an address drawn by weight, then take the following ones in ring order
            let total = Int(weights[firstAddress + count - 1])
            let r = total > 0 ? Int(random % UInt64(total)) : 0
            var first = 0
            while first < count - 1 && Int(weights[firstAddress + first]) <= r { first += 1 }
            for k in 0..<limit {
                let i = (first + k) % count
                let body = UnsafeRawBufferPointer(rebasing: bytes[(offset + i * size)..<(offset + (i + 1) * size)])
                guard w.writeRRSet(owner: owner, bodies: body, records: 1, section: .answer) else { return false }
                mask |= 1 << UInt64(i)
            }
            return true
        }
    }

    /// `all`: every healthy pool's addresses, starting at a rotating pool (round robin). `written`: bit
    /// k for the k-th address of the type counted over the pools in order.
    func writeAll(
        qtype: UInt16, owner: ResponseWriter.Owner, random: UInt64, up: (Int) -> Bool,
        bytes: UnsafeRawBufferPointer, writer w: inout ResponseWriter, written mask: inout UInt64
    ) -> Bool {
        var anyUp = false
        for p in 0..<regularPools where up(p) && pools[p].has(qtype) { anyUp = true }
        var written = 0
        let limit = spec.maxAnswers > 0 ? spec.maxAnswers : Int.max
        let start = regularPools == 0 ? 0 : Int(random % UInt64(regularPools))
        for k in 0..<regularPools {
            let p = (start + k) % regularPools
            guard !anyUp || up(p), pools[p].cnameOffset < 0 else { continue }
            let isA = qtype == DNSType.a
            let count = Int(isA ? pools[p].aCount : pools[p].aaaaCount)
            let offset = Int(isA ? pools[p].aOffset : pools[p].aaaaOffset)
            let size = isA ? 14 : 26
            let first = Int(isA ? pools[p].aBefore : pools[p].aaaaBefore)
            for i in 0..<count where written < limit {
                let body = UnsafeRawBufferPointer(rebasing: bytes[(offset + i * size)..<(offset + (i + 1) * size)])
                guard w.writeRRSet(owner: owner, bodies: body, records: 1, section: .answer) else { return false }
                mask |= 1 << UInt64(first + i)
                written += 1
            }
        }
        return true
    }
}
