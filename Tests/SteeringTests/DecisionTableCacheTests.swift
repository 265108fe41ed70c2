import GSLBFixtures
import DNSWire
import Geo
import Steering
import TestSupport
import XCTest

/// Services of one build that decide alike share their decision partitions (`DecisionTableCache`);
/// services that decide differently do not.
final class DecisionTableCacheTests: XCTestCase {
    static let serviceCSV = """
        198.51.100.0/24,na
        10.1.0.0/16,ap
        2001:db8:5::/48,ap
        """
    static let otherCSV = """
        198.51.100.0/24,ap
        """

    func compile(_ spec: ServiceSpec, _ tables: DecisionTableCache) throws -> CompiledService {
        try ServiceCompiler.compile(spec, regions: Fx.regions, tables: tables)
    }

    /// A geo service `name`.gslb.test. over the `networks` table, `unmatched` for clients it does not list.
    func geo(_ name: String, networks: String, unmatched: String, _ tables: DecisionTableCache) throws -> CompiledService {
        try compile(
            Fx.spec(.geo, name: name + ".gslb.test.") {
                $0.networks = networks; $0.map.defaultRegions = [unmatched]
            }, tables)
    }

    func packedBase(_ s: CompiledService) -> UnsafeRawPointer? {
        s.v4.packed.withUnsafeBytes { $0.baseAddress }
    }

    func testServicesThatDecideAlikeShareTables() throws {
        let global = try NetworkTable.readRegionTable(path: Temp.file("global.csv", "10.0.0.0/8,eu\n2001:db8::/32,na\n"))
        let tables = DecisionTableCache(sources: GeoSources(networks: global))
        let path = Temp.file("service.csv", Self.serviceCSV)
        let a = try geo("a", networks: path, unmatched: "eu", tables)
        XCTAssertEqual(tables.reused, 0)
        // the same pools, map and networks under another name: both partitions come from the cache
        let b = try geo("b", networks: path, unmatched: "eu", tables)
        XCTAssertEqual(tables.reused, 2)
        XCTAssertNotNil(packedBase(a))
        XCTAssertEqual(packedBase(a), packedBase(b), "one copy of the IPv4 table")
        // another map default: other orders for unmatched clients, its own tables
        let c = try geo("c", networks: path, unmatched: "na", tables)
        XCTAssertEqual(tables.reused, 2)
        XCTAssertNotEqual(packedBase(a), packedBase(c))
        // other service networks: its own tables too
        let otherPath = Temp.file("other.csv", Self.otherCSV)
        let d = try geo("d", networks: otherPath, unmatched: "eu", tables)
        XCTAssertEqual(tables.reused, 2)

        for client in ["198.51.100.7", "10.1.2.3", "10.9.0.1", "8.8.8.8", "2001:db8:5::1", "2001:db8:6::1", "2a00::1"] {
            let da = decide(a, client), db = decide(b, client)
            XCTAssertEqual(da, db, client)
            XCTAssertEqual(orderRegions(a, da), orderRegions(b, db), client)
        }
        XCTAssertEqual(decide(a, "8.8.8.8").pool, Fx.eu)
        XCTAssertEqual(decide(c, "8.8.8.8").pool, Fx.na)
        XCTAssertEqual(decide(a, "198.51.100.7").pool, Fx.na)
        XCTAssertEqual(decide(d, "198.51.100.7").pool, Fx.ap)
        XCTAssertEqual(decide(a, "2001:db8:5::1").pool, Fx.ap)
        XCTAssertEqual(decide(d, "2001:db8:5::1").pool, Fx.na, "d has no 2001:db8:5::/48 row: the global table's na")
    }

    /// Pool indices differ when the same regions are declared in another order; whether or not the
    /// cache then hands out one table, each service's order ids must name its own pools.
    func testPoolsDeclaredInAnotherOrderDecideByRegion() throws {
        let tables = DecisionTableCache(sources: GeoSources())
        let path = Temp.file("service.csv", Self.serviceCSV)
        let a = try compile(Fx.spec(.geo, name: "a.gslb.test.") { $0.networks = path }, tables)
        // the same regions declared in another order: pool indices differ, so do the tables' orders
        let swapped = Array(Fx.threePools.reversed())
        let b = try compile(Fx.spec(.geo, name: "b.gslb.test.", pools: swapped) { $0.networks = path }, tables)
        XCTAssertEqual(orderRegions(a, decide(a, "10.1.2.3")).first, "ap")
        XCTAssertEqual(orderRegions(b, decide(b, "10.1.2.3")).first, "ap")
        XCTAssertEqual(orderRegions(a, decide(a, "198.51.100.1")).first, "na")
        XCTAssertEqual(orderRegions(b, decide(b, "198.51.100.1")).first, "na")
    }

