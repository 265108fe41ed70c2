import CLDNS
import DNSWire
import Zones

/// Answers zone transfer requests over TCP: AXFR (RFC 5936) and IXFR (RFC 1995, answered with the
/// whole zone since no history is kept, §4, or with the SOA alone when the client is current), allowed
/// by the zone's ACL (network and/or TSIG key, RFC 8945). Refused with REFUSED; a TSIG that fails is
/// answered NOTAUTH with its TSIG error (RFC 8945 §5.2). Control plane: allocates; runs only for the
/// rare transfer request, never for an ordinary query.
public enum ZoneTransfer {
    /// The octets of records one message carries at most (messages stay well under 64 KiB, leaving
    /// room for a TSIG record).
    static let messageBudget = 16_000

    /// Whether `query` asks for AXFR or IXFR (one question, opcode QUERY): a look at the header and
    /// question without allocating, for the TCP path to hand it over.
    public static func isTransfer(_ query: UnsafeRawBufferPointer) -> Bool {
        guard query.count > 12, query[2] & 0xF8 == 0, query[4] == 0, query[5] == 1 else { return false }
        var at = 12
        while at < query.count && query[at] != 0 {
            guard query[at] & 0xC0 == 0 else { return false }
            at += Int(query[at]) + 1
        }
        guard at + 4 < query.count else { return false }
        let type = UInt16(query[at + 1]) << 8 | UInt16(query[at + 2])
        return type == DNSType.axfr || type == DNSType.ixfr
    }

    /// The response to the transfer request `query` from `client`.
    public static func respond(
        query: [UInt8], client: IPAddress, zones: [CompiledZone], rules: TransferRules, now: Int64
    ) -> TransferStream {
        var packet: UnsafeMutablePointer<ldns_pkt>?
        let id = query.count >= 2 ? UInt16(query[0]) << 8 | UInt16(query[1]) : 0
        guard MessageScan.hasAtMostOneTSIG(query),
            query.withUnsafeBufferPointer({ ldns_wire2pkt(&packet, $0.baseAddress, $0.count) }) == LDNS_STATUS_OK, let packet,
            let question = Question(query)
        else {
            if let packet { ldns_pkt_free(packet) }
            return TransferStream(responseCode: RCode.formErr, id: id, question: nil)
        }
        defer { ldns_pkt_free(packet) }

        // 1. TSIG first: a bad signature is NOTAUTH whatever the ACL says (RFC 8945 §5.2)
        let verdict = TSIG.verify(query, packet: packet, keys: rules.keys, now: now)
        var key: TSIGKey?
        var requestMAC: [UInt8] = []
        switch verdict {
        case .unsigned: break
        case .valid(let name, let mac):
            key = rules.keys[name]
            requestMAC = mac
        case .rejected(let error, let name, let algorithm, let timeSigned, _):
            let tsig = TSIG.errorRecord(name: name, algorithm: algorithm, timeSigned: timeSigned, id: id, error: error)
            return TransferStream(responseCode: RCode.notAuth, id: id, question: question, trailer: tsig)
        }

        // 2. the zone, served here and allowed to this client
        guard question.qclass == DNSClass.in,
            let zone = zones.first(where: { $0.origin == question.lowerName }),
            let zoneRules = rules.zones[question.lowerName],
            zoneRules.allow.contains(where: { $0.allows(client, key: key?.name) })
        else {
            return TransferStream(responseCode: RCode.refused, id: id, question: question, key: key, requestMAC: requestMAC)
        }

        // 3. IXFR from a serial at least ours: the SOA alone says "up to date" (RFC 1995 §2)
        let soa = zone.contents(onlySOA: true)
        if question.qtype == DNSType.ixfr, let clientSerial = ixfrSerial(packet), !serialIsNewer(zone.serial, than: clientSerial) {
            return TransferStream(records: soa, id: id, question: question, key: key, requestMAC: requestMAC)
        }
        return TransferStream(records: zone.contents() + soa, id: id, question: question, key: key, requestMAC: requestMAC)
    }

    /// The serial of the SOA in an IXFR request's authority section (RFC 1995 §3).
    static func ixfrSerial(_ packet: UnsafeMutablePointer<ldns_pkt>) -> UInt32? {
        guard let authority = ldns_pkt_authority(packet), ldns_rr_list_rr_count(authority) > 0,
            let soa = ldns_rr_list_rr(authority, 0), ldns_rr_get_type(soa) == LDNS_RR_TYPE_SOA,
            let serial = ldns_rr_rdf(soa, 2)
        else { return nil }
        return ldns_rdf2native_int32(serial)
    }

