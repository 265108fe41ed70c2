import TestSupport
import XCTest
@testable import DNSWire

/// A response buffer with the question already written; owns its memory.
final class WriterBox {
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
    let lower = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    let sent: [UInt8]
    var w: ResponseWriter

    init(question: String, limit: Int = 4096) {
        sent = Wire.name(question)
        buffer.initialize(repeating: 0xAA, count: 4096)
        WireName.lowercase(sent, length: sent.count, into: lower)
        w = ResponseWriter(buffer: buffer, limit: limit, qnameLower: lower, qnameLength: sent.count)
        w.writeHeader(id: 0x4242, flags: 0)
        sent.withUnsafeBufferPointer { w.writeQuestion(name: $0.baseAddress!, length: $0.count, type: 1, class: 1) }
    }
    deinit { buffer.deallocate(); lower.deallocate() }

    var bytes: [UInt8] { Array(UnsafeBufferPointer(start: buffer, count: w.count)) }

    @discardableResult
    func record(_ owner: [UInt8], rdata: [UInt8] = [192, 0, 2, 1], section: ResponseWriter.Section = .answer) -> Bool {
        owner.withUnsafeBufferPointer { o in
            rdata.withUnsafeBytes { r in
                w.writeRecord(owner: .name(o.baseAddress!, o.count), type: 1, class: 1, ttl: 300, rdata: r, section: section)
            }
        }
    }
}

final class ResponseWriterTests: XCTestCase {
    func testHeaderAndQuestion() {
        let box = WriterBox(question: "WwW.Example.com")
        XCTAssertEqual(box.bytes, Wire.header(id: 0x4242, flags: 0, qd: 1) + Wire.name("WwW.Example.com") + [0, 1, 0, 1])
        XCTAssertEqual(box.w.mark, 12 + 17 + 4)
        let n = box.w.finish(flags: 0x8400)
        XCTAssertEqual(n, 33)
        XCTAssertEqual(Array(box.bytes[0..<12]), Wire.header(id: 0x4242, flags: 0x8400, qd: 1))
    }

    /// setTTL rewrites the TTL of the records written since a mark, whatever their owners' form (a
    /// pointer, labels then a pointer, labels then the root), and nothing before the mark.
    func testSetTTLOfRecordsSinceAMark() {
        let box = WriterBox(question: "www.example.com")
        box.record(Wire.name("www.example.com")) // before the mark: keeps TTL 300
        let mark = box.w.mark
        box.record(Wire.name("www.example.com")) // [0xC0, 12]
        box.record(Wire.name("a.www.example.com"), rdata: [1, 2, 3]) // labels, then a pointer
        box.record(Wire.name("other.test")) // labels to the root
        box.w.setTTL(0x0102_0304, ofRecordsSince: mark)
        // the TTL fields: after each owner and TYPE CLASS
        var ttls: [[UInt8]] = []
        var at = 12 + 17 + 4
        let bytes = box.bytes
        for _ in 0..<4 {
            while bytes[at] != 0 && bytes[at] & 0xC0 != 0xC0 { at += Int(bytes[at]) + 1 }
            at += bytes[at] == 0 ? 1 : 2
            ttls.append(Array(bytes[(at + 4)..<(at + 8)]))
            at += 10 + Int(bytes[at + 9])
        }
        XCTAssertEqual(ttls, [[0, 0, 1, 44], [1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]])
        XCTAssertEqual(at, box.w.count)
    }

    struct Case {
        let label: String
        let question: String
        let owner: String
        /// Expected owner octets at the start of the record.
        let wire: [UInt8]
    }

