/// The facts of one query that the engine needs, decoded from the packet without allocation.
///
/// The question name itself is written by `QueryParser` into caller-owned scratch memory (as sent, and
/// lower-cased); this struct only holds scalars.
public struct ParsedQuery: Sendable {
    public var id: UInt16 = 0
    /// The header's second word as received (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE).
    public var flags: UInt16 = 0
    public var opcode: UInt8 = 0
    public var hasQuestion = false
    public var qtype: UInt16 = 0
    public var qclass: UInt16 = 0
    /// Wire length of the question name held in scratch.
    public var qnameLength = 0
    /// The query carried an OPT record (RFC 6891).
    public var hasEDNS = false
    public var ednsVersion: UInt8 = 0
    public var ednsUDPSize: UInt16 = 0
    public var ednsDO = false
    public var nsidRequested = false
    public var clientSubnet: ClientSubnet? = nil
    /// The first COOKIE option (RFC 7873 §5.2: later ones are ignored): where its body starts in the
    /// packet and its length (0: none; else 8, or 16...40 with a server cookie, checked by the parser).
    public var cookieOffset: UInt16 = 0
    public var cookieLength: UInt8 = 0
    /// edns-tcp-keepalive (RFC 7828 §3.2.1): `keepaliveRequested` when the option was sent, plus
    /// `keepaliveMalformed` when it carried a TIMEOUT, which a client must not send (FORMERR over TCP;
    /// over UDP the option is ignored). 0 without the option: one test covers both.
    public var keepalive: UInt8 = 0
    public static let keepaliveRequested: UInt8 = 1
    public static let keepaliveMalformed: UInt8 = 2

    @inlinable public init() {}

    @inlinable public var recursionDesired: Bool { flags & HeaderFlag.rd != 0 }
    @inlinable public var checkingDisabled: Bool { flags & HeaderFlag.cd != 0 }
}

/// How the parser judged a packet.
public enum ParseOutcome: Equatable, Sendable {
    /// A well-formed query: answer it.
    case query
    /// Not to be answered at all: shorter than a header, or a response (QR=1) (RFC 1035 §4.1.1).
    case drop
    /// Answer with this RCODE (FORMERR, NOTIMP) using what was parsed so far.
    case error(UInt16)
    /// No question, a COOKIE option: answered with the cookies alone (RFC 7873 §5.4).
    case cookieOnly
}

/// Decodes a DNS query message (RFC 1035 §4.1) with EDNS(0) (RFC 6891) and ECS (RFC 7871).
///
/// Never allocates, never traps on hostile input: every read is bounds-checked against the packet.
public enum QueryParser {
    /// Parses `packet`. The question name goes to `qname` (as sent) and `qnameLower` (lower-cased),
    /// each with room for `WireName.lowercaseWordsCapacity` (256) octets; `scratch` (255 octets) is
    /// used to skip other names.
    public static func parse(
        _ packet: UnsafeRawBufferPointer, into q: inout ParsedQuery,
        qname: UnsafeMutablePointer<UInt8>, qnameLower: UnsafeMutablePointer<UInt8>,
        scratch: UnsafeMutablePointer<UInt8>
    ) -> ParseOutcome {
        q = ParsedQuery()
        guard packet.count >= WireLimits.headerLength else { return .drop }
        q.id = be16(packet, 0)
        q.flags = be16(packet, 2)
        if q.flags & HeaderFlag.qr != 0 { return .drop }
        q.opcode = UInt8((q.flags & HeaderFlag.opcodeMask) >> 11)
        let qdcount = be16(packet, 4)
        let ancount = Int(be16(packet, 6))
        let nscount = Int(be16(packet, 8))
        let arcount = Int(be16(packet, 10))
        var pos = WireLimits.headerLength

        // RFC 9619: a QUERY carries exactly one question.
        if qdcount == 1 {
            guard let name = WireName.read(packet, at: pos, into: qname) else { return .error(RCode.formErr) }
            guard name.next + 4 <= packet.count else { return .error(RCode.formErr) }
            q.qnameLength = name.length
            WireName.lowercaseWords(qname, length: name.length, into: qnameLower)
            q.qtype = be16(packet, name.next)
            q.qclass = be16(packet, name.next + 2)
            q.hasQuestion = true
            pos = name.next + 4
        }
        if q.opcode != 0 { return .error(RCode.notImp) }
        // no question is valid only with a COOKIE option (RFC 7873 §5.4), seen below
        guard qdcount <= 1 else { return .error(RCode.formErr) }

        // Answer and authority sections: a query should have none; skip them soundly if present.
        for _ in 0..<(ancount + nscount) {
            guard let next = skipRecord(packet, at: pos, scratch: scratch) else { return .error(RCode.formErr) }
            pos = next
        }
        for _ in 0..<arcount {
            guard let owner = WireName.read(packet, at: pos, into: scratch), owner.next + 10 <= packet.count else {
                return .error(RCode.formErr)
            }
            let type = be16(packet, owner.next)
            let rdlen = Int(be16(packet, owner.next + 8))
            let rdata = owner.next + 10
            guard rdata + rdlen <= packet.count else { return .error(RCode.formErr) }
            if type == DNSType.opt {
                // RFC 6891 §6.1.1: one OPT at most, owned by the root.
                guard !q.hasEDNS, owner.length == 1 else { return .error(RCode.formErr) }
                q.hasEDNS = true
                q.ednsUDPSize = be16(packet, owner.next + 2)
                q.ednsVersion = packet[owner.next + 5]
                q.ednsDO = packet[owner.next + 6] & 0x80 != 0
                if let rc = parseOptions(packet, from: rdata, to: rdata + rdlen, into: &q) { return .error(rc) }
            }
            pos = rdata + rdlen
        }
        if qdcount == 0 { return q.cookieLength > 0 ? .cookieOnly : .error(RCode.formErr) }
        return .query
    }

