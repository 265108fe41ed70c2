import CLDNS
import DNSWire
import Engine
import Foundation
import TestSupport
import XCTest
import Zones

// MARK: ldns decoding (the independent decoder)

/// A response as ldns sees it. Records are "owner TTL CLASS TYPE RDATA" in ldns presentation form.
struct Decoded: CustomStringConvertible {
    var id: UInt16 = 0
    var qr = false, aa = false, tc = false, rd = false, ra = false, cd = false
    var opcode = 0
    /// Header RCODE (4 bits).
    var headerRCode = 0
    /// Full RCODE: OPT extended bits << 4 | header RCODE (RFC 6891 §6.1.3).
    var rcode = 0
    var qdcount = 0, ancount = 0, nscount = 0, arcount = 0
    var question: [String] = []
    var answer: [String] = []
    var authority: [String] = []
    /// Additional records other than OPT.
    var additional: [String] = []
    var hasOPT = false
    var optUDPSize = 0
    var optVersion = 0
    var optExtRCode = 0
    var optDO = false
    var options: [(code: UInt16, data: [UInt8])] = []

    var description: String {
        "id=\(id) rcode=\(rcode) aa=\(aa) tc=\(tc) q=\(question) an=\(answer) ns=\(authority) ar=\(additional) opt=\(hasOPT)"
    }
}

enum LDNS {
    static func string(_ p: UnsafeMutablePointer<CChar>?) -> String {
        guard let p else { return "<nil>" }
        defer { free(p) }
        return String(cString: p)
    }

    static func rrText(_ rr: UnsafeMutablePointer<ldns_rr>, question: Bool) -> String {
        let owner = string(ldns_rdf2str(ldns_rr_owner(rr)))
        let type = string(ldns_rr_type2str(ldns_rr_get_type(rr)))
        let cls = string(ldns_rr_class2str(ldns_rr_get_class(rr)))
        if question { return "\(owner) \(cls) \(type)" }
        var rdata: [String] = []
        for i in 0..<ldns_rr_rd_count(rr) {
            rdata.append(string(ldns_rdf2str(ldns_rr_rdf(rr, i))))
        }
        return "\(owner) \(ldns_rr_ttl(rr)) \(cls) \(type) \(rdata.joined(separator: " "))"
    }

    static func list(_ l: UnsafeMutablePointer<ldns_rr_list>?, question: Bool = false) -> [String] {
        guard let l else { return [] }
        return (0..<ldns_rr_list_rr_count(l)).map { rrText(ldns_rr_list_rr(l, $0)!, question: question) }
    }

    /// Decodes with `ldns_wire2pkt`; nil when ldns rejects the message.
    static func decode(_ bytes: [UInt8]) -> Decoded? {
        var pkt: UnsafeMutablePointer<ldns_pkt>? = nil
        let status = bytes.withUnsafeBufferPointer { ldns_wire2pkt(&pkt, $0.baseAddress, $0.count) }
        guard status == LDNS_STATUS_OK, let pkt else { return nil }
        defer { ldns_pkt_free(pkt) }
        var d = Decoded()
        d.id = ldns_pkt_id(pkt)
        d.qr = ldns_pkt_qr(pkt) != 0
        d.aa = ldns_pkt_aa(pkt) != 0
        d.tc = ldns_pkt_tc(pkt) != 0
        d.rd = ldns_pkt_rd(pkt) != 0
        d.ra = ldns_pkt_ra(pkt) != 0
        d.cd = ldns_pkt_cd(pkt) != 0
        d.opcode = Int(ldns_pkt_get_opcode(pkt).rawValue)
        d.headerRCode = Int(ldns_pkt_get_rcode(pkt).rawValue)
        d.qdcount = Int(ldns_pkt_qdcount(pkt))
        d.ancount = Int(ldns_pkt_ancount(pkt))
        d.nscount = Int(ldns_pkt_nscount(pkt))
        d.arcount = Int(ldns_pkt_arcount(pkt))
        d.question = list(ldns_pkt_question(pkt), question: true)
        d.answer = list(ldns_pkt_answer(pkt))
        d.authority = list(ldns_pkt_authority(pkt))
        d.additional = list(ldns_pkt_additional(pkt))
        d.hasOPT = ldns_pkt_edns(pkt) != 0
        if d.hasOPT {
            d.optUDPSize = Int(ldns_pkt_edns_udp_size(pkt))
            d.optVersion = Int(ldns_pkt_edns_version(pkt))
            d.optExtRCode = Int(ldns_pkt_edns_extended_rcode(pkt))
            d.optDO = ldns_pkt_edns_do(pkt) != 0
            if let opts = ldns_pkt_edns_get_option_list(pkt) {
                for i in 0..<ldns_edns_option_list_get_count(opts) {
                    let o = ldns_edns_option_list_get_option(opts, i)!
                    let size = ldns_edns_get_size(o)
                    let data = size > 0 ? Array(UnsafeBufferPointer(start: ldns_edns_get_data(o), count: size)) : []
                    d.options.append((UInt16(ldns_edns_get_code(o).rawValue), data))
                }
            }
        }
        d.rcode = d.optExtRCode << 4 | d.headerRCode
        return d
    }
}

// MARK: engine harness

/// Temporary zone files and the snapshots built from them (once per process).
final class TestZones: @unchecked Sendable {
    static let shared = TestZones()
    let dir: URL
    let gslb: CompiledZone
    let extra: CompiledZone
    let sub: CompiledZone

    private init() {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-engine-\(UUID().uuidString)")
        self.dir = dir
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        func load(_ file: String, _ text: String, _ origin: String) -> CompiledZone {
            let path = dir.appendingPathComponent(file).path
            try! text.write(toFile: path, atomically: true, encoding: .utf8)
            do { return try ZoneCompiler.load(path: path, origin: origin) } catch { fatalError("\(file): \(error)") }
        }
        gslb = load("gslb.test.zone", Fixture.gslbZone, "gslb.test.")
        extra = load("extra.test.zone", Fixture.extraZone, "extra.test.")
        sub = load("sub.gslb.test.zone", Fixture.subZone, "sub.gslb.test.")
    }
    deinit { try? FileManager.default.removeItem(at: dir) }

    static let identity = ServerIdentity(version: "Meridian", id: "meridian-acceptance", nsid: Array("meridian-acceptance".utf8))

    /// gslb.test + extra.test, identity configured (as in Tests/Fixtures/acceptance/meridian.yaml).
    lazy var configured = Snapshot(zones: [gslb, extra], identity: TestZones.identity, udpPayloadSize: 1232)
    /// Same zones, no identity.
    lazy var bare = Snapshot(zones: [gslb, extra], identity: ServerIdentity(), udpPayloadSize: 1232)
    /// gslb.test and its child zone sub.gslb.test.
    lazy var withChild = Snapshot(zones: [sub, gslb], identity: ServerIdentity(), udpPayloadSize: 1232)
}

/// Runs the engine on one query and returns the raw response (empty when dropped).
func answer(_ query: [UInt8], transport: Transport = .udp, snapshot: Snapshot, capacity: Int = 65535) -> [UInt8] {
    let processor = QueryProcessor()
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    defer { buffer.deallocate() }
    let n = query.withUnsafeBytes {
        processor.process(query: $0, response: buffer, capacity: capacity, transport: transport, client: .none, snapshot: snapshot)
    }
    return Array(UnsafeBufferPointer(start: buffer, count: n))
}
