// AllocationGate: the query path must not allocate (DESIGN.md §3 "Keep an allocation gate").
//
// Builds a snapshot the way SnapshotAssembly's SnapshotBuilder does (the acceptance fixture
// zone, embedded below, plus GSLB services `geo` over the real GeoLite2 database and `lat` over a CIDR
// table), prepares static and GSLB query packets, answers each once (warm-up and sanity check), then
// counts heap allocations (CMallocCounter interposes malloc & co.) over QUERIES `QueryProcessor.process`
// calls per set, cycling through the packets over UDP and TCP.
//
// usage: AllocationGate [GeoLite2-City.mmdb] [--queries N]   (or MERIDIAN_GEOIP_DB=PATH)
// build: swift build -c release --package-path Benchmarks --product AllocationGate
// exit:  0 no allocation; 1 allocations on the query path; 2 the counter is broken; 3 setup failed.
// Where: MALLOC_COUNTER_TRAP=1 (2: warm-up too) gdb -batch -ex run -ex bt --args Benchmarks/.build/release/AllocationGate DB
import CMallocCounter
import DNSSEC
import DNSWire
import Engine
import Geo
import SourceFiles
import Steering
import Zones
#if canImport(Glibc)
import Glibc
#endif

// MARK: fixture

/// Tests/Fixtures/zones/gslb.test.zone (the acceptance kit's zone), read from the repository root
/// (where `make` runs) or from $MERIDIAN_FIXTURE_ZONE.
let fixtureZone: String = {
    let path = getenv("MERIDIAN_FIXTURE_ZONE").map { String(cString: $0) } ?? "Tests/Fixtures/zones/gslb.test.zone"
    guard let bytes = try? SourceFile.readAll(path) else { fail(3, "cannot read the fixture zone \(path) (run from the repository root)") }
    return String(decoding: bytes, as: UTF8.self)
}()

let latNetworks = """
    # network, region (longest prefix wins) -- fixture gslb.json "subnet_table"
    198.51.100.0/24,eu
    203.0.113.0/24,ap
    203.0.113.128/25,na
    2001:db8:aaaa::/48,eu
    """

func fail(_ code: Int32, _ message: String) -> Never {
    let line = "AllocationGate: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(code)
}

// MARK: 1. the counter works (an Array allocated while counting must be seen)

nonisolated(unsafe) var selfTestSink: [Int] = []
nonisolated(unsafe) var selfTestPointer: UnsafeMutableRawPointer?
do {
    let n = 64 + CommandLine.arguments.count // not a compile-time constant
    malloc_counter_start()
    selfTestSink = [Int](repeating: 7, count: n)
    let seen = malloc_counter_stop()
    guard malloc_counter_ready() == 1, seen >= 1, selfTestSink.count == n else {
        fail(2, "the malloc counter is broken: an Array of \(n) Ints allocated \(seen) times (ready \(malloc_counter_ready()))")
    }
    malloc_counter_start()
    selfTestPointer = malloc(48 + n) // kept in a global so that the optimizer cannot drop the pair
    let direct = malloc_counter_stop()
    free(selfTestPointer)
    guard direct == 1 else { fail(2, "the malloc counter is broken: malloc counted \(direct) times") }
}

// MARK: 2. arguments

var dbPath = getenv("MERIDIAN_GEOIP_DB").map { String(cString: $0) }
var queriesPerSet = 100_000
do {
    var args = CommandLine.arguments.dropFirst()
    while let a = args.popFirst() {
        if a == "--queries", let v = args.popFirst(), let n = Int(v), n > 0 {
            queriesPerSet = n
        } else if !a.hasPrefix("-") {
            dbPath = a
        } else {
            fail(3, "usage: AllocationGate [GeoLite2-City.mmdb] [--queries N] (or MERIDIAN_GEOIP_DB)")
        }
    }
}
guard let dbPath, access(dbPath, R_OK) == 0 else {
    fail(3, "no readable GeoLite2 database: pass its path or set MERIDIAN_GEOIP_DB")
}

