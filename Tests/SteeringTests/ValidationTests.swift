import GSLBFixtures
import Geo
import Steering
import XCTest

/// ServiceCompiler.compile rejects bad specs with a SteeringError naming the region or reason.
final class ValidationTests: XCTestCase {
    func error(_ spec: ServiceSpec, sources: GeoSources = GeoSources(), file: StaticString = #filePath, line: UInt = #line) -> SteeringError? {
        do {
            let s = try ServiceCompiler.compile(spec, regions: Fx.regions, sources: sources)
            XCTFail("compiled \(s.spec.name) but expected an error", file: file, line: line)
            return nil
        } catch let e as SteeringError {
            return e
        } catch {
            XCTFail("expected SteeringError, got \(type(of: error)): \(error)", file: file, line: line)
            return nil
        }
    }

    func assertMentions(_ e: SteeringError?, _ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        guard let e else { return }
        for p in parts { XCTAssertTrue(e.description.contains(p), "'\(e.description)' should mention '\(p)'", file: file, line: line) }
    }

    func testUnknownRegionInMap() {
        var spec = Fx.spec(.geo) { $0.map.country["DE"] = ["eu", "mars"] }
        assertMentions(error(spec), ["unknown region 'mars'", "map country DE", "www.gslb.test."])
        spec = Fx.spec(.geo) { $0.map.continent["AF"] = ["venus"] }
        assertMentions(error(spec), ["unknown region 'venus'", "map continent AF"])
        spec = Fx.spec(.geo) { $0.map.defaultRegions = ["pluto"] }
        assertMentions(error(spec), ["unknown region 'pluto'", "map default"])
        spec = Fx.spec(.geo) { $0.fallback = ["na", "jupiter"] }
        assertMentions(error(spec), ["unknown region 'jupiter'", "fallback"])
        spec = Fx.spec(.failover) { $0.order = ["saturn"] }
        assertMentions(error(spec), ["unknown region 'saturn'", "order"])
        // a region that exists globally but has no pool in this service
        spec = Fx.spec(.geo) { $0.map.country["BR"] = ["sa"] }
        assertMentions(error(spec), ["unknown region 'sa'", "map country BR", "pools: eu, na, ap"])
    }

    func testUnknownRegionOfAPoolAndInATable() {
        var pools = Fx.threePools
        pools[1].region = "atlantis"
        pools[1].declaredAt = "meridian.yaml:42"
        let e = error(Fx.spec(.failover, pools: pools))
        assertMentions(e, ["unknown region 'atlantis'"])
        XCTAssertEqual(e?.location, "meridian.yaml:42")

        let path = Temp.file("t.csv", "# comment\n10.0.0.0/8,eu\n11.0.0.0/8,oz\n")
        assertMentions(error(Fx.spec(.geo) { $0.networks = path }), ["unknown region 'oz'", "\(path):3"])
        // the global table is shared by all services: a line naming none of this service's regions is not an
        // error but leaves those clients to the service's map default
        let global = try! NetworkTable.readRegionTable(path: path)
        let s = try! ServiceCompiler.compile(
            Fx.spec(.geo) { $0.map.defaultRegions = ["na"] }, regions: Fx.regions,
            sources: GeoSources(networks: global))
        XCTAssertEqual(decide(s, "11.1.1.1").pool, Fx.na)
        XCTAssertEqual(decide(s, "10.1.1.1").pool, Fx.eu)
        XCTAssertEqual(decide(s, "10.1.1.1").scope, 8)
    }

    func testPoolWithoutAddresses() {
        var pools = Fx.threePools
        pools[2] = PoolSpec(region: "ap", addresses: [], declaredAt: "svc.yaml:9")
        let e = error(Fx.spec(.geo, pools: pools))
        assertMentions(e, ["pool ap", "has no addresses"])
        XCTAssertEqual(e?.location, "svc.yaml:9")
    }

    func testPoolWithAddressesAndCNAME() {
        var pools = Fx.threePools
        pools[0].cname = "eu-lb.example.net."
        assertMentions(error(Fx.spec(.geo, pools: pools)), ["pool eu", "both addresses and a cname"])
    }

    func testServiceWithoutPools() {
        var spec = ServiceSpec(name: "empty.gslb.test.")
        spec.declaredAt = "m.yaml:3"
        let e = error(spec)
        assertMentions(e, ["empty.gslb.test.", "has no pools"])
        XCTAssertEqual(e?.description, "m.yaml:3: service empty.gslb.test. has no pools")
    }

    func testLatencyWithoutTable() {
        assertMentions(error(Fx.spec(.latency)), ["policy latency needs latency_table"])
    }

    func testUnknownRegionInLatencyHeader() {
        let path = Temp.file("lat.csv", "network,eu,sa,na\n192.0.2.0/24,10,20,30\n")
        let e = error(Fx.spec(.latency) { $0.latencyTable = path })
        assertMentions(e, ["unknown region 'sa'", "latency table header"])
        XCTAssertEqual(e?.location, "\(path):1")
    }

    /// An unknown region in a latency table's header is reported at the header's own line, after any
    /// `#` comment lines (here line 3).
    func testLatencyHeaderErrorNamesTheHeaderLineAfterComments() {
        let path = Temp.file("lat.csv", "# measured 2024-06\n# by probe fleet\nnetwork,eu,sa\n192.0.2.0/24,10,20\n")
        let e = error(Fx.spec(.latency) { $0.latencyTable = path })
        assertMentions(e, ["unknown region 'sa'"])
        XCTAssertEqual(e?.location, "\(path):3")
    }

    func testOtherRejections() {
        var pools = Fx.threePools
        pools[1].addresses = [PoolAddress(text: "198.51.100.300")]
        assertMentions(error(Fx.spec(.geo, pools: pools)), ["'198.51.100.300' is not an IP address"])
        assertMentions(
            error(Fx.spec(.geo, pools: Fx.threePools + [PoolSpec(region: "eu", addresses: [PoolAddress(text: "192.0.2.9")])])),
            ["two pools for region eu"])
        pools = Fx.threePools
        pools[0].weight = 0
        assertMentions(error(Fx.spec(.weighted, pools: pools)), ["pool weight must be positive"])
        assertMentions(error(Fx.spec(.geo, name: "bad..name.")), ["is not a domain name"])
        assertMentions(error(Fx.spec(.geo, name: ".")), ["is not a domain name"])
    }
}
