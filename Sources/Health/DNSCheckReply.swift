/// The question a DNS health check asks: a random ID, the query name in wire form and the type, class IN.
/// Builds the query datagram (RFC 1035 §4.1.1 header, §4.1.2 question); `DNSCheckReply` checks a reply against it.
public struct DNSCheckQuery: Sendable, Equatable {
    public let id: UInt16
    /// The query name in wire form (length-prefixed labels, then the root's zero byte), lower-cased.
    public let name: [UInt8]
    public let type: UInt16
    public static let classIN: UInt16 = 1

    /// Nil when `text` is not a domain name that fits the wire form: an empty label inside the name
    /// ("a..b"), a label over 63 octets or a name over 255 octets (RFC 1035 §2.3.4). A trailing dot and
    /// "." (the root) are accepted; no escapes ("\.") are read.
    public init?(id: UInt16, name text: String, type: UInt16) {
        var wire: [UInt8] = []
        let labels = text == "." ? [] : text.split(separator: ".", omittingEmptySubsequences: false)
        for (index, label) in labels.enumerated() {
            if label.isEmpty {
                guard index == labels.count - 1 else { return nil } // only a trailing dot may leave one
                continue
            }
            guard label.utf8.count <= 63 else { return nil }
            wire.append(UInt8(label.utf8.count))
            wire.append(contentsOf: label.utf8.map(DNSCheckReply.lowercased))
        }
        wire.append(0)
        guard wire.count <= 255 else { return nil }
        self.id = id
        self.name = wire
        self.type = type
    }

    /// The query: header with this ID, all flags clear (a standard query, no recursion desired),
    /// QDCOUNT 1, then the question.
    public var datagram: [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        bytes += name
        bytes += [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(Self.classIN >> 8), UInt8(Self.classIN & 0xFF)]
        return bytes
    }
}

/// The verdict on one datagram received by a DNS health check, from a parse of the whole message
/// (RFC 1035 §4.1): header, question, and every resource record of the answer, authority and
/// additional sections. Pure Swift over raw bytes (no NIO), so that it can be unit-tested and fuzzed.
public enum DNSCheckReply: Equatable, Sendable {
    /// Too short to carry an ID, or another ID: not a reply to this query (the probe keeps waiting).
    case notOurs
    /// Our ID, but not an answer to our question, or not a well-formed message (the probe fails with the reason).
    case invalid(String)
    /// A well-formed response to our question, with its RCODE.
    case answer(rcode: Int)

    /// Judges `message` as a reply to `query`.
    public static func judge(_ message: UnsafeRawBufferPointer, for query: DNSCheckQuery) -> DNSCheckReply {
        var reader = Reader(bytes: message)
        // §4.1.1 header: ID, flags (QR, OPCODE, AA, TC, RD, RA, Z, RCODE), QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT
        guard let id = reader.u16(), id == query.id else { return .notOurs }
        guard let flags = reader.u16(), let qdcount = reader.u16(), let ancount = reader.u16(),
            let nscount = reader.u16(), let arcount = reader.u16()
        else {
            return .invalid("truncated header (\(message.count) bytes)")
        }
        guard flags & 0x8000 != 0 else { return .invalid("not a response (QR=0): the query came back") }
        let opcode = (flags >> 11) & 0xF
        guard opcode == 0 else { return .invalid("opcode \(opcode), not QUERY") }
        guard qdcount == 1 else { return .invalid("QDCOUNT \(qdcount), not 1") }
        // §4.1.2 question: QNAME, QTYPE, QCLASS, the ones asked
        var qname: [UInt8] = []
        switch reader.name(collect: &qname) {
        case let .failure(problem): return .invalid("question: \(problem.text)")
        case .success: break
        }
        guard let qtype = reader.u16(), let qclass = reader.u16() else { return .invalid("question: truncated") }
        guard qname == query.name, qtype == query.type, qclass == DNSCheckQuery.classIN else {
            return .invalid("question not ours (type \(qtype), class \(qclass))")
        }
        // §4.1.3 resource records: NAME, TYPE, CLASS, TTL, RDLENGTH, RDATA, as many as the counts say
        let sections = [("answer", ancount), ("authority", nscount), ("additional", arcount)]
        for (section, count) in sections {
            for index in 0..<Int(count) {
                if let problem = reader.record() {
                    return .invalid("\(section) record \(index + 1) of \(count): \(problem.text)")
                }
            }
        }
        guard reader.offset == message.count else {
            return .invalid("\(message.count - reader.offset) bytes after the last record")
        }
        return .answer(rcode: Int(flags & 0xF))
    }