// MARK: 3. the snapshot (as SnapshotBuilder.build does)

func writeTemp(_ dir: String, _ name: String, _ text: String) -> String {
    let path = dir + "/" + name
    guard let f = fopen(path, "w") else { fail(3, "cannot write \(path)") }
    fputs(text + "\n", f)
    fclose(f)
    return path
}

var template = Array("/tmp/meridian-gate.XXXXXX".utf8CString)
guard let dirPointer = mkdtemp(&template) else { fail(3, "mkdtemp failed") }
let tmpDir = String(cString: dirPointer)
let zonePath = writeTemp(tmpDir, "gslb.test.zone", fixtureZone)
let latPath = writeTemp(tmpDir, "lat-networks.csv", latNetworks)
defer { unlink(zonePath); unlink(latPath); rmdir(tmpDir) }

let snapshot: Snapshot
/// The same zone signed (a temporary combined signing key): what DO=1 queries get.
let signedSnapshot: Snapshot
/// The same signed with NSEC denial instead of NSEC3.
let nsecSnapshot: Snapshot
/// `snapshot` with DNS cookies and response rate limiting on (`defended` sets): a rate no query of the
/// sets exceeds, so every query takes the limiter's counting path and none is limited.
let defendedSnapshot: Snapshot
let cookieSecret = ServerCookies(enabled: true, secret: ServerCookies.Secret(hex: "000102030405060708090a0b0c0d0e0f")!)
/// The processor's clock for the defended sets (fixed: the buckets are never refilled while measuring).
let gateNow: UInt32 = 1_800_000_000
do {
    // region, location, and n: its pool is 192.0.2.n and 2001:db8:n::1
    let sites = [("eu", 50.11, 8.68, 1), ("na", 39.04, -77.49, 2), ("ap", 1.35, 103.82, 3)]
    let regions = sites.map { RegionSpec(name: $0.0, latitude: $0.1, longitude: $0.2) }
    let pools = sites.map { PoolSpec(region: $0.0, addresses: [PoolAddress(text: "192.0.2.\($0.3)"), PoolAddress(text: "2001:db8:\($0.3)::1")]) }
    var geo = ServiceSpec(name: "geo.gslb.test.")
    geo.policy = .geo
    geo.ttl = 30
    geo.map.continent = ["EU": ["eu"], "AF": ["eu"], "NA": ["na"], "SA": ["na"], "AS": ["ap"], "OC": ["ap"]]
    geo.map.defaultRegions = []
    geo.pools = pools
    geo.declaredAt = "AllocationGate:geo"
    var lat = ServiceSpec(name: "lat.gslb.test.")
    lat.policy = .geo
    lat.ttl = 30
    lat.networks = latPath
    lat.pools = pools
    lat.declaredAt = "AllocationGate:lat"
    let sources = GeoSources(database: try GeoDatabase(path: dbPath))
    let services = try [geo, lat].map { try ServiceCompiler.compile($0, regions: regions, sources: sources) }
    let zone = try ZoneCompiler.load(path: zonePath, origin: "gslb.test.", extraOwners: services.map(\.name))
    let identity = ServerIdentity(version: "Meridian", id: "meridian-gate", nsid: Array("meridian-gate".utf8))
    snapshot = try Snapshot(zones: [zone], services: services, identity: identity, udpPayloadSize: 1232)
    // signed as serve signs (GSLBZoneSigner), with a temporary combined signing key
    let now = Int64(time(nil))
    let key = try ZoneKey.generate(
        zone: "gslb.test.", algorithm: .ecdsap256sha256, role: .csk, timing: KeyTiming(created: now, publish: now, activate: now))
    var notes: [String] = []
    let signed = try GSLBZoneSigner.sign(
        path: zonePath, origin: "gslb.test.", owners: services.map(\.name), services: services.enumerated().map { ($0.offset, $0.element) },
        keys: [key], policy: SigningPolicy(), now: now, declaredAt: "AllocationGate", notes: &notes)
    signedSnapshot = try Snapshot(zones: [signed], services: services, identity: identity, udpPayloadSize: 1232)
    var nsec = SigningPolicy()
    nsec.denial = .nsec
    let nsecSigned = try GSLBZoneSigner.sign(
        path: zonePath, origin: "gslb.test.", owners: services.map(\.name), services: services.enumerated().map { ($0.offset, $0.element) },
        keys: [key], policy: nsec, now: now, declaredAt: "AllocationGate", notes: &notes)
    nsecSnapshot = try Snapshot(zones: [nsecSigned], services: services, identity: identity, udpPayloadSize: 1232)
    defendedSnapshot = try Snapshot(
        zones: [zone], services: services, identity: identity, udpPayloadSize: 1232, cookies: cookieSecret,
        rateLimit: RateLimitPolicy(rate: 30_000, slip: 2, exempt: [(network: IPAddress(family: .v4, value: 0x7F00_0001), length: 32)]))
} catch {
    fail(3, "cannot build the snapshot: \(error)")
}

