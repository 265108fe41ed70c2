import Engine
import TestSupport
import XCTest

/// Golden wire tests: query bytes -> exact response bytes, frozen as hex. Each golden response is also
/// decoded by ldns and its fields checked, so the bytes are validated independently of the engine.
final class GoldenWireTests: XCTestCase {
    struct Golden {
        let label: String
        let query: String
        let response: String
    }

    /// www.gslb.test A, no EDNS, RD. Answer owner is the pointer c00c.
    static let wwwA = Golden(
        label: "A www",
        query: "abcd 0100 0001 0000 0000 0000  03777777 0467736c62 0474657374 00  0001 0001",
        response: """
            abcd 8500 0001 0001 0000 0000  03777777 0467736c62 0474657374 00  0001 0001
            c00c 0001 0001 0000012c 0004 c000020a
            """)

    /// nope.gslb.test A with EDNS 4096: NXDOMAIN, SOA (TTL 300 = MINIMUM) owned by c011 = "gslb.test" in the
    /// question, OPT with our size 1232.
    static let nxdomain = Golden(
        label: "NXDOMAIN",
        query: "0001 0100 0001 0000 0000 0001  046e6f7065 0467736c62 0474657374 00  0001 0001  00 0029 1000 00 00 0000 0000",
        response: """
            0001 8503 0001 0000 0001 0001  046e6f7065 0467736c62 0474657374 00  0001 0001
            c011 0006 0001 0000012c 0039
              036e7331 0467736c62 0474657374 00
              0a686f73746d6173746572 0467736c62 0474657374 00
              78a3f175 00000e10 00000384 00093a80 0000012c
            00 0029 04d0 00 00 0000 0000
            """)

    /// www.sub.gslb.test A, RD clear: referral, AA clear, NS owned by c010 = "sub.gslb.test",
    /// glue "ns" + c010.
    static let referral = Golden(
        label: "referral",
        query: "beef 0000 0001 0000 0000 0000  03777777 03737562 0467736c62 0474657374 00  0001 0001",
        response: """
            beef 8000 0001 0000 0001 0001  03777777 03737562 0467736c62 0474657374 00  0001 0001
            c010 0002 0001 00000e10 0012  026e73 03737562 0467736c62 0474657374 00
            026e73 c010 0001 0001 00000e10 0004 7f000003
            """)

    /// Two OPT records: FORMERR, question echoed, nothing else (no OPT).
    static let twoOPT = Golden(
        label: "FORMERR for two OPTs",
        query: """
            2222 0100 0001 0000 0000 0002  03777777 0467736c62 0474657374 00  0001 0001
            00 0029 04d0 00 00 0000 0000  00 0029 04d0 00 00 0000 0000
            """,
        response: "2222 8101 0001 0000 0000 0000  03777777 0467736c62 0474657374 00  0001 0001")

    /// EDNS version 1 with DO: BADVERS (16) = header RCODE 0 + OPT extended RCODE 1, OPT version 0, DO copied.
    static let badVers = Golden(
        label: "BADVERS",
        query: "3333 0100 0001 0000 0000 0001  03777777 0467736c62 0474657374 00  0001 0001  00 0029 04d0 00 01 8000 0000",
        response: """
            3333 8100 0001 0000 0000 0001  03777777 0467736c62 0474657374 00  0001 0001
            00 0029 04d0 01 00 8000 0000
            """)

    static let all = [wwwA, nxdomain, referral, twoOPT, badVers]

    func testGoldenBytes() {
        let snap = TestZones.shared.configured
        for g in Self.all {
            let got = answer(Wire.bytes(hex: g.query), snapshot: snap)
            XCTAssertEqual(Wire.hex(got), Wire.hex(Wire.bytes(hex: g.response)), g.label)
        }
    }

    /// The hand-written query literals are what the test query builder produces (guards the literals).
    func testQueryLiteralsMatchBuilder() {
        XCTAssertEqual(Wire.bytes(hex: Self.wwwA.query), Wire.query("www.gslb.test.", 1, id: 0xABCD, flags: 0x0100))
        XCTAssertEqual(
            Wire.bytes(hex: Self.nxdomain.query),
            Wire.query("nope.gslb.test.", 1, id: 1, flags: 0x0100, additional: [Wire.opt(udp: 4096)]))
        XCTAssertEqual(Wire.bytes(hex: Self.referral.query), Wire.query("www.sub.gslb.test.", 1, id: 0xBEEF, flags: 0))
        XCTAssertEqual(
            Wire.bytes(hex: Self.twoOPT.query),
            Wire.query("www.gslb.test.", 1, id: 0x2222, flags: 0x0100, additional: [Wire.opt(), Wire.opt()]))
        XCTAssertEqual(
            Wire.bytes(hex: Self.badVers.query),
            Wire.query("www.gslb.test.", 1, id: 0x3333, flags: 0x0100, additional: [Wire.opt(version: 1, doBit: true)]))
    }