    static let cases: [Case] = [
        Case(label: "owner equal to the question name", question: "www.example.com", owner: "www.example.com", wire: [0xC0, 12]),
        Case(label: "owner equal, question in other case", question: "WWW.EXAMPLE.COM", owner: "www.example.com", wire: [0xC0, 12]),
        Case(label: "parent of the question name", question: "www.example.com", owner: "example.com", wire: [0xC0, 16]),
        Case(label: "grandparent", question: "www.example.com", owner: "com", wire: [0xC0, 24]),
        Case(
            label: "child of the question name", question: "www.example.com", owner: "a.www.example.com",
            wire: [1, 0x61, 0xC0, 12]),
        Case(
            label: "sibling", question: "www.example.com", owner: "mail.example.com",
            wire: [4] + Array("mail".utf8) + [0xC0, 16]),
        Case(
            label: "cousin sharing only the TLD", question: "www.example.com", owner: "ns.other.com",
            wire: [2] + Array("ns".utf8) + [5] + Array("other".utf8) + [0xC0, 24]),
        Case(label: "unrelated", question: "www.example.com", owner: "example.net", wire: Wire.name("example.net")),
        Case(
            label: "shares bytes but not labels", question: "www.example.com", owner: "xample.com",
            wire: [6] + Array("xample".utf8) + [0xC0, 24]),
        Case(label: "suffix bytes not at a label start", question: "x\u{3}com", owner: "com", wire: Wire.name("com")),
        Case(label: "root owner", question: "www.example.com", owner: ".", wire: [0]),
        Case(label: "root question, owner below", question: ".", owner: "example.com", wire: Wire.name("example.com")),
    ]

    func testCompressionTable() {
        for c in Self.cases {
            let question: [UInt8] = c.question == "x\u{3}com" ? [5, 0x78, 3, 0x63, 0x6F, 0x6D, 0] : Wire.name(c.question)
            let box = WriterBox(question: ".")
            // rebuild with the exact question bytes (the special case has a label holding a length octet)
            let buffer = box.buffer, lower = box.lower
            WireName.lowercase(question, length: question.count, into: lower)
            box.w = ResponseWriter(buffer: buffer, limit: 4096, qnameLower: lower, qnameLength: question.count)
            box.w.writeHeader(id: 1, flags: 0)
            question.withUnsafeBufferPointer { box.w.writeQuestion(name: $0.baseAddress!, length: $0.count, type: 1, class: 1) }
            let mark = box.w.mark
            let owner = WireName.fromText(c.owner)!
            XCTAssertTrue(box.record(owner), c.label)
            let bytes = box.bytes
            XCTAssertEqual(Array(bytes[mark..<(mark + c.wire.count)]), c.wire, c.label)
            XCTAssertEqual(Array(bytes[(mark + c.wire.count)...]), [0, 1, 0, 1, 0, 0, 1, 0x2C, 0, 4, 192, 0, 2, 1], c.label)
            // the written owner decompresses (with WireName.read) to the owner, case-insensitively
            var guardOK = false
            let decoded = readName(bytes, at: mark, guardOK: &guardOK)
            var lowered = decoded?.name ?? []
            WireName.lowercase(lowered, length: lowered.count, into: &lowered)
            XCTAssertEqual(lowered, owner, c.label)
            XCTAssertEqual(decoded?.next, mark + c.wire.count, c.label)
            XCTAssertEqual(box.w.answerCount, 1, c.label)
        }
    }

    func testQuestionAndRootOwners() {
        let box = WriterBox(question: "example.com")
        let mark = box.w.mark
        let rdata: [UInt8] = [1, 2, 3, 4]
        rdata.withUnsafeBytes { r in
            XCTAssertTrue(box.w.writeRecord(owner: .question, type: 1, class: 1, ttl: 0x01020304, rdata: r, section: .answer))
            XCTAssertTrue(box.w.writeRecord(owner: .root, type: 16, class: 3, ttl: 0, rdata: r, section: .additional))
        }
        XCTAssertEqual(
            Array(box.bytes[mark...]),
            [0xC0, 12, 0, 1, 0, 1, 1, 2, 3, 4, 0, 4, 1, 2, 3, 4] + [0, 0, 16, 0, 3, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4])
        XCTAssertEqual(box.w.answerCount, 1)
        XCTAssertEqual(box.w.additionalCount, 1)
        XCTAssertEqual(box.w.finish(flags: 0x8000), mark + 31)
        XCTAssertEqual(Array(box.bytes[0..<12]), [0x42, 0x42, 0x80, 0, 0, 1, 0, 1, 0, 0, 0, 1])
    }