// MARK: 4. query packets

struct QuerySpec {
    var name: String
    var type: UInt16
    var qclass: UInt16 = DNSClass.in
    var edns = false
    var udpSize: UInt16 = 1232
    var ednsVersion: UInt8 = 0
    /// DO=1 (RFC 3225): the DNSSEC records too.
    var dnssecOK = false
    var nsid = false
    /// ECS: family (1/2), source prefix, address octets (already truncated to the prefix).
    var ecs: (UInt16, UInt8, [UInt8])? = nil
    var client: IPAddress? = IPAddress(family: .v4, value: 0xC633_6401) // 198.51.100.1
    /// A COOKIE option's body (RFC 7873): a client cookie, with a server cookie or not.
    var cookie: [UInt8]? = nil
    /// Expected header RCODE (low 4 bits) and flags to check once at warm-up.
    var rcode: UInt16 = RCode.noError
    var aa = true
    var udpTC = false
}

func wire(_ q: QuerySpec, id: UInt16) -> [UInt8] {
    var b: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, q.edns ? 1 : 0]
    guard let name = WireName.fromText(q.name) else { fail(3, "bad name \(q.name)") }
    b += name
    b += [UInt8(q.type >> 8), UInt8(q.type & 0xFF), UInt8(q.qclass >> 8), UInt8(q.qclass & 0xFF)]
    if q.edns {
        var options: [UInt8] = []
        if q.nsid { options += [0, 3, 0, 0] }
        if let cookie = q.cookie { options += [0, 10, 0, UInt8(cookie.count)] + cookie }
        if let (family, source, address) = q.ecs {
            let body: [UInt8] = [UInt8(family >> 8), UInt8(family & 0xFF), source, 0] + address
            options += [0, 8, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
        }
        b +=
            [
                0, 0, 41, UInt8(q.udpSize >> 8), UInt8(q.udpSize & 0xFF), 0, q.ednsVersion, q.dnssecOK ? 0x80 : 0, 0,
                UInt8(options.count >> 8), UInt8(options.count & 0xFF),
            ] + options
    }
    return b
}

/// xorshift64* for reproducible subnets.
nonisolated(unsafe) var rngState: UInt64 = 0x9E37_79B9_7F4A_7C15
func nextRandom() -> UInt64 {
    rngState ^= rngState >> 12
    rngState ^= rngState << 25
    rngState ^= rngState >> 27
    return rngState &* 0x2545_F491_4F6C_DD1D
}

func ecs4(_ a: UInt32, _ prefix: UInt8) -> (UInt16, UInt8, [UInt8]) {
    let masked = prefix == 0 ? 0 : a & ~UInt32(0) << UInt32(32 - Int(prefix))
    let octets = (Int(prefix) + 7) / 8
    return (1, prefix, (0..<octets).map { UInt8(truncatingIfNeeded: masked >> UInt32(24 - 8 * $0)) })
}

