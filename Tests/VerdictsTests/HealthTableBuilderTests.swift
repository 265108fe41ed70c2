import Health
import Steering
import Verdicts
import XCTest

/// Verdicts + overrides -> the data plane's health table (`VerdictTable.healthTable(for:catalog:)`).
/// Address rows are in compiled order: a.test. is east 192.0.2.1, 192.0.2.2, 2001:db8::1, then
/// west 198.51.100.1, then the last-resort 192.0.2.250; b.test. is east 192.0.2.1, then static.
final class HealthTableBuilderTests: XCTestCase {
    let allUpA = [true, true, true, true, true]
    let allUpB = [true, true]

    func testEverythingUnknownIsUp() throws {
        let services = try Fx.services()
        for states in [[:], ["192.0.2.1": .unknown, "lb.example.net": .unknown]] as [[String: EndpointState.Status]] {
            let rows = Fx.table(services, states: states)
            XCTAssertEqual(rows.up, [[true, true, true], [true, true, true]], "pools (a.test.'s last resort after its regions)")
            XCTAssertEqual(rows.addressUp, [allUpA, allUpB])
            XCTAssertEqual(rows.degraded, [false, false])
        }
    }

    func testOneAddressDownKeepsThePoolUpWhileUpShareHolds() throws {
        let services = try Fx.services()
        var rows = Fx.table(services, states: ["192.0.2.2": .down, "192.0.2.1": .up])
        XCTAssertEqual(rows.addressUp[0], [true, false, true, true, true])
        XCTAssertEqual(rows.up[0], [true, true, true], "2 of 3 up >= 0.5")
        XCTAssertEqual(rows.degraded, [false, false])

        rows = Fx.table(services, states: ["192.0.2.2": .down, "192.0.2.1": .down])
        XCTAssertEqual(rows.addressUp[0], [false, false, true, true, true])
        XCTAssertEqual(rows.up[0], [false, true, true], "1 of 3 up < 0.5")
        XCTAssertEqual(rows.up[1], [true, false, true], "b.test.'s east shares 192.0.2.1")
        XCTAssertEqual(rows.addressUp[1], [false, true], "the last resort and unchecked addresses stay up")
        XCTAssertEqual(rows.degraded, [true, true])
    }

    func testCNAMEPoolFollowsItsTarget() throws {
        let services = try Fx.services()
        let rows = Fx.table(services, states: ["lb.example.net": .down])
        XCTAssertEqual(rows.up[1], [false, true, true])
        XCTAssertEqual(rows.degraded, [false, true])
        XCTAssertEqual(rows.up[0], [true, true, true])
    }

    func testEndpointOverrides() throws {
        let services = try Fx.services()
        let drain = OverrideTarget(scope: .endpoint, name: "198.51.100.1")
        var rows = Fx.table(services, overrides: [drain: .drain])
        XCTAssertEqual(rows.addressUp[0], [true, true, true, false, true])
        XCTAssertEqual(rows.up[0], [true, false, true])
        XCTAssertEqual(rows.degraded, [true, false])

        // force up beats a down verdict; an override applies to addresses without a check too
        let unchecked = OverrideTarget(scope: .endpoint, name: "203.0.113.9")
        rows = Fx.table(services, states: ["198.51.100.1": .down], overrides: [drain: .up, unchecked: .down])
        XCTAssertEqual(rows.up[0], [true, true, true])
        XCTAssertEqual(rows.addressUp[1], [true, false])
        XCTAssertEqual(rows.up[1], [true, true, false])
    }

    func testRegionOverrideForOneServiceOrEvery() throws {
        let services = try Fx.services()
        let eastOfA = OverrideTarget(scope: .region, name: "east", service: "a.test")
        let east = OverrideTarget(scope: .region, name: "east")
        var rows = Fx.table(services, overrides: [eastOfA: .down])
        XCTAssertEqual(rows.up[0], [false, true, true])
        XCTAssertEqual(rows.up[1], [true, true, true], "b.test.'s east is untouched")
        XCTAssertEqual(rows.addressUp, [allUpA, allUpB], "a region override leaves the address flags")

        rows = Fx.table(services, overrides: [east: .drain])
        XCTAssertEqual(rows.up[0], [false, true, true])
        XCTAssertEqual(rows.up[1], [true, false, true])

        // the service's own region override comes before the global one
        rows = Fx.table(services, states: ["192.0.2.1": .down, "192.0.2.2": .down], overrides: [east: .down, eastOfA: .up])
        XCTAssertEqual(rows.up[0], [true, true, true])
        XCTAssertEqual(rows.up[1], [true, false, true])
        XCTAssertEqual(rows.degraded, [false, true])
    }

    func testServiceOverride() throws {
        let services = try Fx.services()
        let b = OverrideTarget(scope: .service, name: "b.test.")
        var rows = Fx.table(services, overrides: [b: .down])
        XCTAssertEqual(rows.up[1], [false, false, false], "every region")
        XCTAssertEqual(rows.up[0], [true, true, true])
        XCTAssertEqual(rows.degraded, [false, true])

        // a region override comes before the service override; force up beats a down target
        let staticRegion = OverrideTarget(scope: .region, name: "static")
        rows = Fx.table(services, states: ["lb.example.net": .down], overrides: [b: .up, staticRegion: .down])
        XCTAssertEqual(rows.up[1], [true, true, false])
    }

    func testUpShareNeedsOneAddressUp() throws {
        var services = try Fx.services()
        var spec = services[0].spec
        spec.upShare = 0
        services[0] = try ServiceCompiler.compile(spec, regions: [], sources: GeoSources())
        let rows = Fx.table(services, states: ["198.51.100.1": .down])
        XCTAssertEqual(rows.up[0], [true, false, true], "up_share 0 still needs one address up")
        XCTAssertEqual(rows.degraded[0], true)
    }
}