    /// Three A records, pre-encoded bodies (TYPE CLASS TTL RDLENGTH RDATA).
    static let threeA: [UInt8] = (1...3).flatMap { i -> [UInt8] in [0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, UInt8(i)] }

    func testRRSetAllOrNothing() {
        // each record: 2 (pointer) + 14 = 16 octets
        for (extra, fits) in [(47, false), (48, true), (100, true), (0, false), (16, false), (1, false)] {
            let probe = WriterBox(question: "example.com")
            let mark = probe.w.mark
            let box = WriterBox(question: "example.com", limit: mark + extra)
            let before = box.bytes
            let ok = Self.threeA.withUnsafeBytes { box.w.writeRRSet(owner: .question, bodies: $0, records: 3, section: .answer) }
            XCTAssertEqual(ok, fits, "limit mark+\(extra)")
            if fits {
                XCTAssertEqual(box.w.count, mark + 48)
                XCTAssertEqual(box.w.answerCount, 3)
                var expected: [UInt8] = []
                for i in 0..<3 {
                    expected += [0xC0, 12]
                    expected += Array(Self.threeA[(14 * i)..<(14 * i + 14)])
                }
                XCTAssertEqual(Array(box.bytes[mark...]), expected)
            } else {
                XCTAssertEqual(box.w.count, mark, "limit mark+\(extra): position restored")
                XCTAssertEqual(box.w.answerCount, 0)
                XCTAssertEqual(box.bytes, before)
            }
        }
    }

    func testFailedSetKeepsEarlierSets() {
        let probe = WriterBox(question: "example.com")
        let box = WriterBox(question: "example.com", limit: probe.w.mark + 48 + 20)
        let owner = WireName.fromText("www.example.com")!
        XCTAssertTrue(Self.threeA.withUnsafeBytes { box.w.writeRRSet(owner: .question, bodies: $0, records: 3, section: .answer) })
        let after = box.w.count
        // owner (4 + 2) + body 14 = 20 fits exactly once, not three times
        let ok = owner.withUnsafeBufferPointer { o in
            Self.threeA.withUnsafeBytes { box.w.writeRRSet(owner: .name(o.baseAddress!, o.count), bodies: $0, records: 3, section: .authority) }
        }
        XCTAssertFalse(ok)
        XCTAssertEqual(box.w.count, after)
        XCTAssertEqual(box.w.answerCount, 3)
        XCTAssertEqual(box.w.authorityCount, 0)
        XCTAssertTrue(
            owner.withUnsafeBufferPointer { o in
                Self.threeA.withUnsafeBytes {
                    box.w.writeRRSet(
                        owner: .name(o.baseAddress!, o.count), bodies: UnsafeRawBufferPointer(rebasing: $0[0..<14]),
                        records: 1, section: .authority)
                }
            })
        XCTAssertEqual(box.w.count, box.w.limit)
        XCTAssertEqual(box.w.authorityCount, 1)
        XCTAssertEqual(box.w.finish(flags: 0x8000), box.w.limit)
        XCTAssertEqual(Array(box.bytes[6..<12]), [0, 3, 0, 1, 0, 0])
    }

    func testUncompressedOwnerThatDoesNotFit() {
        let probe = WriterBox(question: "example.com")
        let owner = WireName.fromText("www.example.net")!
        let box = WriterBox(question: "example.com", limit: probe.w.mark + owner.count - 1)
        XCTAssertFalse(box.record(owner))
        XCTAssertEqual(box.w.count, probe.w.mark)
        XCTAssertEqual(box.w.answerCount, 0)
        let box2 = WriterBox(question: "example.com", limit: probe.w.mark + owner.count + 10 + 3)
        XCTAssertFalse(box2.record(owner), "RDATA of 4 does not fit")
        XCTAssertEqual(box2.w.count, probe.w.mark)
        let box3 = WriterBox(question: "example.com", limit: probe.w.mark + owner.count + 10 + 4)
        XCTAssertTrue(box3.record(owner))
        XCTAssertEqual(box3.w.count, box3.w.limit)
    }