func ecs6(_ high: UInt64, _ prefix: UInt8) -> (UInt16, UInt8, [UInt8]) { // prefix <= 64
    let masked = prefix == 0 ? 0 : high & ~UInt64(0) << UInt64(64 - Int(prefix))
    let octets = (Int(prefix) + 7) / 8
    return (2, prefix, (0..<octets).map { UInt8(truncatingIfNeeded: masked >> UInt64(56 - 8 * $0)) })
}

var staticQueries: [QuerySpec] = [
    QuerySpec(name: "www.gslb.test.", type: DNSType.a),
    QuerySpec(name: "WwW.GsLb.TeSt.", type: DNSType.aaaa, edns: true),
    QuerySpec(name: "gslb.test.", type: DNSType.soa, edns: true, nsid: true),
    QuerySpec(name: "gslb.test.", type: DNSType.ns, edns: true),
    QuerySpec(name: "gslb.test.", type: DNSType.mx),
    QuerySpec(name: "gslb.test.", type: DNSType.any, edns: true),
    QuerySpec(name: "nope.gslb.test.", type: DNSType.a, rcode: RCode.nxDomain),
    QuerySpec(name: "deep.nope.gslb.test.", type: DNSType.aaaa, edns: true, rcode: RCode.nxDomain),
    QuerySpec(name: "b.gslb.test.", type: DNSType.a), // empty non-terminal: NODATA
    QuerySpec(name: "www.gslb.test.", type: DNSType.mx), // NODATA
    QuerySpec(name: "host.sub.gslb.test.", type: DNSType.a, aa: false), // referral with glue
    QuerySpec(name: "sub.gslb.test.", type: DNSType.ns, edns: true, aa: false),
    QuerySpec(name: "foo.wild.gslb.test.", type: DNSType.txt), // wildcard
    QuerySpec(name: "a.b.wild.gslb.test.", type: DNSType.txt, edns: true),
    QuerySpec(name: "alias.gslb.test.", type: DNSType.a), // CNAME chase
    QuerySpec(name: "alias.gslb.test.", type: DNSType.aaaa, edns: true),
    QuerySpec(name: "_sip._tcp.gslb.test.", type: DNSType.srv),
    QuerySpec(name: "big.gslb.test.", type: DNSType.txt, udpTC: true), // ~4 KB: TC over UDP
    QuerySpec(name: "big.gslb.test.", type: DNSType.txt, edns: true, udpTC: true),
    QuerySpec(name: "many.gslb.test.", type: DNSType.a, edns: true),
    QuerySpec(name: "many.gslb.test.", type: DNSType.a, udpTC: true),
    QuerySpec(name: "example.com.", type: DNSType.a, rcode: RCode.refused, aa: false),
    QuerySpec(name: "version.bind.", type: DNSType.txt, qclass: DNSClass.chaos),
    QuerySpec(name: "id.server.", type: DNSType.txt, qclass: DNSClass.chaos, edns: true, nsid: true),
    QuerySpec(name: "www.gslb.test.", type: DNSType.a, edns: true, ednsVersion: 1, rcode: 0, aa: false), // BADVERS (extended)
    QuerySpec(name: "www.gslb.test.", type: DNSType.axfr, rcode: RCode.refused, aa: false),
    QuerySpec(name: "www.gslb.test.", type: DNSType.a, edns: true, ecs: ecs4(0xC000_0200, 24)), // ECS on a static name: scope 0
]

