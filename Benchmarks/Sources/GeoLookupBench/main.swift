// GeoLookupBench: nanoseconds per geo-table lookup (`CompiledService.tableLookup`, the step of a GSLB
// decision that reads the compiled database) for IPv4 and IPv6 clients, in process, one thread.
//
// Compiles a continent map over the given GeoLite2-style database (as AllocationGate's `geo` service
// and the benchmark's `www`), draws LOOKUPS client addresses per family from the compiled table's own
// ranges (a random range, then a random address in it, so every part of the table is reached; the
// IPv6 set includes the alias ranges such as ::ffff:0:0/96), and times ROUNDS passes over each set;
// prints the table's shape and the median, minimum and maximum ns per lookup. The sets are far larger
// than the CPU caches, as a server's stream of distinct client subnets is.
//
// `--evict KB` reads KB kilobytes of a 64 MiB buffer (one load per 64-octet line, moving on through it)
// after every lookup, standing in for what a server's socket path pulls through the caches between two
// queries. Its times include those reads (timing cannot separate them: they overlap); it is meant for
// counting the lookup's own cache misses under that pressure with callgrind's cache simulation
// (`make microbench` does: --toggle-collect='*tableLookup*').
//
// usage: GeoLookupBench [GeoLite2-City.mmdb] [--lookups N] [--rounds R] [--evict KB] [--family 4|6]
//        (or MERIDIAN_GEOIP_DB=PATH)
// build: swift build -c release --package-path Benchmarks --product GeoLookupBench   (`make microbench` runs it)
import DNSWire
import Geo
import Steering
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    let line = "GeoLookupBench: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

var dbPath = getenv("MERIDIAN_GEOIP_DB").map { String(cString: $0) }
nonisolated(unsafe) var lookups = 2_000_000
var rounds = 7
nonisolated(unsafe) var evictLines = 0
var families = [4, 6]
do {
    var args = CommandLine.arguments.dropFirst()
    while let a = args.popFirst() {
        if a == "--lookups", let v = args.popFirst(), let n = Int(v), n > 0 {
            lookups = n
        } else if a == "--rounds", let v = args.popFirst(), let n = Int(v), n > 0 {
            rounds = n
        } else if a == "--family", let v = args.popFirst(), let n = Int(v), n == 4 || n == 6 {
            families = [n]
        } else if a == "--evict", let v = args.popFirst(), let n = Int(v), n >= 0 {
            evictLines = n * 1024 / 64
        } else if !a.hasPrefix("-") {
            dbPath = a
        } else {
            fail("usage: GeoLookupBench [GeoLite2-City.mmdb] [--lookups N] [--rounds R] [--evict KB] [--family 4|6]")
        }
    }
}
guard let dbPath, access(dbPath, R_OK) == 0 else { fail("no readable database: pass its path or set MERIDIAN_GEOIP_DB") }

nonisolated(unsafe) var serviceSlot: CompiledService?
do {
    let regions = [
        RegionSpec(name: "eu", latitude: 50.11, longitude: 8.68), RegionSpec(name: "na", latitude: 39.04, longitude: -77.49),
        RegionSpec(name: "ap", latitude: 1.35, longitude: 103.82),
    ]
    var spec = ServiceSpec(name: "www.gslb.example.")
    spec.policy = .geo
    spec.map.continent = ["EU": ["eu"], "AF": ["eu"], "NA": ["na"], "SA": ["na"], "AS": ["ap"], "OC": ["ap"]]
    spec.pools = regions.map { PoolSpec(region: $0.name, addresses: [PoolAddress(text: "192.0.2.1")]) }
    spec.declaredAt = "GeoLookupBench"
    let sources = GeoSources(database: try GeoDatabase(path: dbPath, fields: spec.geoFields))
    serviceSlot = try ServiceCompiler.compile(spec, regions: regions, sources: sources)
} catch {
    fail("cannot compile the service: \(error)")
}
let service = serviceSlot!

/// The sets are drawn with a fixed seed, so every run times the same addresses.
nonisolated(unsafe) var rng = SplitMix64(seed: 0x9E37_79B9_7F4A_7C15)

/// LOOKUPS addresses of `family`: a random range of the compiled table, a random address in it.
func clients(family: Int) -> [IPAddress] {
    let table = family == 4 ? service.v4 : service.v6
    return (0..<lookups).map { _ in
        let i = Int(rng.next() % UInt64(table.count))
        let span = table.end(of: i) - table.starts[i]
        let offset = span == UInt128.max ? rng.next128() : rng.next128() % (span + 1)
        return IPAddress(family: family == 4 ? .v4 : .v6, value: table.starts[i] + offset)
    }
}

func nanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// The buffer `--evict` reads through (64 MiB of UInt64, 8 per line) and where it has got to.
nonisolated(unsafe) let evictBuffer = [UInt64](repeating: 1, count: evictLines > 0 ? 8 << 20 : 8)
nonisolated(unsafe) var evictPosition = 0

/// ns per lookup (with `evictLines` line reads after each) over one pass; the keys and the buffer's
/// words are folded into a checksum so that nothing is dropped.
@inline(never)
func pass(_ set: [IPAddress], checksum: inout Int64) -> Double {
    let mask = evictBuffer.count - 1
    var position = evictPosition
    let start = nanoseconds()
    var sum: Int64 = 0
    for c in set {
        sum &+= Int64(service.tableLookup(c).order)
        for _ in 0..<evictLines {
            sum &+= Int64(truncatingIfNeeded: evictBuffer[position])
            position = (position &+ 8) & mask
        }
    }
    let elapsed = nanoseconds() - start
    evictPosition = position
    checksum &+= sum
    return Double(elapsed) / Double(set.count)
}

func fmt(_ v: Double) -> String { "\(Double(Int((v * 10).rounded())) / 10)" }

print("IPv4 table: \(service.v4.count) ranges")
print("IPv6 table: \(service.v6.count) ranges")
var checksum: Int64 = 0
for family in families {
    let set = clients(family: family)
    _ = pass(set, checksum: &checksum) // warm-up
    let times = (0..<rounds).map { _ in pass(set, checksum: &checksum) }.sorted()
    let evicting = evictLines > 0 ? ", each followed by reading \(evictLines * 64 / 1024) KiB elsewhere (included)" : ""
    print(
        "IPv\(family): \(lookups) lookups x \(rounds) rounds\(evicting): median \(fmt(times[rounds / 2])) ns per lookup (min \(fmt(times[0])), max \(fmt(times[rounds - 1])))"
    )
}
print("checksum \(checksum)")
