import DNSWire
import Engine
import TestSupport
import XCTest

final class EdgeCaseTests: XCTestCase {
    func testNoZonesRefusesEverything() {
        let snap = Snapshot(zones: [], identity: ServerIdentity(), udpPayloadSize: 1232)
        for (name, type) in [("www.gslb.test.", UInt16(1)), (".", 2), ("gslb.test.", 6)] {
            let d = LDNS.decode(answer(Wire.query(name, type), snapshot: snap))
            XCTAssertEqual(d?.rcode, 5, name)
            XCTAssertEqual(d?.aa, false, name)
            XCTAssertEqual(d?.answer, [], name)
        }
    }

    func testSnapshotPayloadSizeFloorAndOPTEcho() {
        let snap = Snapshot(zones: [TestZones.shared.gslb], identity: ServerIdentity(), udpPayloadSize: 100)
        XCTAssertEqual(snap.udpPayloadSize, 512)
        let d = LDNS.decode(answer(Wire.query("www.gslb.test.", 1, additional: [Wire.opt(udp: 4096)]), snapshot: snap))
        XCTAssertEqual(d?.optUDPSize, 512)
        // 'many' (679 octets with OPT) does not fit our 512
        let m = LDNS.decode(answer(Wire.query("many.gslb.test.", 1, additional: [Wire.opt(udp: 4096)]), snapshot: snap))
        XCTAssertEqual(m?.tc, true)
        XCTAssertEqual(m?.answer, [])
    }

    func testLongCHAOSVersionOverTCPIsSplitIntoStrings() {
        let version = String(repeating: "v", count: 300)
        let snap = Snapshot(zones: [], identity: ServerIdentity(version: version), udpPayloadSize: 1232)
        let d = LDNS.decode(answer(Wire.query("version.bind.", 16, qclass: 3), transport: .tcp, snapshot: snap))
        XCTAssertEqual(d?.rcode, 0)
        XCTAssertEqual(d?.answer, ["version.bind. 0 CH TXT \"\(String(repeating: "v", count: 255))\" \"\(String(repeating: "v", count: 45))\""])
    }

    /// A configured CHAOS answer that does not fit the UDP size is truncated (TC=1), so the client
    /// retries over TCP, rather than refused.
    func testOversizedCHAOSAnswerIsTruncated() {
        let version = String(repeating: "v", count: 600)
        let snap = Snapshot(zones: [], identity: ServerIdentity(version: version), udpPayloadSize: 1232)
        let d = LDNS.decode(answer(Wire.query("version.bind.", 16, qclass: 3), transport: .udp, snapshot: snap))
        XCTAssertEqual(d?.rcode, 0, "configured version.bind must not be REFUSED")
        XCTAssertEqual(d?.tc, true, "too large for 512 octets: TC")
        XCTAssertEqual(d?.answer, [])
    }

    func testLongestQuestionName() {
        // 255-octet name under gslb.test: NXDOMAIN with the SOA owner compressed into the question
        let labels = [String](repeating: String(repeating: "a", count: 63), count: 3) + [String(repeating: "b", count: 51)]
        let name = labels.joined(separator: ".") + ".gslb.test."
        XCTAssertEqual(Wire.name(name).count, 255)
        let r = answer(Wire.query(name, 1), snapshot: TestZones.shared.configured)
        let d = LDNS.decode(r)
        XCTAssertEqual(d?.rcode, 3)
        XCTAssertEqual(d?.question.first, "\(name) IN A")
        XCTAssertEqual(d?.authority, [LookupTableTests.negSOA])
        // SOA owner is a pointer to "gslb.test" at 12 + 255 - 11
        XCTAssertEqual(Array(r[(12 + 255 + 4)..<(12 + 255 + 6)]), [0xC0 | UInt8((12 + 244) >> 8), UInt8((12 + 244) & 0xFF)])
    }
}