    /// `judge` over an array (tests, the fuzz target).
    public static func judge(_ message: [UInt8], for query: DNSCheckQuery) -> DNSCheckReply {
        message.withUnsafeBytes { judge($0, for: query) }
    }

    /// ASCII upper case to lower case; every other octet as it is (names compare case-insensitively, RFC 4343).
    static func lowercased(_ byte: UInt8) -> UInt8 {
        (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
    }

    /// Why a name or record does not parse.
    struct Problem: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }

    /// A cursor over the message; every read checks its bounds.
    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func u16() -> UInt16? {
            guard offset + 2 <= bytes.count else { return nil }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        /// Reads a name at `offset` (§4.1.4: labels, a zero octet, or a pointer ending it) and moves past
        /// it. A pointer must point before itself, so that a chain of them always ends (no loops), and
        /// past the header; label types 01 and 10 (RFC 6891 retired them) are refused; the name must fit
        /// 255 octets (§2.3.4). Appends the name in lower-cased wire form to `collect`.
        mutating func name(collect: inout [UInt8]) -> Result<Void, Problem> {
            var position = offset
            var length = 0
            var jumped = false
            while true {
                guard position < bytes.count else { return .failure(Problem("name runs past the end")) }
                let octet = bytes[position]
                switch octet & 0xC0 {
                case 0xC0:
                    guard position + 1 < bytes.count else { return .failure(Problem("pointer cut short")) }
                    let target = Int(octet & 0x3F) << 8 | Int(bytes[position + 1])
                    guard target < position else { return .failure(Problem("pointer to \(target) does not point back (loop)")) }
                    guard target >= 12 else { return .failure(Problem("pointer to \(target), inside the header")) }
                    if !jumped { offset = position + 2 }
                    jumped = true
                    position = target
                case 0x00:
                    length += Int(octet) + 1
                    guard length <= 255 else { return .failure(Problem("name over 255 octets")) }
                    guard position + 1 + Int(octet) <= bytes.count else { return .failure(Problem("label runs past the end")) }
                    collect.append(octet)
                    for i in 0..<Int(octet) { collect.append(DNSCheckReply.lowercased(bytes[position + 1 + i])) }
                    position += 1 + Int(octet)
                    if octet == 0 {
                        if !jumped { offset = position }
                        return .success(())
                    }
                default:
                    return .failure(Problem("label type \(octet >> 6) (not a length or a pointer)"))
                }
            }
        }

        /// Moves past a name, checking it as `name(collect:)` does.
        mutating func skipName() -> Problem? {
            var scratch: [UInt8] = []
            scratch.reserveCapacity(64)
            if case let .failure(problem) = name(collect: &scratch) { return problem }
            return nil
        }

        /// Reads one resource record (§4.1.3): owner name, TYPE, CLASS, TTL, RDLENGTH, and RDATA within
        /// the message. The names inside the RDATA of the types §3.3 defines with names (NS, CNAME, PTR,
        /// MX, SOA) are checked too and must end where the RDATA ends. Nil when the record parses.
        mutating func record() -> Problem? {
            if let problem = skipName() { return Problem("owner name: \(problem.text)") }
            guard let type = u16(), u16() != nil, u16() != nil, u16() != nil, let rdlength = u16() else {
                return Problem("fixed fields cut short")
            }
            let end = offset + Int(rdlength)
            guard end <= bytes.count else { return Problem("RDLENGTH \(rdlength) runs past the end") }
            switch type {
            case 2, 5, 12: // NS, CNAME, PTR: one name
                if let problem = skipName() { return Problem("RDATA name: \(problem.text)") }
            case 15: // MX: PREFERENCE, EXCHANGE
                guard u16() != nil, offset <= end else { return Problem("MX RDATA cut short") }
                if let problem = skipName() { return Problem("RDATA name: \(problem.text)") }
            case 6: // SOA: MNAME, RNAME, SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM
                if let problem = skipName() { return Problem("SOA MNAME: \(problem.text)") }
                if let problem = skipName() { return Problem("SOA RNAME: \(problem.text)") }
                offset += 20
            default:
                offset = end
            }
            guard offset == end else { return Problem("RDATA of type \(type) does not fill RDLENGTH \(rdlength)") }
            return nil
        }
    }
}
