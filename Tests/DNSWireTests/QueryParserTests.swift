import TestSupport
import XCTest
@testable import DNSWire

final class QueryParserTests: XCTestCase {
    static let formErr = ParseOutcome.error(RCode.formErr)
    static let notImp = ParseOutcome.error(RCode.notImp)

    /// A valid query with every EDNS feature: OPT (DO, 4096), NSID, ECS 192.0.2.0/24, an unknown option.
    static let fullQuery: [UInt8] = Wire.query(
        "Www.Example.COM", 28, id: 0xBEEF, flags: 0x0110,
        additional: [
            Wire.opt(
                udp: 4096, doBit: true,
                rdata: Wire.option(3, []) + Wire.ecs(family: 1, source: 24, address: [192, 0, 2])
                    + Wire.option(65001, [1, 2, 3]))
        ])

    func testValidQueryFields() {
        let r = runParser(Self.fullQuery)
        XCTAssertEqual(r.outcome, .query)
        XCTAssertEqual(r.query.id, 0xBEEF)
        XCTAssertEqual(r.query.flags, 0x0110)
        XCTAssertTrue(r.query.recursionDesired)
        XCTAssertTrue(r.query.checkingDisabled)
        XCTAssertEqual(r.query.opcode, 0)
        XCTAssertTrue(r.query.hasQuestion)
        XCTAssertEqual(r.query.qtype, 28)
        XCTAssertEqual(r.query.qclass, 1)
        XCTAssertEqual(r.query.qnameLength, 17)
        XCTAssertEqual(r.qname, Wire.name("Www.Example.COM"))
        XCTAssertEqual(r.qnameLower, Wire.name("www.example.com"))
        XCTAssertTrue(r.query.hasEDNS)
        XCTAssertEqual(r.query.ednsUDPSize, 4096)
        XCTAssertEqual(r.query.ednsVersion, 0)
        XCTAssertTrue(r.query.ednsDO)
        XCTAssertTrue(r.query.nsidRequested)
        XCTAssertEqual(r.query.clientSubnet, ClientSubnet(address: IPAddress(family: .v4, value: 0xC000_0200), sourcePrefix: 24))
    }

    func testPlainQueryHasNoEDNS() {
        let r = runParser(Wire.query("example.com", 1, flags: 0))
        XCTAssertEqual(r.outcome, .query)
        XCTAssertFalse(r.query.hasEDNS)
        XCTAssertEqual(r.query.ednsUDPSize, 0)
        XCTAssertFalse(r.query.ednsDO)
        XCTAssertFalse(r.query.nsidRequested)
        XCTAssertNil(r.query.clientSubnet)
        XCTAssertFalse(r.query.recursionDesired)
    }

    /// Every proper prefix of a valid query is dropped (shorter than a header) or FORMERR; never a trap.
    func testEveryTruncationOfAValidQuery() {
        for full in [Self.fullQuery, Wire.query("www.example.com", 1), Wire.query(".", 2)] {
            XCTAssertEqual(runParser(full).outcome, .query)
            for length in 0..<full.count {
                let outcome = runParser(Array(full[0..<length])).outcome
                XCTAssertEqual(outcome, length < 12 ? .drop : Self.formErr, "prefix of \(length)/\(full.count) octets")
            }
        }
    }