    /// Over 20,000 random IPv4 clients of the real GeoLite2-City database, two services compiled
    /// through one cache decide by subdivision, then country, then continent, then the map default,
    /// as the client's own database record says (records are matched by their codes' numbers).
    func testMapPrecedenceOverDatabaseRecords() throws {
        let db = try IPv4AliasTests.database.get()
        let tables = DecisionTableCache(sources: GeoSources(database: db))
        func spec(_ name: String) -> ServiceSpec {
            Fx.spec(.geo, name: name) { s in
                s.map.continent = ["NA": ["na"], "EU": ["eu"]]
                s.map.country = ["CA": ["ap"], "DE": ["ap"], "XX": ["eu"]]
                s.map.subdivision = ["US-CA": ["eu"], "DE-BY": ["na"], "ZZ-QQ": ["ap"]]
            }
        }
        let a = try compile(spec("a.gslb.test."), tables)
        let b = try compile(spec("b.gslb.test."), tables)
        XCTAssertEqual(tables.reused, 2)
        var rng = SplitMix64(seed: 7)
        var seen: [String: Int] = [:]
        for _ in 0..<20_000 {
            let address = UInt128(UInt32(truncatingIfNeeded: rng.next()))
            let record = db.lookup(family: 4, address: address).record
            let expected: Int32
            let level: String
            if record?.subdivision == "US-CA" {
                (expected, level) = (Fx.eu, "subdivision US-CA")
            } else if record?.subdivision == "DE-BY" {
                (expected, level) = (Fx.na, "subdivision DE-BY")
            } else if record?.country == "CA" || record?.country == "DE" {
                (expected, level) = (Fx.ap, "country")
            } else if record?.continent == "NA" {
                (expected, level) = (Fx.na, "continent NA")
            } else if record?.continent == "EU" {
                (expected, level) = (Fx.eu, "continent EU")
            } else {
                (expected, level) = (Decision.staticRecords, "default")
            }
            seen[level, default: 0] += 1
            let client = IPAddress(version: 4, value: address)
            XCTAssertEqual(decide(a, client).pool, expected, "\(IPPrefix.formatAddress(family: 4, address)) \(level)")
            XCTAssertEqual(decide(b, client).pool, expected)
        }
        // every level was exercised
        for level in ["subdivision US-CA", "subdivision DE-BY", "country", "continent NA", "continent EU", "default"] {
            XCTAssertGreaterThan(seen[level] ?? 0, 0, "no client at \(level): \(seen)")
        }
    }

    /// A build decodes only the fields its services read (`ServiceSpec.geoFields`): services compiled
    /// from such a load decide exactly as from a load of every field (pool, region order and ECS
    /// scope), over 20,000 random IPv4 and 5,000 IPv6 clients of the real GeoLite2-City.
    func testDecodingOnlyTheFieldsServicesReadDecidesAlike() throws {
        let full = try IPv4AliasTests.database.get()
        let specs: [(String, ServiceSpec)] = [
            ("continent", Fx.spec(.geo) { $0.map.continent = ["NA": ["na"], "EU": ["eu"], "AS": ["ap"]] }),
            (
                "country",
                Fx.spec(.geo) {
                    $0.map.country = ["US": ["na"], "BR": ["eu"], "DE": ["eu"]]; $0.map.defaultRegions = ["ap"]
                }
            ),
            (
                "subdivision",
                Fx.spec(.geo) {
                    $0.map.subdivision = ["US-CA": ["ap"], "DE-BY": ["na"]]; $0.map.continent = ["EU": ["eu"]]
                }
            ),
            ("nearest", Fx.spec(.nearest)),
        ]
        for (label, spec) in specs {
            let fields = spec.geoFields
            XCTAssertNotEqual(fields, .all, label)
            let partial = try GeoDatabase(path: full.path, fields: fields)
            XCTAssertLessThan(partial.records.count, full.records.count, label)
            let a = try ServiceCompiler.compile(spec, regions: Fx.regions, tables: DecisionTableCache(sources: GeoSources(database: full)))
            let b = try ServiceCompiler.compile(spec, regions: Fx.regions, tables: DecisionTableCache(sources: GeoSources(database: partial)))
            var rng = SplitMix64(seed: 99)
            for i in 0..<25_000 {
                let client =
                    i < 20_000
                    ? IPAddress(version: 4, value: UInt128(UInt32(truncatingIfNeeded: rng.next())))
                    : IPAddress(version: 6, value: UInt128(0x2000) << 112 | UInt128(rng.next() >> 4) << 60)
                let da = decide(a, client), db = decide(b, client)
                guard da.pool == db.pool, da.scope == db.scope, orderRegions(a, da) == orderRegions(b, db) else {
                    return XCTFail(
                        "\(label): client #\(i) decided \(da) / \(orderRegions(a, da)) with every field, \(db) / \(orderRegions(b, db)) with \(fields)")
                }
            }
        }
        XCTAssertEqual(Fx.spec(.weighted).geoFields, [])
        XCTAssertEqual(Fx.spec(.latency).geoFields, .location)
        XCTAssertTrue(Fx.spec(.geo) { $0.map.subdivision = ["US-CA": ["ap"]] }.geoFields.contains(.country), "US-CA needs the country")
    }
}
