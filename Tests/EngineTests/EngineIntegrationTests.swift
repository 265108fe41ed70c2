import GSLBFixtures
import DNSWire
import Engine
import Geo
import Steering
import TestSupport
import XCTest
import Zones

/// GSLB answers through the real query path: Snapshot + QueryProcessor, ECS in, ECS scope out.
final class EngineIntegrationTests: XCTestCase {
    static let zoneText = """
        $ORIGIN gslb.test.
        $TTL 3600
        @        IN SOA ns1.gslb.test. hostmaster.gslb.test. 1 3600 900 604800 300
        @        IN NS  ns1
        ns1      IN A   127.0.0.1
        www  300 IN A   192.0.2.100
        www  300 IN AAAA 2001:db8:100::1
        cdn  300 IN CNAME www
        """
    static let serviceCSV = """
        198.51.100.0/24,na
        10.1.0.0/16,ap
        203.0.113.0/24,ap
        203.0.113.128/25,na
        """
    static let globalCSV = "10.0.0.0/8,eu\n"

    struct Setup {
        let zone: CompiledZone
        let www: CompiledService
        let fo: CompiledService
    }

    func setup() throws -> Setup {
        let global = try NetworkTable.readRegionTable(path: Temp.file("global.csv", Self.globalCSV))
        let path = Temp.file("svc.csv", Self.serviceCSV)
        let www = Fx.compile(
            Fx.spec(.geo, name: "www.gslb.test.") {
                $0.networks = path; $0.ttl = 20
            }, sources: GeoSources(networks: global))
        // a service with no static records: its name exists only through extraOwners
        let fo = Fx.compile(
            Fx.spec(.failover, name: "FO.gslb.test.") {
                $0.order = ["na", "eu"]; $0.ttl = 45
            })
        let zonePath = Temp.file("gslb.test.zone", Self.zoneText)
        let zone = try ZoneCompiler.load(path: zonePath, origin: "gslb.test.", extraOwners: [www.name, fo.name])
        return Setup(zone: zone, www: www, fo: fo)
    }

    func snapshot(_ s: Setup, health: HealthTable? = nil) throws -> Snapshot {
        try Snapshot(zones: [s.zone], services: [s.www, s.fo], health: health, identity: ServerIdentity(), udpPayloadSize: 1232)
    }

    func ask(
        _ snap: Snapshot, _ name: String, _ qtype: UInt16, ecs: (UInt16, UInt8, [UInt8])? = nil, edns: Bool = true,
        client: IPAddress? = nil
    ) -> Wire.Response {
        let q = Wire.query(name, qtype, edns: edns, ecs: ecs)
        let p = QueryProcessor(seed: 7)
        let out = UnsafeMutablePointer<UInt8>.allocate(capacity: 65535)
        defer { out.deallocate() }
        let n = q.withUnsafeBytes { p.process(query: $0, response: out, capacity: 65535, transport: .udp, client: client, snapshot: snap) }
        XCTAssertGreaterThan(n, 12)
        return Wire.decode(Array(UnsafeBufferPointer(start: out, count: n)))
    }

    func a(_ owner: String, _ ttl: UInt32, _ address: String) -> Wire.Record {
        Wire.Record(owner: owner, type: DNSType.a, ttl: ttl, rdata: octets(address), target: nil)
    }

    func aaaa(_ owner: String, _ ttl: UInt32, _ address: String) -> Wire.Record {
        Wire.Record(owner: owner, type: DNSType.aaaa, ttl: ttl, rdata: octets(address), target: nil)
    }

    func assertECS(
        _ r: Wire.Response, family: UInt16, source: UInt8, scope: UInt8, address: [UInt8],
        file: StaticString = #filePath, line: UInt = #line
    ) {
        guard let ecs = r.ecs else { return XCTFail("no ECS option echoed", file: file, line: line) }
        XCTAssertEqual(ecs.family, family, file: file, line: line)
        XCTAssertEqual(ecs.source, source, file: file, line: line)
        XCTAssertEqual(ecs.scope, scope, "ECS scope", file: file, line: line)
        XCTAssertEqual(ecs.address, address, file: file, line: line)
    }

    func testTailoredAnswerWithServiceTTLAndScope() throws {
        let snap = try snapshot(setup())
        var r = ask(snap, "www.gslb.test.", DNSType.a, ecs: (1, 24, [10, 1, 2]))
        XCTAssertEqual(r.rcode, 0)
        XCTAssertTrue(r.aa)
        XCTAssertEqual(r.answer, [a("www.gslb.test.", 20, Fx.apA)])
        XCTAssertEqual(r.authority, [])
        assertECS(r, family: 1, source: 24, scope: 16, address: [10, 1, 2])

        r = ask(snap, "www.gslb.test.", DNSType.a, ecs: (1, 24, [203, 0, 113]))
        XCTAssertEqual(r.answer, [a("www.gslb.test.", 20, Fx.apA)])
        assertECS(r, family: 1, source: 24, scope: 25, address: [203, 0, 113])

        r = ask(snap, "www.gslb.test.", DNSType.a, ecs: (1, 25, [203, 0, 113, 128]))
        XCTAssertEqual(r.answer, [a("www.gslb.test.", 20, Fx.naA)])
        assertECS(r, family: 1, source: 25, scope: 25, address: [203, 0, 113, 128])

        // the question's case is kept, the answer owner points at it
        r = ask(snap, "WWW.Gslb.TEST.", DNSType.a, ecs: (1, 24, [198, 51, 100]))
        XCTAssertEqual(r.answer, [a("WWW.Gslb.TEST.", 20, Fx.naA)])
        assertECS(r, family: 1, source: 24, scope: 24, address: [198, 51, 100])

        // global table, a source shorter than the scope
        r = ask(snap, "www.gslb.test.", DNSType.a, ecs: (1, 8, [10]))
        XCTAssertEqual(r.answer, [a("www.gslb.test.", 20, Fx.euA)])
        assertECS(r, family: 1, source: 8, scope: 16, address: [10])
    }