    /// Random corruption never traps and only produces the documented outcomes.
    func testRandomCorruptionNeverTraps() {
        var rng = SplitMix64(seed: 0x5EED)
        var seen: [String: Int] = [:]
        for _ in 0..<5000 {
            var p = Self.fullQuery
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                p[Int(rng.next() % UInt64(p.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            if rng.next() % 3 == 0 { p = Array(p[0..<Int(rng.next() % UInt64(p.count))]) }
            let r = runParser(p)
            switch r.outcome {
            case .query:
                XCTAssertTrue((1...255).contains(r.query.qnameLength))
                seen["query", default: 0] += 1
            case .drop: seen["drop", default: 0] += 1
            case .cookieOnly: seen["cookie", default: 0] += 1
            case let .error(rc):
                XCTAssertTrue(rc == RCode.formErr || rc == RCode.notImp, "rcode \(rc)")
                seen["error", default: 0] += 1
            }
        }
        XCTAssertGreaterThan(seen["query", default: 0], 0)
        XCTAssertGreaterThan(seen["error", default: 0], 0)
        XCTAssertGreaterThan(seen["drop", default: 0], 0)
    }

    /// RFC 7873 §5.2.2 option lengths, §5.2 "only the first is considered", §5.4 no question.
    func testCookieOption() {
        func parsed(_ options: [UInt8], qd: Bool = true) -> ParseResult {
            let opt = Wire.opt(rdata: options)
            return runParser(qd ? Wire.query("a.test.", 1, additional: [opt]) : Wire.header(qd: 0, ar: 1) + opt)
        }
        for length in [8, 16, 24, 40] {
            let r = parsed(Wire.option(10, [UInt8](repeating: 7, count: length)))
            XCTAssertEqual(r.outcome, .query)
            XCTAssertEqual(Int(r.query.cookieLength), length)
        }
        for length in [0, 7, 9, 15, 41] {
            XCTAssertEqual(parsed(Wire.option(10, [UInt8](repeating: 7, count: length))).outcome, .error(RCode.formErr), "\(length) octets")
        }
        let two = parsed(Wire.option(10, [UInt8](repeating: 1, count: 8)) + Wire.option(10, [UInt8](repeating: 2, count: 24)))
        XCTAssertEqual(two.query.cookieLength, 8)
        XCTAssertEqual(parsed(Wire.option(10, [UInt8](repeating: 1, count: 8)), qd: false).outcome, .cookieOnly)
        XCTAssertEqual(parsed(Wire.option(3, []), qd: false).outcome, .error(RCode.formErr))
        let keepalive = parsed(Wire.option(11, []))
        XCTAssertEqual(keepalive.query.keepalive, ParsedQuery.keepaliveRequested)
        XCTAssertEqual(parsed(Wire.option(11, [0, 1])).query.keepalive, ParsedQuery.keepaliveRequested | ParsedQuery.keepaliveMalformed)
    }

    struct Case {
        let label: String
        let packet: [UInt8]
        let outcome: ParseOutcome
    }

    static let q = Wire.question("example.com", 1)

    static var headerCases: [Case] {
        var cases = [
            Case(label: "QR=1", packet: Wire.query("example.com", flags: 0x8000), outcome: .drop),
            Case(label: "QR=1 with opcode 15 and garbage", packet: Wire.header(flags: 0xF800, qd: 9) + [0xFF, 0xFF], outcome: .drop),
            Case(label: "11 octets", packet: Array(Wire.header()[0..<11]), outcome: .drop),
            Case(label: "header only, QDCOUNT 0", packet: Wire.header(qd: 0), outcome: formErr),
            Case(label: "QDCOUNT 0 with a question present", packet: Wire.header(qd: 0) + q, outcome: formErr),
            Case(label: "QDCOUNT 2, two questions", packet: Wire.header(qd: 2) + q + q, outcome: formErr),
            Case(label: "QDCOUNT 2, one question", packet: Wire.header(qd: 2) + q, outcome: formErr),
            Case(label: "opcode 1 with QDCOUNT 0", packet: Wire.header(flags: 0x0800, qd: 0), outcome: notImp),
            Case(label: "question name with a loop", packet: Wire.header() + [0xC0, 12, 0, 1, 0, 1], outcome: formErr),
            Case(
                label: "question name with label 64", packet: Wire.header() + WireNameTests.label(64) + [0, 0, 1, 0, 1],
                outcome: formErr),
            Case(label: "question without class", packet: Wire.header() + Wire.name("example.com") + [0, 1], outcome: formErr),
            Case(
                label: "answer record present and sound",
                packet: Wire.header(an: 1) + q + [0xC0, 12] + Wire.u16(1) + Wire.u16(1) + Wire.u32(60) + Wire.u16(4) + [1, 2, 3, 4],
                outcome: .query),
            Case(label: "answer record counted but missing", packet: Wire.header(an: 1) + q, outcome: formErr),
            Case(
                label: "authority record RDLENGTH overrun",
                packet: Wire.header(ns: 1) + q + [0] + Wire.u16(2) + Wire.u16(1) + Wire.u32(60) + Wire.u16(9) + [1, 2],
                outcome: formErr),
            Case(label: "additional record counted but missing", packet: Wire.header(ar: 1) + q, outcome: formErr),
            Case(
                label: "additional A record then OPT",
                packet: Wire.header(ar: 2) + q + [0xC0, 12] + Wire.u16(1) + Wire.u16(1) + Wire.u32(0) + Wire.u16(4) + [1, 2, 3, 4] + Wire.opt(),
                outcome: .query),
            Case(label: "two OPT records", packet: Wire.query("example.com", additional: [Wire.opt(), Wire.opt()]), outcome: formErr),
            Case(
                label: "two OPT records, different sizes",
                packet: Wire.query("example.com", additional: [Wire.opt(udp: 512), Wire.opt(udp: 4096, doBit: true)]), outcome: formErr),
            Case(
                label: "OPT owned by example.", packet: Wire.query("example.com", additional: [Wire.opt(owner: Wire.name("example"))]),
                outcome: formErr),
            Case(
                label: "OPT owner compressed to the qname",
                packet: Wire.query("example.com", additional: [Wire.opt(owner: [0xC0, 12])]), outcome: formErr),
            Case(
                label: "OPT RDLENGTH past the end",
                packet: Wire.query("example.com", additional: [Wire.opt(rdata: Wire.option(3, []), rdlength: 8)]), outcome: formErr),
            Case(
                label: "option length overrun",
                packet: Wire.query("example.com", additional: [Wire.opt(rdata: Wire.u16(65001) + Wire.u16(10) + [1, 2, 3, 4])]),
                outcome: formErr),
            Case(
                label: "option length overrun into following bytes of the packet",
                packet: Wire.header(ar: 2) + q + Wire.opt(rdata: Wire.u16(65001) + Wire.u16(12))
                    + [0xC0, 12] + Wire.u16(1) + Wire.u16(1) + Wire.u32(0) + Wire.u16(0),
                outcome: formErr),
            Case(
                label: "option header cut (3 octets)",
                packet: Wire.query("example.com", additional: [Wire.opt(rdata: [0, 8, 0])]), outcome: formErr),
            Case(label: "empty OPT", packet: Wire.query("example.com", additional: [Wire.opt()]), outcome: .query),
            Case(
                label: "unknown option ignored",
                packet: Wire.query("example.com", additional: [Wire.opt(rdata: Wire.option(65001, [9, 9, 9]) + Wire.option(10, [1, 2, 3, 4, 5, 6, 7, 8]))]),
                outcome: .query),
            Case(
                label: "EDNS version 1 still parses (BADVERS is the engine's)",
                packet: Wire.query("example.com", additional: [Wire.opt(version: 1)]), outcome: .query),
        ]
        for opcode: UInt16 in 1...15 {
            cases.append(Case(label: "opcode \(opcode)", packet: Wire.query("example.com", flags: opcode << 11), outcome: notImp))
        }
        return cases
    }

    func testHeaderAndSectionTable() {
        for c in Self.headerCases {
            XCTAssertEqual(runParser(c.packet).outcome, c.outcome, c.label)
        }
    }

    func testNotImpKeepsQuestionAndOpcode() {
        let r = runParser(Wire.query("Example.com", 16, flags: 0x2900))
        XCTAssertEqual(r.outcome, Self.notImp)
        XCTAssertEqual(r.query.opcode, 5)
        XCTAssertTrue(r.query.hasQuestion)
        XCTAssertEqual(r.qname, Wire.name("Example.com"))
        XCTAssertEqual(r.query.qtype, 16)
    }

    func testFormErrAfterQuestionKeepsQuestion() {
        let r = runParser(Wire.query("example.com", 1, id: 77, additional: [Wire.opt(), Wire.opt()]))
        XCTAssertEqual(r.outcome, Self.formErr)
        XCTAssertEqual(r.query.id, 77)
        XCTAssertTrue(r.query.hasQuestion)
        XCTAssertEqual(r.query.qnameLength, 13)
    }

    struct ECSCase {
        let label: String
        let option: [UInt8]
        let expect: ClientSubnet? // nil = FORMERR
    }

    static let ecsCases: [ECSCase] = [
        ECSCase(
            label: "v4 /24", option: Wire.ecs(family: 1, source: 24, address: [192, 0, 2]),
            expect: ClientSubnet(address: IPAddress(family: .v4, value: 0xC000_0200), sourcePrefix: 24)),
        ECSCase(
            label: "v4 /32", option: Wire.ecs(family: 1, source: 32, address: [198, 51, 100, 7]),
            expect: ClientSubnet(address: IPAddress(family: .v4, value: 0xC633_6407), sourcePrefix: 32)),
        ECSCase(
            label: "v4 /20", option: Wire.ecs(family: 1, source: 20, address: [10, 1, 0x10]),
            expect: ClientSubnet(address: IPAddress(family: .v4, value: 0x0A01_1000), sourcePrefix: 20)),
        ECSCase(
            label: "v4 /0", option: Wire.ecs(family: 1, source: 0, address: []),
            expect: ClientSubnet(address: IPAddress(family: .v4, value: 0), sourcePrefix: 0)),
        ECSCase(
            label: "v4 /24 scope 16 in query", option: Wire.ecs(family: 1, source: 24, scope: 16, address: [203, 0, 113]),
            expect: ClientSubnet(address: IPAddress(family: .v4, value: 0xCB00_7100), sourcePrefix: 24, queryScope: 16)),
        ECSCase(
            label: "v6 /56", option: Wire.ecs(family: 2, source: 56, address: [0x20, 0x01, 0x0D, 0xB8, 0x00, 0x01, 0x02]),
            expect: ClientSubnet(address: IPAddress(family: .v6, value: 0x2001_0DB8_0001_0200_0000_0000_0000_0000), sourcePrefix: 56)),
        ECSCase(
            label: "v6 /72", option: Wire.ecs(family: 2, source: 72, address: [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0xAB]),
            expect: ClientSubnet(address: IPAddress(family: .v6, value: 0x2001_0DB8_0000_0000_AB00_0000_0000_0000), sourcePrefix: 72)),
        ECSCase(
            label: "v6 /128",
            option: Wire.ecs(
                family: 2, source: 128,
                address: [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            expect: ClientSubnet(address: IPAddress(family: .v6, value: 0x2001_0DB8_0000_0000_0000_0000_0000_0001), sourcePrefix: 128)),
        ECSCase(label: "family 3", option: Wire.ecs(family: 3, source: 8, address: [10]), expect: nil),
        ECSCase(label: "family 0", option: Wire.ecs(family: 0, source: 0, address: []), expect: nil),
        ECSCase(label: "v4 /33", option: Wire.ecs(family: 1, source: 33, address: [192, 0, 2, 1, 0]), expect: nil),
        ECSCase(label: "v6 /129", option: Wire.ecs(family: 2, source: 129, address: [UInt8](repeating: 0, count: 17)), expect: nil),
        ECSCase(label: "v4 /23 with bit 24 set", option: Wire.ecs(family: 1, source: 23, address: [192, 0, 3]), expect: nil),
        ECSCase(label: "v4 /25 with bit 26 set", option: Wire.ecs(family: 1, source: 25, address: [192, 0, 2, 0x40]), expect: nil),
        ECSCase(
            label: "v6 /65 with bit 66 set", option: Wire.ecs(family: 2, source: 65, address: [0x20, 1, 0x0D, 0xB8, 0, 0, 0, 0, 0x40]),
            expect: nil),
        ECSCase(label: "v4 /24 with 4 octets", option: Wire.ecs(family: 1, source: 24, address: [192, 0, 2, 0]), expect: nil),
        ECSCase(label: "v4 /24 with 2 octets", option: Wire.ecs(family: 1, source: 24, address: [192, 0]), expect: nil),
        ECSCase(label: "v4 /0 with 1 octet", option: Wire.ecs(family: 1, source: 0, address: [0]), expect: nil),
        ECSCase(
            label: "v6 /48 with 8 octets", option: Wire.ecs(family: 2, source: 48, address: [0x20, 1, 0x0D, 0xB8, 0, 1, 0, 0]),
            expect: nil),
        ECSCase(label: "body of 3 octets", option: Wire.option(8, [0, 1, 24]), expect: nil),
        ECSCase(label: "empty body", option: Wire.option(8, []), expect: nil),
        ECSCase(
            label: "two ECS options",
            option: Wire.ecs(family: 1, source: 24, address: [192, 0, 2]) + Wire.ecs(family: 1, source: 24, address: [192, 0, 2]),
            expect: nil),
    ]

    func testClientSubnetTable() {
        for c in Self.ecsCases {
            let r = runParser(Wire.query("example.com", additional: [Wire.opt(rdata: c.option)]))
            if let e = c.expect {
                XCTAssertEqual(r.outcome, .query, c.label)
                XCTAssertEqual(r.query.clientSubnet, e, c.label)
                XCTAssertEqual(r.query.clientSubnet?.addressOctets, (Int(e.sourcePrefix) + 7) / 8, c.label)
            } else {
                XCTAssertEqual(r.outcome, Self.formErr, c.label)
            }
        }
    }

    struct EDNSCase {
        let label: String
        let opt: [UInt8]
        let udp: UInt16, version: UInt8, dnssecOK: Bool, nsid: Bool
    }

    static let ednsCases: [EDNSCase] = [
        EDNSCase(label: "512, DO clear", opt: Wire.opt(udp: 512), udp: 512, version: 0, dnssecOK: false, nsid: false),
        EDNSCase(label: "4096, DO set", opt: Wire.opt(udp: 4096, doBit: true), udp: 4096, version: 0, dnssecOK: true, nsid: false),
        EDNSCase(label: "size 0", opt: Wire.opt(udp: 0), udp: 0, version: 0, dnssecOK: false, nsid: false),
        EDNSCase(label: "version 1", opt: Wire.opt(udp: 1232, version: 1), udp: 1232, version: 1, dnssecOK: false, nsid: false),
        EDNSCase(
            label: "version 255, DO", opt: Wire.opt(udp: 65535, version: 255, doBit: true), udp: 65535, version: 255,
            dnssecOK: true, nsid: false),
        EDNSCase(
            label: "other Z bits are not DO", opt: [0] + Wire.u16(41) + Wire.u16(1400) + [0, 0] + Wire.u16(0x7FFF) + Wire.u16(0),
            udp: 1400, version: 0, dnssecOK: false, nsid: false),
        EDNSCase(
            label: "NSID request", opt: Wire.opt(udp: 1232, rdata: Wire.option(3, [])), udp: 1232, version: 0,
            dnssecOK: false, nsid: true),
        EDNSCase(
            label: "NSID after unknown option", opt: Wire.opt(udp: 1232, rdata: Wire.option(65001, [1]) + Wire.option(3, [])),
            udp: 1232, version: 0, dnssecOK: false, nsid: true),
        EDNSCase(
            label: "unknown option only", opt: Wire.opt(udp: 1232, rdata: Wire.option(65001, [1, 2, 3])), udp: 1232,
            version: 0, dnssecOK: false, nsid: false),
    ]

    func testEDNSFieldsTable() {
        for c in Self.ednsCases {
            let r = runParser(Wire.query("example.com", additional: [c.opt]))
            XCTAssertEqual(r.outcome, .query, c.label)
            XCTAssertTrue(r.query.hasEDNS, c.label)
            XCTAssertEqual(r.query.ednsUDPSize, c.udp, c.label)
            XCTAssertEqual(r.query.ednsVersion, c.version, c.label)
            XCTAssertEqual(r.query.ednsDO, c.dnssecOK, c.label)
            XCTAssertEqual(r.query.nsidRequested, c.nsid, c.label)
            XCTAssertNil(r.query.clientSubnet, c.label)
        }
    }

    func testPrefixMask() {
        XCTAssertTrue(QueryParser.prefixMask(0) == (0, 0))
        XCTAssertTrue(QueryParser.prefixMask(24) == (0xFFFF_FF00_0000_0000, 0))
        XCTAssertTrue(QueryParser.prefixMask(64) == (~0, 0))
        XCTAssertTrue(QueryParser.prefixMask(65) == (~0, 0x8000_0000_0000_0000))
        XCTAssertTrue(QueryParser.prefixMask(128) == (~0, ~0))
    }
}

/// `MessageScan.hasAtMostOneTSIG`: what may be handed to ldns (which leaks all but the last TSIG).
final class MessageScanTests: XCTestCase {
    let tsig = Wire.name("k.") + Wire.u16(250) + Wire.u16(255) + Wire.u32(0) + Wire.u16(2) + [0, 0]
    let a = Wire.name("x.") + Wire.u16(1) + Wire.u16(1) + Wire.u32(60) + Wire.u16(4) + [192, 0, 2, 1]

    func message(_ additional: [[UInt8]]) -> [UInt8] {
        Wire.header(qd: 1, ar: UInt16(additional.count)) + Wire.question("z.", 252) + additional.flatMap { $0 }
    }

    func testOneTSIGLast() {
        XCTAssertTrue(MessageScan.hasAtMostOneTSIG(message([])))
        XCTAssertTrue(MessageScan.hasAtMostOneTSIG(message([tsig])))
        XCTAssertTrue(MessageScan.hasAtMostOneTSIG(message([a, tsig])))
        XCTAssertFalse(MessageScan.hasAtMostOneTSIG(message([tsig, tsig])), "two TSIG records")
        XCTAssertFalse(MessageScan.hasAtMostOneTSIG(message([tsig, a])), "TSIG not last (RFC 8945 §5.1)")
        XCTAssertFalse(MessageScan.hasAtMostOneTSIG(Array(message([a, tsig]).dropLast())), "truncated")
        XCTAssertFalse(MessageScan.hasAtMostOneTSIG([0, 1, 2]), "shorter than a header")
    }
}
