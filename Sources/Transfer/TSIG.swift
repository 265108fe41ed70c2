import CLDNS
import DNSWire

/// TSIG (RFC 8945) on whole messages, through ldns: verifying a request and signing the messages of a
/// response stream (the first over the request's MAC, the rest over the previous MAC and the TSIG
/// timers, §5.3.1). Control plane (transfers, NOTIFY): allocates.
public enum TSIG {
    /// RFC 8945 §5.2 error codes, in the TSIG RR's Error field.
    public static let badSig: UInt16 = 16
    public static let badKey: UInt16 = 17
    public static let badTime: UInt16 = 18

    /// What a request's TSIG says.
    public enum Verdict: Equatable {
        /// No TSIG record.
        case unsigned
        /// Signed with `key`; the request's MAC is what the first response is signed over.
        case valid(key: String, mac: [UInt8])
        /// Not acceptable: answer NOTAUTH with this TSIG error (RFC 8945 §5.2), for key `name`.
        case rejected(error: UInt16, name: [UInt8], algorithm: [UInt8], timeSigned: UInt64, mac: [UInt8])
    }

    /// Checks the TSIG of `wire` against `keys` at `now` (the time must lie within the fudge, §5.2.3).
    public static func verify(_ wire: [UInt8], keys: [String: TSIGKey], now: Int64) -> Verdict {
        var packet: UnsafeMutablePointer<ldns_pkt>?
        guard MessageScan.hasAtMostOneTSIG(wire),
            wire.withUnsafeBufferPointer({ ldns_wire2pkt(&packet, $0.baseAddress, $0.count) }) == LDNS_STATUS_OK,
            let packet
        else { return .unsigned }
        defer { ldns_pkt_free(packet) }
        return verify(wire, packet: packet, keys: keys, now: now)
    }

    /// `verify` for a message ldns has already read (`packet`, from `wire`).
    static func verify(_ wire: [UInt8], packet: UnsafeMutablePointer<ldns_pkt>, keys: [String: TSIGKey], now: Int64) -> Verdict {
        guard let tsig = ldns_pkt_tsig(packet), ldns_rr_rd_count(tsig) >= 7 else { return .unsigned }
        let owner = rdfBytes(ldns_rr_owner(tsig))
        let algorithm = rdfBytes(ldns_rr_rdf(tsig, 0))
        let timeSigned = rdfBytes(ldns_rr_rdf(tsig, 1)).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let fudge = Int64(rdfBytes(ldns_rr_rdf(tsig, 2)).reduce(UInt16(0)) { $0 << 8 | UInt16($1) })
        let macField = rdfBytes(ldns_rr_rdf(tsig, 3))
        let mac = Array(macField.dropFirst(2)) // the field is MAC SIZE + MAC
        let name = WireName.toText(lowercased(owner))
        func rejected(_ error: UInt16) -> Verdict {
            .rejected(error: error, name: owner, algorithm: algorithm, timeSigned: timeSigned, mac: mac)
        }
        guard let key = keys[name], WireName.toText(lowercased(algorithm)) == key.algorithm else { return rejected(badKey) }
        let ok = wire.withUnsafeBufferPointer {
            ldns_pkt_tsig_verify_next(packet, $0.baseAddress, $0.count, key.name, key.secret, nil, 0)
        }
        guard ok != 0 else { return rejected(badSig) }
        guard abs(Int64(timeSigned) - now) <= fudge else { return rejected(badTime) }
        return .valid(key: key.name, mac: mac)
    }

    /// `message` with a TSIG record appended, signed with `key` over `priorMAC` (the request's MAC for
    /// the first message of a response, the previous message's after it, with `timersOnly`; empty for
    /// a request). Returns the signed message and its MAC, nil when ldns cannot read or sign it.
    public static func sign(_ message: [UInt8], key: TSIGKey, priorMAC: [UInt8], timersOnly: Bool) -> (wire: [UInt8], mac: [UInt8])? {
        var packet: UnsafeMutablePointer<ldns_pkt>?
        guard MessageScan.hasAtMostOneTSIG(message),
            message.withUnsafeBufferPointer({ ldns_wire2pkt(&packet, $0.baseAddress, $0.count) }) == LDNS_STATUS_OK,
            let packet
        else { return nil }
        defer { ldns_pkt_free(packet) }
        var prior: UnsafeMutablePointer<ldns_rdf>? = nil
        if !priorMAC.isEmpty {
            // the MAC as ldns keeps it: an int16 data field (size, then the octets)
            let field = [UInt8(priorMAC.count >> 8), UInt8(priorMAC.count & 0xFF)] + priorMAC
            prior = field.withUnsafeBufferPointer { ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, $0.count, $0.baseAddress) }
        }
        defer { if let prior { ldns_rdf_deep_free(prior) } }
        guard ldns_pkt_tsig_sign_next(packet, key.name, key.secret, 300, key.algorithm, prior, timersOnly ? 1 : 0) == LDNS_STATUS_OK,
            let tsig = ldns_pkt_tsig(packet)
        else { return nil }
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        guard ldns_pkt2wire(&out, packet, &size) == LDNS_STATUS_OK, let out else { return nil }
        defer { free(out) }
        return (Array(UnsafeBufferPointer(start: out, count: size)), Array(rdfBytes(ldns_rr_rdf(tsig, 3)).dropFirst(2)))
    }

    /// The TSIG record of an unsigned error response (RFC 8945 §5.3.2: BADKEY and BADSIG carry no
    /// MAC): owner, TYPE TSIG, CLASS ANY, TTL 0, then the request's algorithm and time with `error`.
    public static func errorRecord(name: [UInt8], algorithm: [UInt8], timeSigned: UInt64, id: UInt16, error: UInt16) -> [UInt8] {
        var rdata = algorithm
        for shift in stride(from: 40, through: 0, by: -8) { rdata.append(UInt8(truncatingIfNeeded: timeSigned >> UInt64(shift))) }
        rdata += [1, 44, 0, 0, UInt8(id >> 8), UInt8(id & 0xFF), UInt8(error >> 8), UInt8(error & 0xFF), 0, 0] // fudge 300, MAC size 0
        return name + [0, UInt8(DNSType.tsig), 0, 255, 0, 0, 0, 0, UInt8(rdata.count >> 8), UInt8(rdata.count & 0xFF)] + rdata
    }

    static func rdfBytes(_ rdf: UnsafePointer<ldns_rdf>?) -> [UInt8] {
        guard let rdf, let data = ldns_rdf_data(rdf) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: ldns_rdf_size(rdf)))
    }

    static func lowercased(_ name: [UInt8]) -> [UInt8] {
        var out = name
        WireName.lowercase(name, length: name.count, into: &out)
        return out
    }
}
