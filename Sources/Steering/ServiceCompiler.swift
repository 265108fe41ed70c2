import DNSWire
import Geo
#if canImport(Glibc)
import Glibc
#endif

/// Compiles service specs into `CompiledService`s (control plane; runs at load and may allocate).
///
/// For table policies the database partition, the global CIDR overrides and the service's own table
/// are overlaid (longest prefix wins: service table over global table over database), each range's key
/// is mapped to a region order, and neighbouring ranges with the same order are merged, so the range
/// around a client is exactly the set of addresses decided alike: its widest aligned block is the
/// ECS scope (as gdnsd does).
public enum ServiceCompiler {
    /// Compiles one service on its own (tests, tools); a configuration's services go through one
    /// `DecisionTableCache` so that services deciding alike share their tables.
    public static func compile(_ spec: ServiceSpec, regions: [RegionSpec], sources: GeoSources) throws -> CompiledService {
        try compile(spec, regions: regions, tables: DecisionTableCache(sources: sources))
    }

    /// Compiles `spec` against `tables.sources`, taking its decision partitions from `tables` when an
    /// earlier service of the same build produced identical ones.
    public static func compile(_ spec: ServiceSpec, regions: [RegionSpec], tables: DecisionTableCache) throws -> CompiledService {
        let sources = tables.sources
        let at = spec.declaredAt
        guard let name = WireName.fromText(spec.name), name.count > 1 else {
            throw SteeringError(at, "service name '\(spec.name)' is not a domain name")
        }
        guard !spec.pools.isEmpty else { throw SteeringError(at, "service \(spec.name) has no pools") }
        let regionByName = Dictionary(regions.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var poolIndex: [String: Int32] = [:]
        for (i, pool) in spec.pools.enumerated() {
            if !regions.isEmpty && regionByName[pool.region] == nil {
                throw SteeringError(pool.declaredAt.isEmpty ? at : pool.declaredAt, "unknown region '\(pool.region)' in service \(spec.name)")
            }
            guard poolIndex[pool.region] == nil else { throw SteeringError(at, "two pools for region \(pool.region)") }
            if pool.addresses.isEmpty && pool.cname == nil {
                throw SteeringError(pool.declaredAt.isEmpty ? at : pool.declaredAt, "pool \(pool.region) of \(spec.name) has no addresses")
            }
            if !pool.addresses.isEmpty && pool.cname != nil {
                throw SteeringError(pool.declaredAt.isEmpty ? at : pool.declaredAt, "pool \(pool.region) has both addresses and a cname")
            }
            guard pool.weight > 0 else { throw SteeringError(pool.declaredAt, "pool weight must be positive") }
            poolIndex[pool.region] = Int32(i)
        }

        // region lists -> interned orders
        var orders: [[Int32]] = []
        var orderIds: [[Int32]: Int32] = [:]
        func intern(_ list: [Int32]) -> Int32 {
            if let id = orderIds[list] { return id }
            orders.append(list)
            orderIds[list] = Int32(orders.count - 1)
            return Int32(orders.count - 1)
        }
        func resolve(_ list: RegionList, _ context: String) throws -> [Int32] {
            try list.map { r in
                guard let p = poolIndex[r] else {
                    throw SteeringError(at, "unknown region '\(r)' in \(context) of service \(spec.name) (pools: \(spec.pools.map(\.region).joined(separator: ", ")))")
                }
                return p
            }
        }
        let fallback = try spec.fallback.map { try resolve($0, "fallback") } ?? spec.pools.indices.map { Int32($0) }
        func withFallback(_ list: [Int32]) -> [Int32] {
            guard !list.isEmpty else { return list }
            var out = list
            for p in fallback where !out.contains(p) { out.append(p) }
            return out
        }
        let declaredOrder = spec.pools.indices.map { Int32($0) }

        // validate map lists once (errors name the map key)
        var continentLists: [String: [Int32]] = [:], countryLists: [String: [Int32]] = [:], subdivisionLists: [String: [Int32]] = [:]
        for (key, list) in spec.map.continent { continentLists[key] = try resolve(list, "map continent \(key)") }
        for (key, list) in spec.map.country { countryLists[key] = try resolve(list, "map country \(key)") }
        for (key, list) in spec.map.subdivision { subdivisionLists[key] = try resolve(list, "map subdivision \(key)") }
        let defaultList = try resolve(spec.map.defaultRegions, "map default")

        let records = sources.database?.records ?? []
        let serviceNetworks = try spec.networks.map { try NetworkTable.readRegionTable(path: $0) } ?? []
        var latencyRegions: [String] = []
        var latencyRows: [(NetworkEntry, [Double?])] = []
        if spec.policy == .latency {
            guard let path = spec.latencyTable else { throw SteeringError(at, "policy latency needs latency_table") }
            let table = try NetworkTable.readLatencyTable(path: path)
            (latencyRegions, latencyRows) = (table.regions, table.rows)
            for r in latencyRegions where poolIndex[r] == nil {
                throw SteeringError("\(path):\(table.headerLine)", "unknown region '\(r)' in the latency table header")
            }
        }

        // A map entry's order is interned once, at its first record, and records are matched by their
        // codes' numbers (`RecordCodes`): building and hashing an order, then hashing strings, per
        // record (133,652 in GeoLite2-City) was most of a geo service's compile time.
        // Per code number: -1 no map entry, -2 an entry not interned yet, else its order id.
        func entryTable(_ lists: [String: [Int32]], _ numbers: [String: Int32]) -> (ids: [Int32], lists: [[Int32]]) {
            var ids = [Int32](repeating: -1, count: numbers.count)
            var byNumber = [[Int32]](repeating: [], count: numbers.count)
            for (code, list) in lists { if let n = numbers[code] { ids[Int(n)] = -2; byNumber[Int(n)] = list } }
            return (ids, byNumber)
        }
        let usesCodes = spec.policy == .geo && !records.isEmpty
        let codes = usesCodes ? tables.recordCodes : RecordCodes(records: [])
        var subdivisionEntries = entryTable(subdivisionLists, codes.subdivisionNumbers)
        var countryEntries = entryTable(countryLists, codes.countryNumbers)
        var continentEntries = entryTable(continentLists, codes.continentNumbers)
        var defaultRecordId: Int32?
        /// The entry's order id if code number `n` has a map entry (interned at its first use).
        func entryOrder(_ entries: inout (ids: [Int32], lists: [[Int32]]), _ n: Int32) -> Int32? {
            guard n >= 0 else { return nil }
            let id = entries.ids[Int(n)]
            if id >= 0 { return id }
            if id == -1 { return nil }
            let interned = intern(withFallback(entries.lists[Int(n)]))
            entries.ids[Int(n)] = interned
            return interned
        }
        /// The order id for database record `r`, by policy.
        func orderId(record r: Int) -> Int32 {
            if usesCodes {
                if let id = entryOrder(&subdivisionEntries, codes.subdivision[r]) { return id }
                if let id = entryOrder(&countryEntries, codes.country[r]) { return id }
                if let id = entryOrder(&continentEntries, codes.continent[r]) { return id }
            } else if spec.policy == .nearest || spec.policy == .latency {
                return intern(nearestOrder(records[r].latitude, records[r].longitude) ?? withFallback(defaultList))
            }
            if let id = defaultRecordId { return id }
            let id = intern(withFallback(defaultList))
            defaultRecordId = id
            return id
        }
        func nearestOrder(_ lat: Double?, _ lon: Double?) -> [Int32]? {
            guard let lat, let lon else { return nil }
            var scored: [(Double, Int32)] = []
            var unplaced: [Int32] = []
            for (i, pool) in spec.pools.enumerated() {
                if let r = regionByName[pool.region], let rlat = r.latitude, let rlon = r.longitude {
                    scored.append((greatCircleKm(lat, lon, rlat, rlon) + (spec.bias[pool.region] ?? 0), Int32(i)))
                } else {
                    unplaced.append(Int32(i))
                }
            }
            guard !scored.isEmpty else { return nil }
            return scored.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map(\.1) + unplaced
        }

        let kind: DecisionKind
        var v4 = PrefixPartition(width: 32, key: -1)
        var v6 = PrefixPartition(width: 128, key: -1)
        var unknownClientOrder: Int32
        switch spec.policy {
        case .geo, .nearest, .latency:
            // key space: [0, R) database records, [R, R+G) global overrides, [R+G, ...) service rows
            let globalBase = Int32(records.count)
            let serviceBase = globalBase + Int32(sources.networks.count)
            var keyOrder: [Int32] = []
            keyOrder.reserveCapacity(records.count + sources.networks.count + serviceNetworks.count + latencyRows.count)
            for r in records.indices { keyOrder.append(orderId(record: r)) }
            // The global table names regions for every service: a service uses those it has pools for;
            // a line naming none of them leaves the decision to the service's map default.
            for e in sources.networks {
                let known = e.values.compactMap { poolIndex[$0] }
                keyOrder.append(intern(withFallback(known.isEmpty ? defaultList : known)))
            }
            var serviceEntries: [(IPPrefix, Int32)] = []
            for e in serviceNetworks {
                keyOrder.append(intern(withFallback(try resolve(e.values, "\(e.file):\(e.line)"))))
                serviceEntries.append((e.prefix, serviceBase + Int32(serviceEntries.count)))
            }
            for (e, rtts) in latencyRows {
                var measured: [(Double, Int32)] = []
                for (i, rtt) in rtts.enumerated() { if let rtt { measured.append((rtt, poolIndex[latencyRegions[i]]!)) } }
                var list = measured.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map(\.1)
                for p in declaredOrder where !list.contains(p) { list.append(p) }
                keyOrder.append(intern(list))
                serviceEntries.append((e.prefix, serviceBase + Int32(serviceEntries.count)))
            }
            let defaultOrder = intern(withFallback(defaultList))
            unknownClientOrder = defaultOrder
            let globalEntries = sources.networks.enumerated().map { ($0.element.prefix, globalBase + Int32($0.offset)) }
            for family in [4, 6] {
                let width = family == 4 ? 32 : 128
                let s = serviceEntries.filter { $0.0.family == family }
                let key = DecisionTableCache.Key(family: family, defaultOrder: defaultOrder, keyOrder: keyOrder,
                                                 networks: s.map(\.0), networkKeys: s.map(\.1))
                let merged = tables.table(for: key) {
                    var part = (family == 4 ? sources.database?.v4 : sources.database?.v6) ?? PrefixPartition(width: width, key: -1)
                    let g = globalEntries.filter { $0.0.family == family }
                    if !g.isEmpty { part = part.overlaid(with: .fromPrefixes(width: width, g)) }
                    if !s.isEmpty { part = part.overlaid(with: .fromPrefixes(width: width, s)) }
                    // alias keys stay: such a client is decided as its embedded IPv4 address (in `v4`)
                    return part.merged { PrefixPartition.isAlias($0) ? $0 : $0 < 0 ? defaultOrder : keyOrder[Int($0)] }.indexed()
                }
                if family == 4 { v4 = merged } else { v6 = merged }
            }
            kind = .table
        case .failover:
            let order = spec.order.isEmpty ? declaredOrder : try resolve(spec.order, "order")
            unknownClientOrder = intern(withFallback(order))
            kind = .fixed(unknownClientOrder)
        case .weighted:
            unknownClientOrder = intern(declaredOrder)
            kind = .weighted
        case .all:
            unknownClientOrder = intern(declaredOrder)
            kind = .all
        case .hash:
            unknownClientOrder = intern(declaredOrder)
            kind = .hash
        }

        // pre-encode pools (and the last-resort pool, after the regions)
        var data: [UInt8] = []
        var degradedData: [UInt8] = []
        var weights: [UInt32] = []
        var compiledPools: [CompiledPool] = []
        var allPools = spec.pools
        switch spec.allDown {
        case .failOpen: break
        case let .addresses(list): allPools.append(PoolSpec(region: "all_down", addresses: list, declaredAt: at))
        case let .cname(target): allPools.append(PoolSpec(region: "all_down", cname: target, declaredAt: at))
        }
        guard (0...1).contains(spec.upShare) else { throw SteeringError(at, "up_share must be between 0 and 1") }
        let degradedTTL = spec.degradedTTL ?? spec.ttl
        for pool in allPools {
            var a: [(rdata: [UInt8], weight: Int)] = []
            var aaaa: [(rdata: [UInt8], weight: Int)] = []
            for address in pool.addresses {
                guard let (family, value) = IPPrefix.parseAddress(address.text) else {
                    throw SteeringError(pool.declaredAt.isEmpty ? at : pool.declaredAt, "'\(address.text)' is not an IP address")
                }
                guard address.weight > 0 else { throw SteeringError(pool.declaredAt, "address weight must be positive") }
                let octets = family == 4 ? 4 : 16
                let rdata = (0..<octets).map { UInt8(truncatingIfNeeded: value >> UInt128(8 * (octets - 1 - $0))) }
                if family == 4 { a.append((rdata, address.weight)) } else { aaaa.append((rdata, address.weight)) }
            }
            let aOffset = Int32(data.count)
            for x in a {
                appendBody(&data, type: DNSType.a, ttl: spec.ttl, rdata: x.rdata)
                appendBody(&degradedData, type: DNSType.a, ttl: degradedTTL, rdata: x.rdata)
            }
            let aaaaOffset = Int32(data.count)
            for x in aaaa {
                appendBody(&data, type: DNSType.aaaa, ttl: spec.ttl, rdata: x.rdata)
                appendBody(&degradedData, type: DNSType.aaaa, ttl: degradedTTL, rdata: x.rdata)
            }
            var cnameOffset: Int32 = -1
            var cnameLength: Int32 = 0
            if let target = pool.cname {
                guard let wire = WireName.fromText(target) else {
                    throw SteeringError(pool.declaredAt, "cname '\(target)' is not a domain name")
                }
                cnameOffset = Int32(data.count)
                appendBody(&data, type: DNSType.cname, ttl: spec.ttl, rdata: wire)
                appendBody(&degradedData, type: DNSType.cname, ttl: degradedTTL, rdata: wire)
                cnameLength = Int32(data.count) - cnameOffset
            }
            let weightOffset = Int32(weights.count)
            var sum: UInt32 = 0
            for x in a { sum += UInt32(x.weight); weights.append(sum) }
            sum = 0
            for x in aaaa { sum += UInt32(x.weight); weights.append(sum) }
            compiledPools.append(CompiledPool(region: pool.region, aOffset: aOffset, aCount: Int32(a.count),
                                              aaaaOffset: aaaaOffset, aaaaCount: Int32(aaaa.count),
                                              cnameOffset: cnameOffset, cnameLength: cnameLength,
                                              weightOffset: weightOffset, weight: pool.weight,
                                              regionHash: pool.region.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }))
        }
        return CompiledService(spec: spec, name: name, kind: kind, pools: compiledPools, orders: orders, v4: v4, v6: v6,
                               unknownClientOrder: unknownClientOrder,
                               weights: weights, data: data, degradedData: degradedData, regularPools: spec.pools.count,
                               lastResort: allPools.count > spec.pools.count ? Int32(spec.pools.count) : -1, sources: sources, serviceNetworks: serviceNetworks,
                               latencyRegions: latencyRegions, latencyRows: latencyRows, regions: regions,
                               endpoints: ServiceEndpoints(pools: allPools, regularPools: spec.pools.count, index: tables.endpoints))
    }