var gslbQueries: [QuerySpec] = []
for i in 0..<50 {
    // IPv4 /24 anywhere in 1.0.0.0-223.255.255.255; IPv6 /48 inside the five RIRs' main blocks
    let v4 = UInt32(1 + nextRandom() % 223) << 24 | UInt32(truncatingIfNeeded: nextRandom()) & 0x00FF_FF00
    let rir: [UInt64] = [0x2A00, 0x2400, 0x2600, 0x2800, 0x2C00, 0x2001]
    let top = rir[i % rir.count] << 48 | (nextRandom() & 0x000F_FFFF_FFFF_0000) >> 0
    for type in [DNSType.a, DNSType.aaaa] {
        gslbQueries.append(QuerySpec(name: "geo.gslb.test.", type: type, edns: true, ecs: ecs4(v4, 24)))
        gslbQueries.append(QuerySpec(name: "geo.gslb.test.", type: type, edns: true, ecs: ecs6(top, 48)))
    }
}
gslbQueries += [
    QuerySpec(name: "lat.gslb.test.", type: DNSType.a, edns: true, ecs: ecs4(0xC633_6400, 24)), // 198.51.100.0/24 eu
    QuerySpec(name: "lat.gslb.test.", type: DNSType.a, edns: true, ecs: ecs4(0xCB00_7180, 25)), // 203.0.113.128/25 na
    QuerySpec(name: "lat.gslb.test.", type: DNSType.aaaa, edns: true, ecs: ecs4(0xCB00_7100, 24)), // 203.0.113.0/24 ap
    QuerySpec(name: "lat.gslb.test.", type: DNSType.aaaa, edns: true, ecs: ecs6(0x2001_0DB8_AAAA_0000, 48)), // eu
    QuerySpec(name: "lat.gslb.test.", type: DNSType.a, edns: true, ecs: ecs4(0x0A00_0000, 8)), // unmatched: static
    QuerySpec(name: "geo.gslb.test.", type: DNSType.a), // no EDNS: transport client
    QuerySpec(
        name: "geo.gslb.test.", type: DNSType.aaaa, edns: true,
        client: IPAddress(family: .v6, value: 0x2A02_0C7F_0000_0001_0000_0000_0000_0001)), // IPv6 transport client
    QuerySpec(name: "geo.gslb.test.", type: DNSType.a, edns: true, ecs: ecs4(0, 0)), // SOURCE 0: no client info
    QuerySpec(name: "geo.gslb.test.", type: DNSType.any, edns: true, ecs: ecs4(0x5102_4500, 24)),
    QuerySpec(name: "cdn.gslb.test.", type: DNSType.a, edns: true, ecs: ecs4(0x5102_4500, 24)), // CNAME to a GSLB name
    QuerySpec(name: "cdn.gslb.test.", type: DNSType.aaaa, edns: true, ecs: ecs6(0x2400_CB00_0000_0000, 48)),
    QuerySpec(name: "geo.gslb.test.", type: DNSType.a, edns: true, nsid: true, ecs: ecs4(0x0800_0800, 24)),
    QuerySpec(name: "geo.gslb.test.", type: DNSType.mx, edns: true, ecs: ecs4(0x0800_0800, 24)), // NODATA at a service
]

/// The same queries with DO=1 (all with EDNS), against the signed zone. Truncation is not checked:
/// the signatures make answers larger. With `dnssecOK` false: the very same queries with DO=0, the
/// baseline DO=1 is compared with (same EDNS, same zone).
func withDO(_ specs: [QuerySpec], dnssecOK: Bool = true) -> [QuerySpec] {
    specs.map {
        var q = $0
        q.edns = true
        q.dnssecOK = dnssecOK
        q.udpTC = false
        return q
    }
}
let staticDOQueries = withDO(staticQueries.filter { $0.ednsVersion == 0 })
let gslbDOQueries = withDO(gslbQueries)
let staticDO0Queries = withDO(staticQueries.filter { $0.ednsVersion == 0 }, dnssecOK: false)
let gslbDO0Queries = withDO(gslbQueries, dnssecOK: false)
/// The static queries with EDNS and a valid server cookie of their client (one SipHash each to check it).
let staticCookieQueries: [QuerySpec] = staticQueries.filter { $0.ednsVersion == 0 && $0.client != nil }.map {
    var q = $0
    q.edns = true
    q.udpTC = false
    var option: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8] + [UInt8](repeating: 0, count: 16)
    option.withUnsafeMutableBytes {
        cookieSecret.make(clientCookie: $0.baseAddress!, client: q.client!, now: gateNow, into: $0.baseAddress! + 8)
    }
    q.cookie = option
    return q
}

