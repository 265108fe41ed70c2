import CLDNS
import DNSWire
import Geo
import Transfer
import XCTest
import Zones

/// Zone transfers as a secondary sees them: ACLs by network and TSIG key, AXFR streams that start and
/// end with the SOA and decode in ldns, TSIG on every message verified by ldns, IXFR answered whole or
/// with the SOA alone, and NOTAUTH for bad signatures.
final class ZoneTransferTests: XCTestCase {
    let key = TSIGKey(name: "xfr", algorithm: "hmac-sha256", secret: "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0")
    let loopback = IPAddress("127.0.0.1")!
    let elsewhere = IPAddress("192.0.2.9")!

    func name(_ text: String) -> [UInt8] { WireName.fromText(text)! }

    /// A zone of 3 records (SOA, NS, A; serial 7) and `extra` TXT records: an AXFR of it holds one more (the closing SOA).
    func zone(extra: Int = 0) throws -> CompiledZone {
        var records = [
            ZoneRecord(
                owner: name("x.test."), type: DNSType.soa, ttl: 300,
                rdata: name("ns.x.test.") + name("h.x.test.") + [0, 0, 0, 7] + [UInt8](repeating: 0, count: 16), file: "mem", line: 1),
            ZoneRecord(owner: name("x.test."), type: DNSType.ns, ttl: 300, rdata: name("ns.x.test."), file: "mem", line: 2),
            ZoneRecord(owner: name("ns.x.test."), type: DNSType.a, ttl: 300, rdata: [127, 0, 0, 1], file: "mem", line: 3),
        ]
        for i in 0..<extra {
            records.append(
                ZoneRecord(
                    owner: name("h\(i).x.test."), type: DNSType.txt, ttl: 300, rdata: [200] + [UInt8](repeating: 0x61, count: 200), file: "mem", line: 4 + i))
        }
        return try ZoneCompiler.compile(origin: "x.test.", records: records, file: "mem")
    }

    func query(_ type: UInt16, zone: String = "x.test.", id: UInt16 = 0x1234, serial: UInt32? = nil) -> [UInt8] {
        var q: [UInt8] =
            [UInt8(id >> 8), UInt8(id & 0xFF), 0, 0, 0, 1, 0, 0, 0, serial == nil ? 0 : 1, 0, 0] + name(zone) + [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        if let serial {
            let rdata =
                name("ns.x.test.") + name("h.x.test.") + [UInt8(serial >> 24), UInt8(serial >> 16 & 0xFF), UInt8(serial >> 8 & 0xFF), UInt8(serial & 0xFF)]
                + [UInt8](repeating: 0, count: 16)
            q += name(zone) + [0, 6, 0, 1, 0, 0, 0, 0, 0, UInt8(rdata.count)] + rdata
        }
        return q
    }

    func rules(_ allow: [TransferACL]) -> TransferRules {
        TransferRules(zones: [name("x.test."): TransferRules.Zone(allow: allow, notify: [])], keys: [key])
    }

    func messages(_ stream: TransferStream) -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let m = stream.next(), out.count < 10_000 { out.append(m) }
        return out
    }

    /// Every record of the messages as ldns reads them (type of each answer record), and each header's RCODE.
    func decode(_ messages: [[UInt8]]) -> (types: [UInt16], rcodes: [UInt16]) {
        var types: [UInt16] = []
        var rcodes: [UInt16] = []
        for m in messages {
            var packet: UnsafeMutablePointer<ldns_pkt>?
            XCTAssertEqual(m.withUnsafeBufferPointer { ldns_wire2pkt(&packet, $0.baseAddress, $0.count) }, LDNS_STATUS_OK)
            guard let packet else { continue }
            defer { ldns_pkt_free(packet) }
            rcodes.append(UInt16(ldns_pkt_get_rcode(packet).rawValue))
            let answer = ldns_pkt_answer(packet)
            for i in 0..<ldns_rr_list_rr_count(answer) { types.append(UInt16(ldns_rr_get_type(ldns_rr_list_rr(answer, i)).rawValue)) }
            XCTAssertEqual(ldns_pkt_id(packet), 0x1234)
            XCTAssertTrue(ldns_pkt_qr(packet) != 0 && ldns_pkt_aa(packet) != 0)
        }
        return (types, rcodes)
    }

