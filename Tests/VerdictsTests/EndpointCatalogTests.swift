import Health
import Steering
import Verdicts
import XCTest

/// Endpoint ids as `ServiceCompiler` assigns them and `EndpointCatalog` numbers them per snapshot.
final class EndpointCatalogTests: XCTestCase {
    func testIdsFollowTheCompiledOrder() throws {
        let services = try Fx.services()
        let catalog = EndpointCatalog(services: services)
        func addresses(_ s: Int, _ p: Int) -> [String] { catalog.ids(service: s, services[s], pool: p).map { catalog.keys[$0].address } }
        XCTAssertEqual(addresses(0, 0), ["192.0.2.1", "192.0.2.2", "2001:db8::1"], "IPv4, then IPv6, each in declared order")
        XCTAssertEqual(addresses(0, 1), ["198.51.100.1"])
        XCTAssertEqual(addresses(1, 0), ["lb.example.net"], "a CNAME target without its final dot")
        XCTAssertEqual(addresses(1, 1), ["192.0.2.1"])
        XCTAssertEqual(addresses(1, 2), ["203.0.113.9"])
        XCTAssertEqual(
            catalog.ids(service: 0, services[0], pool: 0).first, catalog.ids(service: 1, services[1], pool: 1).first,
            "one endpoint shared by two services has one id")
        XCTAssertEqual(services[0].endpoints.addresses.last, -1, "the last-resort address is no endpoint")
        XCTAssertEqual(services[0].endpoints.targets, [-1, -1, -1])
        XCTAssertEqual(catalog.keys.count, 6, "distinct (address, check) pairs")
        XCTAssertEqual(
            Set(catalog.keys.indices),
            Set(
                services.indices.flatMap { s in
                    services[s].pools.indices.prefix(services[s].regularPools).flatMap { catalog.ids(service: s, services[s], pool: $0) }
                }), "ids are dense")
    }

    func testIdsAreStableAcrossBuilds() throws {
        let first = EndpointCatalog(services: try Fx.services())
        let second = EndpointCatalog(services: try Fx.services())
        XCTAssertEqual(first.keys, second.keys)
    }

    func testMonitoredAreTheCheckedEndpointsOnce() throws {
        let catalog = EndpointCatalog(services: try Fx.services())
        XCTAssertEqual(
            catalog.monitored,
            [
                Fx.endpoint("192.0.2.1"), Fx.endpoint("192.0.2.2"), Fx.endpoint("198.51.100.1"),
                Fx.endpoint("2001:db8::1"), Fx.endpoint("lb.example.net"),
            ])
    }

    func testServicesCompiledApartGetDisjointIds() throws {
        let together = try Fx.services()
        let apart = try together.map { try ServiceCompiler.compile($0.spec, regions: [], sources: GeoSources()) }
        let catalog = EndpointCatalog(services: apart)
        XCTAssertEqual(catalog.keys.count, 4 + 3)
        XCTAssertEqual(catalog.ids(service: 1, apart[1], pool: 1).map { catalog.keys[$0].address }, ["192.0.2.1"])
        XCTAssertNotEqual(catalog.ids(service: 0, apart[0], pool: 0).first, catalog.ids(service: 1, apart[1], pool: 1).first)
        // and the health they get is the same
        let rows = Fx.table(apart, states: ["192.0.2.1": .down, "192.0.2.2": .down])
        XCTAssertEqual(rows.up, [[false, true, true], [true, false, true]])
    }
}
