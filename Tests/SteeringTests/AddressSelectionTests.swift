import GSLBFixtures
import DNSWire
import Engine
import Steering
import TestSupport
import XCTest
import Zones

/// Second stage: which addresses of the chosen region go into the answer (`select`, `max_answers`).
final class AddressSelectionTests: XCTestCase {
    static let zoneText = """
        $ORIGIN sel.test.
        @ 3600 IN SOA ns1.sel.test. h.sel.test. 1 3600 900 604800 300
        @ 3600 IN NS ns1
        ns1 3600 IN A 127.0.0.1
        """

    func snapshot(select: SelectKind, maxAnswers: Int = 0) throws -> Snapshot {
        let pool = PoolSpec(region: "eu", addresses: (1...4).map { PoolAddress(text: "192.0.2.\($0)") })
        let spec = Fx.spec(.failover, name: "s.sel.test.", pools: [pool]) {
            $0.select = select; $0.maxAnswers = maxAnswers
        }
        let service = Fx.compile(spec)
        let zone = try ZoneCompiler.load(path: Temp.file("sel.zone", Self.zoneText), origin: "sel.test.", extraOwners: [service.name])
        return try Snapshot(zones: [zone], services: [service], health: nil, identity: ServerIdentity(), udpPayloadSize: 1232)
    }

    /// The A addresses answered to a client in 198.51.100.0/24 with host byte `host`, by a fresh processor with `seed`.
    func answer(_ snap: Snapshot, host: UInt8, seed: UInt64) -> [[UInt8]] {
        let q = Wire.query("s.sel.test.", DNSType.a, edns: true, ecs: (1, 32, [198, 51, 100, host]))
        let p = QueryProcessor(seed: seed)
        let out = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
        defer { out.deallocate() }
        let n = q.withUnsafeBytes { p.process(query: $0, response: out, capacity: 4096, transport: .udp, client: .none, snapshot: snap) }
        return Wire.decode(Array(UnsafeBufferPointer(start: out, count: n))).answer.map(\.rdata)
    }

    func testAllAnswersEveryAddress() throws {
        XCTAssertEqual(answer(try snapshot(select: .all), host: 1, seed: 1).count, 4)
    }

    func testFirstAnswersOneAddressUnlessMaxAnswersAsksForMore() throws {
        XCTAssertEqual(answer(try snapshot(select: .first), host: 1, seed: 1), [[192, 0, 2, 1]])
        XCTAssertEqual(answer(try snapshot(select: .first, maxAnswers: 2), host: 1, seed: 1), [[192, 0, 2, 1], [192, 0, 2, 2]])
    }

    func testHashIsStickyPerClientNetwork() throws {
        let snap = try snapshot(select: .hash, maxAnswers: 1)
        // the same /24 gets the same address whatever the host bits and the processor's random state
        let reference = answer(snap, host: 1, seed: 1)
        XCTAssertEqual(reference.count, 1)
        for (host, seed) in [(2, 99), (77, 12345), (250, 3)] as [(UInt8, UInt64)] {
            XCTAssertEqual(answer(snap, host: host, seed: seed), reference)
        }
    }

    func testWeightedVariesAcrossQueries() throws {
        let snap = try snapshot(select: .weighted, maxAnswers: 1)
        var seen = Set<[UInt8]>()
        for seed in 1...64 { seen.formUnion(answer(snap, host: 1, seed: UInt64(seed) &* 0x9E37_79B9)) }
        XCTAssertGreaterThan(seen.count, 1, "weighted selection should spread over the addresses")
    }
}