/// A prepared query: packet bytes in one arena, transport and client; plain data, no references.
struct Prepared {
    var offset: Int
    var length: Int
    var tcp: Bool
    var client: IPAddress?
}

func prepare(_ specs: [QuerySpec], arena: inout [UInt8]) -> [Prepared] {
    var out: [Prepared] = []
    for (i, q) in specs.enumerated() {
        let bytes = wire(q, id: UInt16(truncatingIfNeeded: 0x1000 + i))
        for tcp in [false, true] {
            out.append(Prepared(offset: arena.count, length: bytes.count, tcp: tcp, client: q.client))
        }
        arena += bytes
    }
    return out
}

var arena: [UInt8] = []
let staticSet = prepare(staticQueries, arena: &arena)
let gslbSet = prepare(gslbQueries, arena: &arena)
let staticDOSet = prepare(staticDOQueries, arena: &arena)
let gslbDOSet = prepare(gslbDOQueries, arena: &arena)
let staticDO0Set = prepare(staticDO0Queries, arena: &arena)
let gslbDO0Set = prepare(gslbDO0Queries, arena: &arena)
let staticCookieSet = prepare(staticCookieQueries, arena: &arena)
/// The UDP halves of the static and GSLB sets: rate limiting applies to UDP only, so its cost is
/// measured on these, with it off and on.
let staticUDPSet = staticSet.filter { !$0.tcp }
let gslbUDPSet = gslbSet.filter { !$0.tcp }
let packets = UnsafeMutablePointer<UInt8>.allocate(capacity: arena.count)
packets.initialize(from: arena, count: arena.count)
let response = UnsafeMutablePointer<UInt8>.allocate(capacity: 65535)
let processor = QueryProcessor()
processor.rateLimiter = ResponseRateLimiter(capacity: 65536, seed: 7)
processor.now = gateNow

/// Answers one prepared query from `snapshot` (`signedSnapshot` or `nsecSnapshot` for the DO=1 sets).
@MainActor @inline(never)
func answer(_ p: Prepared, _ snapshot: Snapshot) -> Int {
    processor.process(
        query: UnsafeRawBufferPointer(start: packets + p.offset, count: p.length), response: response,
        capacity: 65535, transport: p.tcp ? .tcp : .udp, client: p.client, snapshot: snapshot)
}

// MARK: 5. warm-up (lazy globals, first-use caches) and a sanity check of every answer

var problems: [String] = []
var warmupAllocations: UInt64 = 0
var warmedUp = 0
let trapMode = getenv("MALLOC_COUNTER_TRAP").map { Int($0.pointee) - 0x30 } ?? 0 // 1: measurement, 2: warm-up too
if trapMode == 2 { malloc_counter_set_trap(1) }
for (set, specs, zones) in [
    (staticSet, staticQueries, snapshot), (gslbSet, gslbQueries, snapshot), (staticDOSet, staticDOQueries, signedSnapshot),
    (gslbDOSet, gslbDOQueries, signedSnapshot), (staticDOSet, staticDOQueries, nsecSnapshot),
    (staticDO0Set, staticDO0Queries, signedSnapshot), (gslbDO0Set, gslbDO0Queries, signedSnapshot),
    (staticSet, staticQueries, defendedSnapshot), (gslbSet, gslbQueries, defendedSnapshot),
    (staticCookieSet, staticCookieQueries, defendedSnapshot),
] {
    // signatures and cookies make answers larger: truncation is checked for the others only
    let larger = zones === signedSnapshot || zones === nsecSnapshot || specs.first?.cookie != nil
    for (i, p) in set.enumerated() {
        let q = specs[i / 2]
        malloc_counter_start()
        let n = answer(p, zones)
        warmupAllocations += malloc_counter_stop()
        warmedUp += 1
        guard n >= 12 else { problems.append("\(q.name) type \(q.type): no response"); continue }
        let flags = UInt16(response[2]) << 8 | UInt16(response[3])
        let rcode = flags & 0x000F
        let aa = flags & HeaderFlag.aa != 0
        let tc = flags & HeaderFlag.tc != 0
        let ancount = Int(response[6]) << 8 | Int(response[7])
        if rcode != q.rcode || aa != q.aa || (!larger && tc != (q.udpTC && !p.tcp)) {
            problems.append("\(q.name) type \(q.type) \(p.tcp ? "TCP" : "UDP"): rcode \(rcode) aa \(aa) tc \(tc) answers \(ancount)")
        }
    }
}
guard problems.isEmpty else { fail(3, "unexpected answers:\n  " + problems.joined(separator: "\n  ")) }
guard processor.counters.value(WorkerCounters.Slot.rrlLimited) == 0 else { fail(3, "a defended set was rate-limited: raise the gate's rate") }
guard processor.counters.value(WorkerCounters.Slot.cookieNew) == 0, processor.counters.value(WorkerCounters.Slot.cookieValid) > 0 else {
    fail(3, "the cookie set's server cookies were not valid")
}
print(
    "warm-up: \(warmedUp) queries answered once, \(warmupAllocations) allocations "
        + "(one-time initialisation)")