    func testStaticDefaultKeepsZoneRecordsWithNonZeroScope() throws {
        let snap = try snapshot(setup())
        var r = ask(snap, "www.gslb.test.", DNSType.a, ecs: (1, 24, [8, 8, 8]))
        XCTAssertEqual(r.rcode, 0)
        XCTAssertEqual(r.answer, [a("www.gslb.test.", 300, "192.0.2.100")])
        assertECS(r, family: 1, source: 24, scope: 7, address: [8, 8, 8])

        r = ask(snap, "www.gslb.test.", DNSType.aaaa, ecs: (2, 56, [0x2a, 0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(r.answer, [aaaa("www.gslb.test.", 300, "2001:db8:100::1")])
        assertECS(r, family: 2, source: 56, scope: 0, address: [0x2a, 0, 0, 0, 0, 0, 0])

        // ECS SOURCE 0: no client information -> unknown-client order (static), scope 0
        r = ask(snap, "www.gslb.test.", DNSType.a, ecs: (1, 0, []))
        XCTAssertEqual(r.answer, [a("www.gslb.test.", 300, "192.0.2.100")])
        assertECS(r, family: 1, source: 0, scope: 0, address: [])
    }

    func testCNAMEToServiceIsChased() throws {
        let snap = try snapshot(setup())
        let r = ask(snap, "cdn.gslb.test.", DNSType.a, ecs: (1, 24, [10, 1, 9]))
        XCTAssertEqual(r.rcode, 0)
        XCTAssertEqual(r.answer.count, 2, "\(r.answer)")
        XCTAssertEqual(r.answer.first?.type, DNSType.cname)
        XCTAssertEqual(r.answer.first?.owner, "cdn.gslb.test.")
        XCTAssertEqual(r.answer.first?.target, "www.gslb.test.")
        XCTAssertEqual(r.answer.first?.ttl, 300)
        XCTAssertEqual(r.answer.last, a("www.gslb.test.", 20, Fx.apA))
        assertECS(r, family: 1, source: 24, scope: 16, address: [10, 1, 9])

        let s = ask(snap, "cdn.gslb.test.", DNSType.a, ecs: (1, 24, [8, 8, 8]))
        XCTAssertEqual(s.answer.last, a("www.gslb.test.", 300, "192.0.2.100"))
        assertECS(s, family: 1, source: 24, scope: 7, address: [8, 8, 8])
    }

    func testAAAAAtServiceName() throws {
        let snap = try snapshot(setup())
        var r = ask(snap, "www.gslb.test.", DNSType.aaaa, ecs: (1, 24, [198, 51, 100]))
        XCTAssertEqual(r.answer, [aaaa("www.gslb.test.", 20, Fx.naAAAA)])
        assertECS(r, family: 1, source: 24, scope: 24, address: [198, 51, 100])
        // ap has no AAAA: the next region in ap's order (eu)
        r = ask(snap, "www.gslb.test.", DNSType.aaaa, ecs: (1, 24, [203, 0, 113]))
        XCTAssertEqual(r.answer, [aaaa("www.gslb.test.", 20, Fx.euAAAA)])
        assertECS(r, family: 1, source: 24, scope: 25, address: [203, 0, 113])
    }

    func testTXTAtServiceNameIsStaticNODATA() throws {
        let snap = try snapshot(setup())
        for name in ["www.gslb.test.", "fo.gslb.test."] {
            // no TXT in the zone at the service name: NODATA with the SOA (TTL = SOA MINIMUM 300), scope 0
            let n = ask(snap, name, DNSType.txt, ecs: (1, 24, [10, 1, 2]))
            XCTAssertEqual(n.rcode, 0, name)
            XCTAssertTrue(n.aa, name)
            XCTAssertEqual(n.answer, [], name)
            XCTAssertEqual(n.authority.map(\.type), [DNSType.soa], name)
            XCTAssertEqual(n.authority.first?.owner, "gslb.test.", name)
            XCTAssertEqual(n.authority.first?.ttl, 300, name)
            assertECS(n, family: 1, source: 24, scope: 0, address: [10, 1, 2])
        }
    }

    func testFailoverServiceOnExtraOwner() throws {
        let snap = try snapshot(setup())
        var r = ask(snap, "fo.gslb.test.", DNSType.a, ecs: (1, 24, [10, 1, 2]))
        XCTAssertEqual(r.answer, [a("fo.gslb.test.", 45, Fx.naA)])
        assertECS(r, family: 1, source: 24, scope: 0, address: [10, 1, 2])
        // no ECS: no ECS in the answer; without EDNS no OPT at all
        r = ask(snap, "fo.gslb.test.", DNSType.a)
        XCTAssertEqual(r.answer, [a("fo.gslb.test.", 45, Fx.naA)])
        XCTAssertTrue(r.hasOPT)
        XCTAssertNil(r.ecs)
        r = ask(snap, "fo.gslb.test.", DNSType.a, edns: false)
        XCTAssertFalse(r.hasOPT)
        // AAAA with the first two down: ap has no AAAA -> fail open to na
        let s = try setup()
        let down = try snapshot(s, health: health([s.www, s.fo], up: [[true, true, true], [false, false, true]]))
        r = ask(down, "fo.gslb.test.", DNSType.aaaa)
        XCTAssertEqual(r.answer, [aaaa("fo.gslb.test.", 45, Fx.naAAAA)])
        r = ask(down, "fo.gslb.test.", DNSType.a)
        XCTAssertEqual(r.answer, [a("fo.gslb.test.", 45, Fx.apA)])
    }

    func testTransportAddressIsUsedWithoutECS() throws {
        let snap = try snapshot(setup())
        let client = IPAddress(family: .v4, value: 0x0A01_0203) // 10.1.2.3
        let r = ask(snap, "www.gslb.test.", DNSType.a, client: client)
        XCTAssertEqual(r.answer, [a("www.gslb.test.", 20, Fx.apA)])
        XCTAssertNil(r.ecs)
        let v6 = IPAddress(family: .v6, value: 0x2a00_0000_0000_0000_0000_0000_0000_0001)
        XCTAssertEqual(ask(snap, "www.gslb.test.", DNSType.a, client: v6).answer, [a("www.gslb.test.", 300, "192.0.2.100")])
    }

    func testHealthDownMovesToNextRegion() throws {
        let s = try setup()
        // www pools: eu, na, ap; na down
        let snap = try snapshot(s, health: health([s.www, s.fo], up: [[true, false, true], [true, true, true]]))
        var r = ask(snap, "www.gslb.test.", DNSType.a, ecs: (1, 24, [198, 51, 100]))
        XCTAssertEqual(r.answer, [a("www.gslb.test.", 20, Fx.euA)])
        assertECS(r, family: 1, source: 24, scope: 24, address: [198, 51, 100])
        r = ask(snap, "www.gslb.test.", DNSType.a, ecs: (1, 24, [10, 1, 2]))
        XCTAssertEqual(r.answer, [a("www.gslb.test.", 20, Fx.apA)], "ap is up")
        // eu and na down: na's order [na, eu, ap] -> ap
        let two = try snapshot(s, health: health([s.www, s.fo], up: [[false, false, true], [true, true, true]]))
        r = ask(two, "www.gslb.test.", DNSType.a, ecs: (1, 24, [198, 51, 100]))
        XCTAssertEqual(r.answer, [a("www.gslb.test.", 20, Fx.apA)])
        // fo: na down -> eu
        let fo = try snapshot(s, health: health([s.www, s.fo], up: [[true, true, true], [true, false, true]]))
        XCTAssertEqual(ask(fo, "fo.gslb.test.", DNSType.a).answer, [a("fo.gslb.test.", 45, Fx.euA)])
    }

    func testServiceOutsideAnyZoneIsRejected() throws {
        let s = try setup()
        let outside = Fx.compile(Fx.spec(.failover, name: "www.example.net."))
        XCTAssertThrowsError(try Snapshot(zones: [s.zone], services: [s.www, outside])) { error in
            XCTAssertTrue(error is SnapshotError, "\(error)")
            XCTAssertTrue("\(error)".contains("www.example.net. is not inside any configured zone"), "\(error)")
        }
        // inside the zone but without a node (not passed as an extra owner)
        let noNode = Fx.compile(Fx.spec(.failover, name: "api.gslb.test."))
        XCTAssertThrowsError(try Snapshot(zones: [s.zone], services: [noNode])) { error in
            XCTAssertTrue("\(error)".contains("has no node in zone"), "\(error)")
        }
        // on a CNAME
        let onCNAME = Fx.compile(Fx.spec(.failover, name: "cdn.gslb.test."))
        XCTAssertThrowsError(try Snapshot(zones: [s.zone], services: [onCNAME])) { error in
            XCTAssertTrue("\(error)".contains("sits on a delegation or CNAME"), "\(error)")
        }
        // static default, but the name has no static A/AAAA
        let staticNeeded = Fx.compile(Fx.spec(.geo, name: "fo.gslb.test."))
        XCTAssertThrowsError(try Snapshot(zones: [s.zone], services: [staticNeeded])) { error in
            XCTAssertTrue("\(error)".contains("static records"), "\(error)")
        }
        XCTAssertNoThrow(try Snapshot(zones: [s.zone], services: [s.www, s.fo]))
    }
}
