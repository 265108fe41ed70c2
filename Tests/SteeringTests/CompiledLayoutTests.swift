import GSLBFixtures
import Geo
@testable import Steering
import TestSupport
import XCTest

/// The compiled form of services of every policy, pinned as fingerprints: pools, weights, both record
/// areas, region orders and decision partitions. A change to what `ServiceCompiler` lays out changes
/// a fingerprint; one made on purpose updates the table below with the values the failure prints.
final class CompiledLayoutTests: XCTestCase {
    static let networksCSV = """
        192.0.2.0/24,eu
        198.51.100.0/24,na,eu
        10.0.0.0/8,na
        2001:db8::/32,ap,na
        """
    static let serviceCSV = """
        198.51.100.0/25,ap
        10.1.0.0/16,sa,eu
        2001:db8:5::/48,ap
        """
    static let latencyCSV = """
        network,eu,na,ap
        192.0.2.0/24,80,20,150
        198.51.100.0/24,,90,40
        2001:db8::/32,120,,60
        """

    /// Four pools: addresses of both families with weights, a CNAME pool, a pool weight.
    static var pools: [PoolSpec] {
        [
            PoolSpec(
                region: "eu",
                addresses: [
                    PoolAddress(text: "192.0.2.1", weight: 3), PoolAddress(text: "2001:db8:e::1"),
                    PoolAddress(text: "192.0.2.2", weight: 2),
                ]),
            PoolSpec(region: "na", addresses: [PoolAddress(text: "198.51.100.1"), PoolAddress(text: "2001:db8:a::1", weight: 5)], weight: 2),
            PoolSpec(region: "ap", addresses: [PoolAddress(text: "203.0.113.1")]),
            PoolSpec(region: "sa", cname: "lb.sa.example.", weight: 3),
        ]
    }

    /// Specs named by what they exercise; `database` adds the ones that read GeoLite2.
    static func specs(service: String, latency: String, database: Bool) -> [(String, ServiceSpec)] {
        func spec(_ policy: PolicyKind, _ edit: (inout ServiceSpec) -> Void = { _ in }) -> ServiceSpec {
            var s = ServiceSpec(name: "svc.layout.test.")
            s.policy = policy
            s.pools = pools
            s.ttl = 30
            edit(&s)
            return s
        }
        var out: [(String, ServiceSpec)] = [
            (
                "geo-tables",
                spec(.geo) {
                    $0.networks = service; $0.map.defaultRegions = ["eu", "na"]; $0.fallback = ["ap"]
                }
            ),
            ("geo-static-default", spec(.geo) { $0.networks = service }),
            (
                "nearest-bias",
                spec(.nearest) {
                    $0.networks = service; $0.bias = ["eu": 500, "ap": -200]; $0.map.defaultRegions = ["ap"]
                }
            ),
            (
                "latency",
                spec(.latency) {
                    $0.latencyTable = latency; $0.map.defaultRegions = ["na"]
                }
            ),
            (
                "failover",
                spec(.failover) {
                    $0.order = ["na", "eu"]; $0.degradedTTL = 5;
                    $0.allDown = .addresses([PoolAddress(text: "192.0.2.250"), PoolAddress(text: "2001:db8::250", weight: 4)])
                }
            ),
            ("failover-declared", spec(.failover) { $0.fallback = ["sa", "eu"] }),
            (
                "weighted",
                spec(.weighted) {
                    $0.select = .weighted; $0.maxAnswers = 1; $0.allDown = .cname("down.example.")
                }
            ),
            (
                "all",
                spec(.all) {
                    $0.ttl = 60; $0.degradedTTL = 10
                }
            ),
            (
                "hash",
                spec(.hash) {
                    $0.select = .hash; $0.hashPrefixV4 = 20; $0.hashPrefixV6 = 40
                }
            ),
        ]
        if database {
            out += [
                (
                    "geo-database",
                    spec(.geo) {
                        $0.networks = service
                        $0.map.continent = ["EU": ["eu"], "NA": ["na", "eu"], "AS": ["ap"], "SA": []]
                        $0.map.country = ["DE": ["eu", "na"], "BR": ["sa", "na"], "JP": ["ap", "na"]]
                        $0.map.subdivision = ["US-CA": ["na", "ap"]]
                        $0.map.defaultRegions = ["na"]
                    }
                ),
                ("nearest-database", spec(.nearest) { $0.bias = ["na": 300] }),
                ("latency-database", spec(.latency) { $0.latencyTable = latency }),
            ]
        }
        return out
    }