    func testOnlyTransferQueriesAreHandedOver() {
        for (type, expected) in [(DNSType.axfr, true), (DNSType.ixfr, true), (DNSType.a, false), (DNSType.soa, false)] {
            let q = query(type)
            XCTAssertEqual(q.withUnsafeBytes { ZoneTransfer.isTransfer($0) }, expected, "type \(type)")
        }
        var notify = query(DNSType.axfr)
        notify[2] = 0x20 // opcode NOTIFY
        XCTAssertFalse(notify.withUnsafeBytes { ZoneTransfer.isTransfer($0) })
        XCTAssertFalse([UInt8](query(DNSType.axfr).prefix(20)).withUnsafeBytes { ZoneTransfer.isTransfer($0) }, "truncated question")
    }

    func testAXFRStartsAndEndsWithTheSOAAndSplitsBigZones() throws {
        let z = try zone(extra: 300)
        let stream = ZoneTransfer.respond(
            query: query(DNSType.axfr), client: loopback, zones: [z], rules: rules([TransferACL(network: IPPrefix.parse("127.0.0.0/8"), key: nil)]), now: 0)
        let all = messages(stream)
        XCTAssertGreaterThan(all.count, 2, "300 records of 200 octets take several messages")
        XCTAssertTrue(all.allSatisfy { $0.count < 65_535 })
        let (types, rcodes) = decode(all)
        XCTAssertEqual(types.first, DNSType.soa)
        XCTAssertEqual(types.last, DNSType.soa)
        XCTAssertEqual(types.count, 303 + 1)
        XCTAssertEqual(Set(rcodes), [RCode.noError])
    }

    func testACLRefusesOtherNetworksUnsignedRequestsAndOtherZones() throws {
        let z = try zone()
        let byNetwork = rules([TransferACL(network: IPPrefix.parse("127.0.0.0/8"), key: nil)])
        XCTAssertEqual(
            decode(messages(ZoneTransfer.respond(query: query(DNSType.axfr), client: elsewhere, zones: [z], rules: byNetwork, now: 0))).rcodes, [RCode.refused])
        XCTAssertEqual(
            decode(messages(ZoneTransfer.respond(query: query(DNSType.axfr, zone: "y.test."), client: loopback, zones: [z], rules: byNetwork, now: 0))).rcodes,
            [RCode.refused])
        XCTAssertEqual(
            decode(messages(ZoneTransfer.respond(query: query(DNSType.axfr), client: loopback, zones: [z], rules: .none, now: 0))).rcodes, [RCode.refused],
            "no transfer rules: refused")
        let byKey = rules([TransferACL(network: nil, key: "xfr")])
        XCTAssertEqual(
            decode(messages(ZoneTransfer.respond(query: query(DNSType.axfr), client: loopback, zones: [z], rules: byKey, now: 0))).rcodes, [RCode.refused],
            "unsigned")
    }