malloc_counter_set_trap(trapMode == 1 ? 1 : 0) // for gdb: see the header

// MARK: 6. count

@MainActor @inline(never)
func measure(
    _ set: [Prepared], _ snapshot: Snapshot, calls: Int
) -> (allocations: UInt64, frees: UInt64, bytes: UInt64, answered: Int, nanoseconds: UInt64) {
    var answered = 0
    var start = timespec(), end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    set.withUnsafeBufferPointer { queries in
        malloc_counter_start()
        var i = 0
        var k = 0
        while i < calls {
            if answer(queries[k], snapshot) > 0 { answered &+= 1 }
            k += 1
            if k == queries.count { k = 0 }
            i += 1
        }
    }
    let allocations = malloc_counter_stop()
    clock_gettime(CLOCK_MONOTONIC, &end)
    let ns = UInt64(end.tv_sec - start.tv_sec) * 1_000_000_000 + UInt64(end.tv_nsec) &- UInt64(start.tv_nsec)
    return (allocations, malloc_counter_frees(), malloc_counter_bytes(), answered, ns)
}

var total: UInt64 = 0
for (label, set, zones) in [
    ("static", staticSet, snapshot), ("gslb", gslbSet, snapshot), ("static DO=1 signed", staticDOSet, signedSnapshot),
    ("gslb DO=1 signed", gslbDOSet, signedSnapshot), ("static DO=1 signed with NSEC", staticDOSet, nsecSnapshot),
    ("static DO=0 signed (the DO=1 queries)", staticDO0Set, signedSnapshot), ("gslb DO=0 signed (the DO=1 queries)", gslbDO0Set, signedSnapshot),
    ("static UDP", staticUDPSet, snapshot), ("gslb UDP", gslbUDPSet, snapshot),
    ("static UDP, RRL and cookies on", staticUDPSet, defendedSnapshot), ("gslb UDP, RRL and cookies on", gslbUDPSet, defendedSnapshot),
    ("static with a valid server cookie, RRL and cookies on", staticCookieSet, defendedSnapshot),
] {
    let r = measure(set, zones, calls: queriesPerSet)
    total += r.allocations
    let perQuery = Double(r.allocations) / Double(queriesPerSet)
    print(
        "\(label): allocations per query: \(perQuery) (total \(r.allocations) over \(queriesPerSet) queries; "
            + "\(set.count) queries, \(r.answered) answered, \(r.frees) frees, \(r.bytes) bytes); "
            + "engine time \(Double(r.nanoseconds) / Double(queriesPerSet)) ns/query (in-process, one thread, malloc counter on)")
}
guard processor.counters.value(WorkerCounters.Slot.rrlLimited) == 0 else { fail(3, "a defended set was rate-limited while measured") }
if total > 0 {
    print("FAIL: the query path allocated; find where with: MALLOC_COUNTER_TRAP=1 gdb -batch -ex run -ex bt --args \(CommandLine.arguments[0]) \(dbPath)")
    exit(1)
}
print("OK: no allocation on the query path")
