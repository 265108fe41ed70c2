import CLDNS
import DNSWire

/// The DS query a child sends to learn whether its parent publishes a key's DS (Knot's KSK submission
/// check): the question, and the DS records of a reply, read by ldns.
public enum ParentDS {
    /// A DS query for `zone` with `id`, recursion desired (the server may be a resolver or one of the
    /// parent's own servers).
    public static func query(zone: String, id: UInt16) -> [UInt8]? {
        guard let name = WireName.fromText(zone) else { return nil }
        return [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0] + name + [0, UInt8(DNSType.ds), 0, 1]
    }

    /// The RDATA of every DS record in the answer of `reply` to the query `id`; nil when `reply` is not
    /// a NOERROR answer to it.
    public static func records(in reply: [UInt8], id: UInt16) -> [[UInt8]]? {
        var packet: UnsafeMutablePointer<ldns_pkt>?
        guard reply.count >= 12, UInt16(reply[0]) << 8 | UInt16(reply[1]) == id, MessageScan.hasAtMostOneTSIG(reply),
            reply.withUnsafeBufferPointer({ ldns_wire2pkt(&packet, $0.baseAddress, $0.count) }) == LDNS_STATUS_OK, let packet
        else { return nil }
        defer { ldns_pkt_free(packet) }
        guard ldns_pkt_qr(packet) != 0, ldns_pkt_get_rcode(packet) == LDNS_RCODE_NOERROR, let answer = ldns_pkt_answer(packet) else { return nil }
        var out: [[UInt8]] = []
        for i in 0..<ldns_rr_list_rr_count(answer) {
            guard let rr = ldns_rr_list_rr(answer, i), ldns_rr_get_type(rr) == LDNS_RR_TYPE_DS else { continue }
            out.append(ZoneKey.rdata(of: rr))
        }
        return out
    }
}
