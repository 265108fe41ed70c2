import Health
import XCTest

/// Builds DNS messages byte by byte for the reply parser's tests.
struct MessageBuilder {
    var bytes: [UInt8] = []

    mutating func u16(_ v: UInt16) { bytes += [UInt8(v >> 8), UInt8(v & 0xFF)] }
    mutating func u32(_ v: UInt32) { u16(UInt16(v >> 16)); u16(UInt16(v & 0xFFFF)) }
    mutating func name(_ labels: [String]) {
        for label in labels { bytes.append(UInt8(label.utf8.count)); bytes += label.utf8 }
        bytes.append(0)
    }
    mutating func pointer(_ offset: Int) { u16(0xC000 | UInt16(offset)) }

    /// Header: `flags`, QDCOUNT 1 and the given counts.
    static func header(id: UInt16, flags: UInt16, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0, qd: UInt16 = 1) -> MessageBuilder {
        var m = MessageBuilder()
        m.u16(id); m.u16(flags); m.u16(qd); m.u16(an); m.u16(ns); m.u16(ar)
        return m
    }
}

final class DNSCheckReplyTests: XCTestCase {
    let query = DNSCheckQuery(id: 0x1234, name: "probe.example.", type: 6)!

    /// A response to `query` (QR=1, AA, the question with the name in `qname` case) with one SOA
    /// answer whose names are compressed against the question.
    func answer(rcode: UInt16 = 0, qname: [String] = ["probe", "example"]) -> MessageBuilder {
        var m = MessageBuilder.header(id: 0x1234, flags: 0x8400 | rcode, an: 1)
        m.name(qname) // at 12
        m.u16(6); m.u16(1)
        m.pointer(12) // owner: probe.example.
        m.u16(6); m.u16(1); m.u32(300)
        var rdata = MessageBuilder()
        rdata.bytes += [3] + Array("ns1".utf8)
        rdata.bytes += [0xC0, 18] // -> example. (offset of "example" in the question)
        rdata.bytes += [10] + Array("hostmaster".utf8) + [0xC0, 18]
        for v: UInt32 in [2024010101, 3600, 900, 604800, 300] { rdata.u32(v) }
        m.u16(UInt16(rdata.bytes.count))
        m.bytes += rdata.bytes
        return m
    }

    func testQueryDatagram() {
        XCTAssertEqual(
            query.datagram,
            [
                0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                5,
            ] + Array("probe".utf8) + [7] + Array("example".utf8) + [0, 0, 6, 0, 1])
        XCTAssertEqual(DNSCheckQuery(id: 1, name: ".", type: 6)?.name, [0])
        XCTAssertEqual(DNSCheckQuery(id: 1, name: "A.b", type: 1)?.name, [1, 0x61, 1, 0x62, 0])
        XCTAssertNil(DNSCheckQuery(id: 1, name: "a..b", type: 1))
        XCTAssertNil(DNSCheckQuery(id: 1, name: String(repeating: "x", count: 64), type: 1))
        XCTAssertNil(DNSCheckQuery(id: 1, name: Array(repeating: String(repeating: "x", count: 63), count: 5).joined(separator: "."), type: 1))
    }

    func testValidAnswerAccepted() {
        XCTAssertEqual(DNSCheckReply.judge(answer().bytes, for: query), .answer(rcode: 0))
        XCTAssertEqual(DNSCheckReply.judge(answer(rcode: 3).bytes, for: query), .answer(rcode: 3))
        // names compare case-insensitively (RFC 4343)
        XCTAssertEqual(DNSCheckReply.judge(answer(qname: ["PROBE", "Example"]).bytes, for: query), .answer(rcode: 0))
    }

    func testEDNSAnswerAccepted() {
        var m = answer()
        m.bytes[11] = 1 // ARCOUNT 1: an OPT record
        m.bytes += [0]; m.u16(41); m.u16(1232); m.u32(0); m.u16(0)
        XCTAssertEqual(DNSCheckReply.judge(m.bytes, for: query), .answer(rcode: 0))
    }

    func testEchoOfTheQueryRefused() {
        guard case let .invalid(why) = DNSCheckReply.judge(query.datagram, for: query) else {
            return XCTFail("an echo of the query was accepted")
        }
        XCTAssertTrue(why.contains("QR=0"), why)
    }

    func testOtherIDIsNotOurs() {
        var m = answer()
        m.bytes[1] ^= 1
        XCTAssertEqual(DNSCheckReply.judge(m.bytes, for: query), .notOurs)
        XCTAssertEqual(DNSCheckReply.judge([0x12], for: query), .notOurs)
    }