    /// FNV-1a (64 bits) over everything the query path and explain read from a compiled service.
    static func fingerprint(_ s: CompiledService) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix<T: FixedWidthInteger>(_ v: T) {
            withUnsafeBytes(of: v.littleEndian) { for b in $0 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 } }
        }
        func mix(_ bytes: UnsafeRawBufferPointer) { mix(bytes.count); for b in bytes { mix(b) } }
        func mix(_ p: PrefixPartition) {
            mix(p.width); mix(p.count)
            for x in p.starts { mix(x) }
            for x in p.keys { mix(x) }
            for x in p.packed { mix(x) }
            for x in p.packedBuckets { mix(x) }
            mix(p.packedShift)
            for x in p.tree { mix(x) }
            for x in p.treeOffsets { mix(x) }
            for x in p.treeCounts { mix(x) }
        }
        for b in s.name { mix(b) }
        mix(s.ttl)
        switch s.kind {
        case .table: mix(0)
        case let .fixed(order): mix(1); mix(order)
        case .weighted: mix(2)
        case .all: mix(3)
        case .hash: mix(4)
        }
        mix(s.pools.count)
        for p in s.pools {
            for b in p.region.utf8 { mix(b) }
            for v in [p.aOffset, p.aCount, p.aaaaOffset, p.aaaaCount, p.cnameOffset, p.cnameLength, p.weightOffset] { mix(v) }
            mix(p.weight); mix(p.regionHash)
        }
        mix(s.weights.count)
        for w in s.weights { mix(w) }
        mix(s.data)
        mix(s.degradedData)
        mix(s.orderStart.count)
        for x in s.orderStart { mix(x) }
        for x in s.orderPools { mix(x) }
        mix(s.unknownClientOrder); mix(s.regularPools); mix(s.lastResort)
        mix(s.v4); mix(s.v6)
        mix(s.serviceNetworks.count); mix(s.latencyRows.count)
        for r in s.latencyRegions { for b in r.utf8 { mix(b) } }
        return String(h, radix: 16)
    }

    /// Services without the database, then (prefix db/) with GeoLite2-City as the build's database (those
    /// values are of the maxminddb-geolite2 file the tests read, `GeoLite2.path()`).
    static let expected: [String: String] = [
        "all": "ec140aa12f1643d0",
        "db/all": "ec140aa12f1643d0",
        "db/failover": "3f34baa22b655fd6",
        "db/failover-declared": "3b4379324093e912",
        "db/geo-database": "d3b734f3b962aa29",
        "db/geo-static-default": "8731cd4ebda93290",
        "db/geo-tables": "c1cda956c55ceb72",
        "db/hash": "12aec733b3fbcbf7",
        "db/latency": "720b08fa2b4c9e1",
        "db/latency-database": "d13dac1ece30121c",
        "db/nearest-bias": "fdd54faa14f66ded",
        "db/nearest-database": "a3870f9b70cac1ec",
        "db/weighted": "eca55c8c03350616",
        "failover": "3f34baa22b655fd6",
        "failover-declared": "3b4379324093e912",
        "geo-static-default": "f1920b5347989473",
        "geo-tables": "79b18be39310655b",
        "hash": "12aec733b3fbcbf7",
        "latency": "6a6490d287f0a346",
        "nearest-bias": "7b31cc131eb5856f",
        "weighted": "eca55c8c03350616",
    ]

    func testCompiledServicesKeepTheirLayout() throws {
        let networks = Temp.file("networks.csv", Self.networksCSV)
        let service = Temp.file("service.csv", Self.serviceCSV)
        let latency = Temp.file("latency.csv", Self.latencyCSV)
        let global = try NetworkTable.readRegionTable(path: networks)
        var sources = [("", GeoSources(networks: global))]
        let dbPath = GeoLite2.path()
        if let dbPath { sources.append(("db/", GeoSources(database: try GeoDatabase(path: dbPath), networks: global))) }
        var got: [String: String] = [:]
        for (prefix, source) in sources {
            let tables = DecisionTableCache(sources: source)
            for (name, spec) in Self.specs(service: service, latency: latency, database: !prefix.isEmpty) {
                got[prefix + name] = Self.fingerprint(try ServiceCompiler.compile(spec, regions: Fx.regions, tables: tables))
            }
        }
        let wanted = dbPath == nil ? Self.expected.filter { !$0.key.hasPrefix("db/") } : Self.expected
        XCTAssertEqual(got, wanted, "fingerprints: \(got.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", "))")
    }
}