    func testMalformedBodiesAreRefused() {
        let box = WriterBox(question: "example.com")
        let mark = box.w.mark
        // RDLENGTH says 9 but only 4 RDATA octets follow
        let bad: [UInt8] = [0, 1, 0, 1, 0, 0, 0, 60, 0, 9, 192, 0, 2, 1]
        XCTAssertFalse(bad.withUnsafeBytes { box.w.writeRRSet(owner: .question, bodies: $0, records: 1, section: .answer) })
        // two records claimed, one present
        XCTAssertFalse(
            Self.threeA.withUnsafeBytes {
                box.w.writeRRSet(owner: .question, bodies: UnsafeRawBufferPointer(rebasing: $0[0..<14]), records: 2, section: .answer)
            })
        XCTAssertEqual(box.w.count, mark)
        XCTAssertEqual(box.w.answerCount, 0)
    }

    func testRollback() {
        let box = WriterBox(question: "example.com")
        let mark = box.w.mark
        XCTAssertTrue(Self.threeA.withUnsafeBytes { box.w.writeRRSet(owner: .question, bodies: $0, records: 3, section: .answer) })
        XCTAssertTrue(box.record(WireName.fromText("ns.example.com")!, section: .authority))
        XCTAssertTrue(box.record(WireName.fromText("ns.example.com")!, section: .additional))
        box.w.rollback(to: mark)
        XCTAssertEqual(box.w.count, mark)
        XCTAssertEqual(box.w.answerCount, 0)
        XCTAssertEqual(box.w.authorityCount, 0)
        XCTAssertEqual(box.w.additionalCount, 0)
        XCTAssertEqual(box.w.finish(flags: 0x8200), mark)
        XCTAssertEqual(Array(box.bytes[0..<12]), [0x42, 0x42, 0x82, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    }

    func testOPTWithECSAndNSID() {
        let ecs = ClientSubnet(address: IPAddress(family: .v4, value: 0x0A01_1000), sourcePrefix: 20, queryScope: 7)
        let nsid: [UInt8] = Array("ns-a".utf8)
        let box = WriterBox(question: "example.com", limit: 0) // OPT ignores the limit by design
        let mark = box.w.mark
        nsid.withUnsafeBytes { box.w.writeOPT(udpSize: 1232, extendedRCode: 1, dnssecOK: true, clientSubnet: ecs, scope: 0, nsid: $0) }
        let expected: [UInt8] =
            [0, 0, 41, 0x04, 0xD0, 1, 0, 0x80, 0, 0, 19]
            + [0, 8, 0, 7, 0, 1, 20, 0, 10, 1, 0x10]
            + [0, 3, 0, 4] + nsid
        XCTAssertEqual(Array(box.bytes[mark...]), expected)
        XCTAssertEqual(ResponseWriter.optLength(clientSubnet: ecs, nsidLength: nsid.count), expected.count)
        XCTAssertEqual(box.w.additionalCount, 1)
    }

    func testOPTPlainAndV6() {
        let box = WriterBox(question: "example.com")
        let mark = box.w.mark
        box.w.writeOPT(udpSize: 512, extendedRCode: 0, dnssecOK: false, clientSubnet: nil, scope: 0, nsid: nil)
        XCTAssertEqual(Array(box.bytes[mark...]), [0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(ResponseWriter.optLength(clientSubnet: nil, nsidLength: nil), 11)
        let v6 = ClientSubnet(address: IPAddress(family: .v6, value: 0x2001_0DB8_0001_0200_0000_0000_0000_0000), sourcePrefix: 56)
        let box2 = WriterBox(question: "example.com")
        box2.w.writeOPT(udpSize: 1232, extendedRCode: 0, dnssecOK: false, clientSubnet: v6, scope: 48, nsid: nil)
        XCTAssertEqual(
            Array(box2.bytes[mark...]),
            [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 15, 0, 8, 0, 11, 0, 2, 56, 48, 0x20, 0x01, 0x0D, 0xB8, 0, 1, 2])
        XCTAssertEqual(ResponseWriter.optLength(clientSubnet: v6, nsidLength: nil), 26)
    }
}