    /// Walks the options of an OPT RDATA (RFC 6891 §6.1.2). Returns an RCODE when malformed.
    @inline(__always)
    static func parseOptions(
        _ packet: UnsafeRawBufferPointer, from start: Int, to end: Int,
        into q: inout ParsedQuery
    ) -> UInt16? {
        var pos = start
        while pos < end {
            guard pos + 4 <= end else { return RCode.formErr }
            let code = be16(packet, pos)
            let len = Int(be16(packet, pos + 2))
            let body = pos + 4
            guard body + len <= end else { return RCode.formErr }
            switch code {
            case EDNSOption.clientSubnet:
                guard q.clientSubnet == nil, let ecs = parseClientSubnet(packet, at: body, length: len) else {
                    return RCode.formErr
                }
                q.clientSubnet = ecs
            case EDNSOption.nsid:
                q.nsidRequested = true
            case EDNSOption.cookie:
                // RFC 7873 §5.2.2: a client cookie of 8 octets, alone or with a server cookie of 8...32
                guard len == 8 || (len >= 16 && len <= 40) else { return RCode.formErr }
                if q.cookieLength == 0 {
                    q.cookieOffset = UInt16(truncatingIfNeeded: body) // a message is at most 65535 octets
                    q.cookieLength = UInt8(len)
                }
            case EDNSOption.tcpKeepalive:
                q.keepalive = ParsedQuery.keepaliveRequested | (len != 0 ? ParsedQuery.keepaliveMalformed : 0)
            default:
                break // RFC 6891 §6.1.2: unknown options are ignored
            }
            pos = body + len
        }
        return nil
    }

    /// RFC 7871 §6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH, ADDRESS. Returns nil (FORMERR)
    /// for an unknown family, a prefix beyond the family's width, an ADDRESS that is not exactly
    /// ceil(SOURCE/8) octets, or address bits set beyond SOURCE PREFIX-LENGTH.
    @inline(__always)
    static func parseClientSubnet(_ packet: UnsafeRawBufferPointer, at pos: Int, length: Int) -> ClientSubnet? {
        guard length >= 4 else { return nil }
        let family = be16(packet, pos)
        let source = Int(packet[pos + 2])
        let scope = packet[pos + 3]
        let ipFamily: IPAddress.Family
        switch family {
        case 1: ipFamily = .v4
        case 2: ipFamily = .v6
        default: return nil
        }
        let width = ipFamily.width
        guard source <= width, length - 4 == (source + 7) / 8 else { return nil }
        // ADDRESS (at most 16 octets, checked above) into a zeroed 16-octet buffer, read as two
        // big-endian words: the address left-aligned in 128 bits
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { $0.baseAddress!.copyMemory(from: packet.baseAddress! + pos + 4, byteCount: length - 4) }
        let high = UInt64(bigEndian: words.0)
        let low = UInt64(bigEndian: words.1)
        // bits beyond the source prefix must be zero
        let (maskHigh, maskLow) = prefixMask(source)
        guard high & ~maskHigh == 0, low & ~maskLow == 0 else { return nil }
        return ClientSubnet(
            address: IPAddress(family: ipFamily, leftAlignedWords: (high, low)),
            sourcePrefix: UInt8(source), queryScope: scope)
    }

    /// The left-aligned 128-bit mask of `bits` leading ones.
    @inlinable public static func prefixMask(_ bits: Int) -> (UInt64, UInt64) {
        if bits <= 0 { return (0, 0) }
        if bits >= 128 { return (~0, ~0) }
        if bits <= 64 { return (bits == 64 ? ~0 : ~(~UInt64(0) >> UInt64(bits)), 0) }
        return (~0, ~(~UInt64(0) >> UInt64(bits - 64)))
    }

    static func skipRecord(_ packet: UnsafeRawBufferPointer, at pos: Int, scratch: UnsafeMutablePointer<UInt8>) -> Int? {
        guard let next = WireName.skip(packet, at: pos, scratch: scratch), next + 10 <= packet.count else { return nil }
        let end = next + 10 + Int(be16(packet, next + 8))
        return end <= packet.count ? end : nil
    }

    @inline(__always)
    public static func be16(_ p: UnsafeRawBufferPointer, _ i: Int) -> UInt16 {
        UInt16(p[i]) << 8 | UInt16(p[i + 1])
    }
}