    func testGoldenWWWDecodedByLDNS() throws {
        let d = try XCTUnwrap(LDNS.decode(Wire.bytes(hex: Self.wwwA.response)))
        XCTAssertEqual(d.id, 0xABCD)
        XCTAssertTrue(d.qr); XCTAssertTrue(d.aa); XCTAssertFalse(d.tc); XCTAssertTrue(d.rd); XCTAssertFalse(d.ra)
        XCTAssertEqual(d.opcode, 0)
        XCTAssertEqual(d.rcode, 0)
        XCTAssertEqual([d.qdcount, d.ancount, d.nscount, d.arcount], [1, 1, 0, 0])
        XCTAssertEqual(d.question, ["www.gslb.test. IN A"])
        XCTAssertEqual(d.answer, ["www.gslb.test. 300 IN A 192.0.2.10"])
        XCTAssertEqual(d.authority, [])
        XCTAssertEqual(d.additional, [])
        XCTAssertFalse(d.hasOPT)
    }

    func testGoldenNXDOMAINDecodedByLDNS() throws {
        let d = try XCTUnwrap(LDNS.decode(Wire.bytes(hex: Self.nxdomain.response)))
        XCTAssertEqual(d.id, 1)
        XCTAssertTrue(d.qr); XCTAssertTrue(d.aa); XCTAssertFalse(d.tc); XCTAssertTrue(d.rd)
        XCTAssertEqual(d.rcode, 3)
        XCTAssertEqual(d.question, ["nope.gslb.test. IN A"])
        XCTAssertEqual(d.answer, [])
        XCTAssertEqual(d.authority, ["gslb.test. 300 IN SOA ns1.gslb.test. hostmaster.gslb.test. 2024010101 3600 900 604800 300"])
        XCTAssertEqual(d.additional, [])
        XCTAssertTrue(d.hasOPT)
        XCTAssertEqual(d.optUDPSize, 1232)
        XCTAssertEqual(d.optVersion, 0)
        XCTAssertEqual(d.optExtRCode, 0)
        XCTAssertFalse(d.optDO)
        XCTAssertTrue(d.options.isEmpty)
    }

    func testGoldenReferralDecodedByLDNS() throws {
        let d = try XCTUnwrap(LDNS.decode(Wire.bytes(hex: Self.referral.response)))
        XCTAssertEqual(d.id, 0xBEEF)
        XCTAssertTrue(d.qr); XCTAssertFalse(d.aa); XCTAssertFalse(d.tc); XCTAssertFalse(d.rd)
        XCTAssertEqual(d.rcode, 0)
        XCTAssertEqual(d.question, ["www.sub.gslb.test. IN A"])
        XCTAssertEqual(d.answer, [])
        XCTAssertEqual(d.authority, ["sub.gslb.test. 3600 IN NS ns.sub.gslb.test."])
        XCTAssertEqual(d.additional, ["ns.sub.gslb.test. 3600 IN A 127.0.0.3"])
        XCTAssertFalse(d.hasOPT)
    }

    func testGoldenFormErrDecodedByLDNS() throws {
        let d = try XCTUnwrap(LDNS.decode(Wire.bytes(hex: Self.twoOPT.response)))
        XCTAssertEqual(d.id, 0x2222)
        XCTAssertTrue(d.qr); XCTAssertFalse(d.aa); XCTAssertFalse(d.tc); XCTAssertTrue(d.rd)
        XCTAssertEqual(d.rcode, 1)
        XCTAssertEqual(d.question, ["www.gslb.test. IN A"])
        XCTAssertEqual([d.ancount, d.nscount, d.arcount], [0, 0, 0])
        XCTAssertFalse(d.hasOPT)
    }

    func testGoldenBadVersDecodedByLDNS() throws {
        let d = try XCTUnwrap(LDNS.decode(Wire.bytes(hex: Self.badVers.response)))
        XCTAssertEqual(d.id, 0x3333)
        XCTAssertTrue(d.qr); XCTAssertFalse(d.aa); XCTAssertFalse(d.tc); XCTAssertTrue(d.rd)
        XCTAssertEqual(d.headerRCode, 0)
        XCTAssertEqual(d.optExtRCode, 1)
        XCTAssertEqual(d.rcode, 16)
        XCTAssertEqual(d.question, ["www.gslb.test. IN A"])
        XCTAssertEqual(d.answer, [])
        XCTAssertEqual(d.authority, [])
        XCTAssertTrue(d.hasOPT)
        XCTAssertEqual(d.optVersion, 0)
        XCTAssertEqual(d.optUDPSize, 1232)
        XCTAssertTrue(d.optDO)
        XCTAssertTrue(d.options.isEmpty)
    }
}