    /// TYPE CLASS(IN) TTL RDLENGTH RDATA (RFC 1035 §4.1.3).
    static func appendBody(_ data: inout [UInt8], type: UInt16, ttl: UInt32, rdata: [UInt8]) {
        data += [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1,
                 UInt8(ttl >> 24), UInt8((ttl >> 16) & 0xFF), UInt8((ttl >> 8) & 0xFF), UInt8(ttl & 0xFF),
                 UInt8(rdata.count >> 8), UInt8(rdata.count & 0xFF)]
        data += rdata
    }
}

/// The decision partitions of one build's services (control plane). A partition is a function of
/// the build's geo sources (database and global table, fixed per cache), the service's own networks
/// and the order each key maps to: services with the same pools and map produce identical ones, and
/// share one copy (their arrays), where each used to hold its own (2.7 MB per GeoLite2 service).
public final class DecisionTableCache {
    /// Everything a partition depends on besides `sources`.
    struct Key: Hashable {
        let family: Int
        let defaultOrder: Int32
        /// Order id per key: database records, global rows, then the service's rows.
        let keyOrder: [Int32]
        /// The service's own networks of this family and their keys.
        let networks: [IPPrefix]
        let networkKeys: [Int32]

        /// `keyOrder` (one entry per database record) hashed as bytes: element by element it was a
        /// quarter of compiling a thousand names.
        func hash(into hasher: inout Hasher) {
            hasher.combine(family)
            hasher.combine(defaultOrder)
            keyOrder.withUnsafeBytes { hasher.combine(bytes: $0) }
            hasher.combine(networks)
            hasher.combine(networkKeys)
        }
    }