    func testWrongQuestionRefused() {
        XCTAssertInvalid(answer(qname: ["other", "example"]).bytes, containing: "question")
        var wrongType = answer()
        wrongType.bytes[12 + 15 + 1] = 1 // QTYPE A instead of SOA
        XCTAssertInvalid(wrongType.bytes, containing: "question")
        var wrongClass = answer()
        wrongClass.bytes[12 + 15 + 3] = 3 // QCLASS CH
        XCTAssertInvalid(wrongClass.bytes, containing: "question")
        var twoQuestions = answer()
        twoQuestions.bytes[5] = 2
        XCTAssertInvalid(twoQuestions.bytes, containing: "QDCOUNT")
        var notQuery = answer()
        notQuery.bytes[2] |= 0x28 // OPCODE 5 (UPDATE)
        XCTAssertInvalid(notQuery.bytes, containing: "opcode")
    }

    func testTrailingGarbageRefused() {
        var m = answer()
        m.bytes += [0xDE, 0xAD, 0xBE, 0xEF]
        XCTAssertInvalid(m.bytes, containing: "4 bytes after the last record")
        // the right ID and a response header, then garbage where the question should be
        var garbage = MessageBuilder.header(id: 0x1234, flags: 0x8180)
        garbage.bytes += [0xFF, 0x01, 0x02, 0x03, 0x04, 0x05]
        XCTAssertInvalid(garbage.bytes, containing: "question")
    }

    func testTruncatedRefused() {
        let whole = answer().bytes
        for length in 2..<whole.count {
            XCTAssertInvalid(Array(whole.prefix(length)), containing: "", "cut at \(length)")
        }
        var moreRecords = answer()
        moreRecords.bytes[7] = 2 // ANCOUNT 2, one present
        XCTAssertInvalid(moreRecords.bytes, containing: "answer record 2 of 2")
    }

    func testPointerLoopsRefused() {
        // the owner name is a pointer to itself
        var selfLoop = MessageBuilder.header(id: 0x1234, flags: 0x8400, an: 1)
        selfLoop.name(["probe", "example"]); selfLoop.u16(6); selfLoop.u16(1)
        selfLoop.pointer(selfLoop.bytes.count)
        selfLoop.u16(6); selfLoop.u16(1); selfLoop.u32(0); selfLoop.u16(0)
        XCTAssertInvalid(selfLoop.bytes, containing: "loop")
        // a forward pointer (to the next name, which points back here)
        var forward = MessageBuilder.header(id: 0x1234, flags: 0x8400, an: 1)
        forward.name(["probe", "example"]); forward.u16(6); forward.u16(1)
        let at = forward.bytes.count
        forward.pointer(at + 2); forward.pointer(at)
        XCTAssertInvalid(forward.bytes, containing: "loop")
        // a label then a pointer back to that label: the name grows until it is over 255 octets
        var cycle = MessageBuilder.header(id: 0x1234, flags: 0x8400, an: 1)
        cycle.name(["probe", "example"]); cycle.u16(6); cycle.u16(1)
        let label = cycle.bytes.count
        cycle.bytes += [1, 0x61]; cycle.pointer(label)
        cycle.u16(1); cycle.u16(1); cycle.u32(0); cycle.u16(0)
        XCTAssertInvalid(cycle.bytes, containing: "255")
        // a pointer into the header, and one past the end
        var header = answer()
        header.bytes[12 + 20] = 2 // owner pointer -> offset 2
        XCTAssertInvalid(header.bytes, containing: "header")
    }

    func testRecordBoundsRefused() {
        var longRData = answer()
        let rdlength = 12 + 19 + 2 + 8
        longRData.bytes[rdlength + 1] &+= 1 // RDLENGTH one more than the RDATA
        XCTAssertInvalid(longRData.bytes, containing: "")
        var reservedLabel = answer()
        reservedLabel.bytes[12 + 19] = 0x40 // label type 01
        XCTAssertInvalid(reservedLabel.bytes, containing: "label type")
    }

    func XCTAssertInvalid(
        _ message: [UInt8], containing text: String, _ note: String = "",
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let verdict = DNSCheckReply.judge(message, for: query)
        guard case let .invalid(why) = verdict else {
            return XCTFail("accepted as \(verdict) \(note)", file: file, line: line)
        }
        XCTAssertTrue(text.isEmpty || why.contains(text), "\(why) \(note)", file: file, line: line)
    }
}