    func testTSIGSignedTransferVerifiesMessageByMessage() throws {
        let z = try zone(extra: 300)
        let now = Int64(time(nil))
        let signed = try XCTUnwrap(TSIG.sign(query(DNSType.axfr), key: key, priorMAC: [], timersOnly: false))
        let all = messages(
            ZoneTransfer.respond(query: signed.wire, client: elsewhere, zones: [z], rules: rules([TransferACL(network: nil, key: "xfr")]), now: now))
        XCTAssertGreaterThan(all.count, 2)
        XCTAssertEqual(decode(all).types.filter { $0 == DNSType.soa }.count, 2)
        // ldns checks each message over the previous MAC (the request's for the first), RFC 8945 §5.3.1
        var prior = signed.mac
        for (i, m) in all.enumerated() {
            var packet: UnsafeMutablePointer<ldns_pkt>?
            XCTAssertEqual(m.withUnsafeBufferPointer { ldns_wire2pkt(&packet, $0.baseAddress, $0.count) }, LDNS_STATUS_OK)
            let field = [UInt8(prior.count >> 8), UInt8(prior.count & 0xFF)] + prior
            let rdf = field.withUnsafeBufferPointer { ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, $0.count, $0.baseAddress) }
            let ok = m.withUnsafeBufferPointer { ldns_pkt_tsig_verify_next(packet, $0.baseAddress, $0.count, key.name, key.secret, rdf, i > 0 ? 1 : 0) }
            XCTAssertNotEqual(ok, 0, "message \(i) verifies")
            let mac = ldns_rr_rdf(ldns_pkt_tsig(packet), 3)!
            prior = Array(UnsafeBufferPointer(start: ldns_rdf_data(mac), count: ldns_rdf_size(mac)).dropFirst(2))
            ldns_rdf_deep_free(rdf)
            ldns_pkt_free(packet)
        }
    }

    func testBadTSIGIsNOTAUTHWithItsError() throws {
        let z = try zone()
        let now = Int64(time(nil))
        let acl = rules([TransferACL(network: nil, key: "xfr")])
        func tsigError(_ wire: [UInt8], at time: Int64) -> (UInt16, UInt16)? {
            let all = messages(ZoneTransfer.respond(query: wire, client: loopback, zones: [z], rules: acl, now: time))
            guard all.count == 1 else { return nil }
            var packet: UnsafeMutablePointer<ldns_pkt>?
            guard all[0].withUnsafeBufferPointer({ ldns_wire2pkt(&packet, $0.baseAddress, $0.count) }) == LDNS_STATUS_OK, let packet,
                let tsig = ldns_pkt_tsig(packet)
            else { return nil }
            defer { ldns_pkt_free(packet) }
            return (UInt16(ldns_pkt_get_rcode(packet).rawValue), ldns_rdf2native_int16(ldns_rr_rdf(tsig, 5)))
        }
        let signed = try XCTUnwrap(TSIG.sign(query(DNSType.axfr), key: key, priorMAC: [], timersOnly: false)).wire
        var tampered = signed
        tampered[tampered.count - 10] ^= 1 // inside the MAC
        let other = TSIGKey(name: "other", algorithm: "hmac-sha256", secret: key.secret)
        let unknown = try XCTUnwrap(TSIG.sign(query(DNSType.axfr), key: other, priorMAC: [], timersOnly: false)).wire
        XCTAssertTrue(tsigError(tampered, at: now)! == (RCode.notAuth, TSIG.badSig))
        XCTAssertTrue(tsigError(unknown, at: now)! == (RCode.notAuth, TSIG.badKey))
        XCTAssertTrue(tsigError(signed, at: now + 1000)! == (RCode.notAuth, TSIG.badTime))
        guard case .valid(let name, let mac) = TSIG.verify(signed, keys: [key.name: key], now: now) else { return XCTFail("the signed request verifies") }
        XCTAssertEqual(name, "xfr.")
        XCTAssertEqual(mac.count, 32, "HMAC-SHA256")
        XCTAssertEqual(TSIG.verify(query(DNSType.axfr), keys: [key.name: key], now: now), .unsigned)
    }

    func testIXFRIsTheSOAAloneWhenCurrentAndTheWholeZoneOtherwise() throws {
        let z = try zone()
        let acl = rules([TransferACL(network: IPPrefix.parse("127.0.0.1"), key: nil)])
        for (serial, count) in [(UInt32(7), 1), (8, 1), (6, 4), (0xFFFF_FFF0, 4)] {
            let types = decode(messages(ZoneTransfer.respond(query: query(DNSType.ixfr, serial: serial), client: loopback, zones: [z], rules: acl, now: 0)))
                .types
            XCTAssertEqual(types.count, count, "client serial \(serial)")
            XCTAssertEqual(types.first, DNSType.soa)
        }
    }

    func testNotifyMessageIsAcknowledgedByItsReply() throws {
        let message = try XCTUnwrap(NotifyMessage.make(origin: name("x.test."), id: 77, key: nil))
        var packet: UnsafeMutablePointer<ldns_pkt>?
        XCTAssertEqual(message.withUnsafeBufferPointer { ldns_wire2pkt(&packet, $0.baseAddress, $0.count) }, LDNS_STATUS_OK)
        XCTAssertEqual(ldns_pkt_get_opcode(packet), LDNS_PACKET_NOTIFY)
        XCTAssertNotEqual(ldns_pkt_aa(packet), 0)
        ldns_pkt_free(packet)
        var reply = message
        reply[2] |= 0x80
        XCTAssertEqual(NotifyMessage.acknowledges(reply, id: 77), RCode.noError)
        XCTAssertNil(NotifyMessage.acknowledges(reply, id: 78))
        XCTAssertNil(NotifyMessage.acknowledges(message, id: 77), "a request is not a reply")
        let signed = try XCTUnwrap(NotifyMessage.make(origin: name("x.test."), id: 77, key: key))
        if case .valid(let name, _) = TSIG.verify(signed, keys: [key.name: key], now: Int64(time(nil))) {
            XCTAssertEqual(name, "xfr.")
        } else {
            XCTFail("a signed NOTIFY verifies")
        }
    }
}