    public let sources: GeoSources
    /// The endpoint ids of the build's services.
    public let endpoints = EndpointIndex()
    private var tables: [Key: PrefixPartition] = [:]
    /// The database records' codes as numbers, for every geo service of the build (made at the first).
    lazy var recordCodes = RecordCodes(records: sources.database?.records ?? [])
    /// Partitions taken from the cache instead of built (tests read it).
    public private(set) var reused = 0

    public init(sources: GeoSources) { self.sources = sources }

    func table(for key: Key, build: () -> PrefixPartition) -> PrefixPartition {
        if let table = tables[key] { reused += 1; return table }
        let table = build()
        tables[key] = table
        return table
    }
}

/// The continent, country and subdivision codes of a database's records as small numbers: record
/// r's country is the code numbered `country[r]` in `countryNumbers` (-1: the record has none).
struct RecordCodes {
    var continent: [Int32] = [], country: [Int32] = [], subdivision: [Int32] = []
    var continentNumbers: [String: Int32] = [:], countryNumbers: [String: Int32] = [:], subdivisionNumbers: [String: Int32] = [:]

    init(records: [GeoRecord]) {
        func number(_ code: String?, _ numbers: inout [String: Int32]) -> Int32 {
            guard let code else { return -1 }
            if let n = numbers[code] { return n }
            let n = Int32(numbers.count)
            numbers[code] = n
            return n
        }
        for r in records {
            continent.append(number(r.continent, &continentNumbers))
            country.append(number(r.country, &countryNumbers))
            subdivision.append(number(r.subdivision, &subdivisionNumbers))
        }
    }
}

/// Great-circle distance in kilometres (haversine, mean Earth radius 6371 km).
public func greatCircleKm(_ lat1: Double, _ lon1: Double, _ lat2: Double, _ lon2: Double) -> Double {
    let r = Double.pi / 180
    let dlat = (lat2 - lat1) * r, dlon = (lon2 - lon1) * r
    let a = sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * r) * cos(lat2 * r) * sin(dlon / 2) * sin(dlon / 2)
    return 2 * 6371 * asin(min(1, sqrt(a)))
}

extension CompiledService {
    /// Whether some client is answered from the zone's static records (then the zone must have some).
    public var usesStaticRecords: Bool { (0..<orderStart.count - 1).contains { orderStart[$0] == orderStart[$0 + 1] } }
}
