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

    func packedBase(_ s: CompiledService) -> UnsafeRawPointer? {
        s.v4.packed.withUnsafeBytes { $0.baseAddress }
    }

    func testServicesThatDecideAlikeShareTables() throws {
        let global = try NetworkTable.readRegionTable(path: Temp.file("global.csv", "10.0.0.0/8,eu\n2001:db8::/32,na\n"))
        let tables = DecisionTableCache(sources: GeoSources(networks: global))
        let path = Temp.file("service.csv", Self.serviceCSV)
        let a = try compile(Fx.spec(.geo, name: "a.gslb.test.") { $0.networks = path; $0.map.defaultRegions = ["eu"] }, tables)
        XCTAssertEqual(tables.reused, 0)
        // the same pools, map and networks under another name: both partitions come from the cache
        let b = try compile(Fx.spec(.geo, name: "b.gslb.test.") { $0.networks = path; $0.map.defaultRegions = ["eu"] }, tables)
        XCTAssertEqual(tables.reused, 2)
        XCTAssertNotNil(packedBase(a))
        XCTAssertEqual(packedBase(a), packedBase(b), "one copy of the IPv4 table")
        // another map default: other orders for unmatched clients, its own tables
        let c = try compile(Fx.spec(.geo, name: "c.gslb.test.") { $0.networks = path; $0.map.defaultRegions = ["na"] }, tables)
        XCTAssertEqual(tables.reused, 2)
        XCTAssertNotEqual(packedBase(a), packedBase(c))
        // other service networks: its own tables too
        let otherPath = Temp.file("other.csv", Self.otherCSV)
        let d = try compile(Fx.spec(.geo, name: "d.gslb.test.") { $0.networks = otherPath; $0.map.defaultRegions = ["eu"] }, tables)
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

    func testPoolsInAnotherOrderDoNotShare() throws {
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
}