    /// RFC 1982 serial number arithmetic: `a` is newer than `b`.
    static func serialIsNewer(_ a: UInt32, than b: UInt32) -> Bool {
        a != b && (a &- b) < 0x8000_0000
    }

    /// The request's question as sent, and its name in lower case.
    struct Question {
        let wire: [UInt8]
        let lowerName: [UInt8]
        let qtype: UInt16
        let qclass: UInt16

        init?(_ query: [UInt8]) {
            var at = 12
            while at < query.count && query[at] != 0 { at += Int(query[at]) + 1 }
            guard at + 4 < query.count else { return nil }
            let name = Array(query[12...at])
            wire = Array(query[12...(at + 4)])
            lowerName = TSIG.lowercased(name)
            qtype = UInt16(query[at + 1]) << 8 | UInt16(query[at + 2])
            qclass = UInt16(query[at + 3]) << 8 | UInt16(query[at + 4])
        }
    }
}

/// The messages of one transfer response, made one at a time as the connection takes them (so that a
/// slow secondary holds back the making, not only the sending). Each message repeats the request's ID,
/// has QR and AA set, carries the question in the first message only (RFC 5936 §2.2.1) and is signed
/// when the request was (RFC 8945 §5.3.1: every message).
public final class TransferStream {
    /// The response code of the stream (NOERROR for a transfer).
    public let responseCode: UInt16
    let records: [(owner: [UInt8], body: [UInt8])]
    let id: UInt16
    let question: ZoneTransfer.Question?
    let key: TSIGKey?
    /// A record for the additional section of the single message (the TSIG of a NOTAUTH reply).
    let trailer: [UInt8]?
    /// The MAC the next message's TSIG chains from: the request's, then each message's (RFC 8945 §5.3.1).
    var priorMAC: [UInt8]
    var position = 0
    var sent = 0

    /// A transfer of `records`, or with `responseCode` other than NOERROR a single error message.
    init(
        records: [(owner: [UInt8], body: [UInt8])] = [], responseCode: UInt16 = RCode.noError, id: UInt16, question: ZoneTransfer.Question?,
        key: TSIGKey? = nil, requestMAC: [UInt8] = [], trailer: [UInt8]? = nil
    ) {
        self.responseCode = responseCode
        self.records = records
        self.id = id
        self.question = question
        self.key = key
        self.trailer = trailer
        priorMAC = requestMAC
    }

    /// The next message, nil when the stream is done.
    public func next() -> [UInt8]? {
        guard sent == 0 || position < records.count else { return nil }
        var message: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x84, UInt8(responseCode & 0x0F), 0, 0, 0, 0, 0, 0, 0, 0]
        if sent == 0, let question {
            message[5] = 1
            message += question.wire
        }
        let start = message.count
        var count = 0
        while position < records.count
            && (count == 0 || message.count - start + records[position].owner.count + records[position].body.count <= ZoneTransfer.messageBudget)
        {
            message += records[position].owner
            message += records[position].body
            position += 1
            count += 1
        }
        message[6] = UInt8(count >> 8)
        message[7] = UInt8(count & 0xFF)
        if let trailer {
            message[11] = 1
            message += trailer
        }
        defer { sent += 1 }
        guard let key else { return message }
        guard let signed = TSIG.sign(message, key: key, priorMAC: priorMAC, timersOnly: sent > 0) else {
            position = records.count // cannot sign: end the stream rather than send unsigned data
            return nil
        }
        priorMAC = signed.mac
        return signed.wire
    }
}

/// A NOTIFY request (RFC 1996 §3): opcode NOTIFY, AA, the zone's SOA as the question, signed with
/// `key` when given.
public enum NotifyMessage {
    public static func make(origin: [UInt8], id: UInt16, key: TSIGKey?) -> [UInt8]? {
        let message: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x24, 0, 0, 1, 0, 0, 0, 0, 0, 0] + origin + [0, 6, 0, 1]
        guard let key else { return message }
        return TSIG.sign(message, key: key, priorMAC: [], timersOnly: false)?.wire
    }

    /// Whether `reply` answers the NOTIFY with `id` (QR set, opcode NOTIFY, the same ID), and its RCODE.
    public static func acknowledges(_ reply: [UInt8], id: UInt16) -> UInt16? {
        guard reply.count >= 12, UInt16(reply[0]) << 8 | UInt16(reply[1]) == id, reply[2] & 0xF8 == 0xA0 else { return nil }
        return UInt16(reply[3] & 0x0F)
    }
}
