import DNSWire

/// Assembles DNS messages byte by byte for the tests (independent of the code under test).
enum Wire {
    /// Presentation name -> wire form, letter case kept ("." is the root).
    static func name(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        let trimmed = text.hasSuffix(".") ? String(text.dropLast()) : text
        if !trimmed.isEmpty {
            for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
                out.append(UInt8(label.utf8.count))
                out.append(contentsOf: Array(label.utf8))
            }
        }
        out.append(0)
        return out
    }

    static func u16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func u32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static func header(id: UInt16 = 0x1234, flags: UInt16 = 0x0100, qd: UInt16 = 1, an: UInt16 = 0,
                       ns: UInt16 = 0, ar: UInt16 = 0) -> [UInt8] {
        u16(id) + u16(flags) + u16(qd) + u16(an) + u16(ns) + u16(ar)
    }

    static func question(_ qname: String, _ qtype: UInt16 = 1, _ qclass: UInt16 = 1) -> [UInt8] {
        name(qname) + u16(qtype) + u16(qclass)
    }

    /// One EDNS option: code, length, body.
    static func option(_ code: UInt16, _ body: [UInt8]) -> [UInt8] { u16(code) + u16(UInt16(body.count)) + body }

    /// ECS option body (RFC 7871 §6).
    static func ecs(family: UInt16, source: UInt8, scope: UInt8 = 0, address: [UInt8]) -> [UInt8] {
        option(8, u16(family) + [source, scope] + address)
    }

    /// An OPT pseudo-RR. `rdata` is the concatenated options (see `option`).
    static func opt(owner: [UInt8] = [0], udp: UInt16 = 1232, extRCode: UInt8 = 0, version: UInt8 = 0,
                    doBit: Bool = false, rdata: [UInt8] = [], rdlength: UInt16? = nil) -> [UInt8] {
        owner + u16(41) + u16(udp) + [extRCode, version] + u16(doBit ? 0x8000 : 0)
            + u16(rdlength ?? UInt16(rdata.count)) + rdata
    }

    /// A whole query: header, one question, then additional records (counted in ARCOUNT).
    static func query(_ qname: String, _ qtype: UInt16 = 1, qclass: UInt16 = 1, id: UInt16 = 0x1234,
                      flags: UInt16 = 0x0100, additional: [[UInt8]] = []) -> [UInt8] {
        header(id: id, flags: flags, qd: 1, ar: UInt16(additional.count)) + question(qname, qtype, qclass)
            + additional.flatMap { $0 }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}

/// Runs `QueryParser.parse` on bytes and copies out what it produced.
struct ParseResult {
    var outcome: ParseOutcome
    var query: ParsedQuery
    var qname: [UInt8]
    var qnameLower: [UInt8]
}

func runParser(_ bytes: [UInt8]) -> ParseResult {
    let qname = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    let lower = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    defer { qname.deallocate(); lower.deallocate(); scratch.deallocate() }
    var q = ParsedQuery()
    let outcome = bytes.withUnsafeBytes { QueryParser.parse($0, into: &q, qname: qname, qnameLower: lower, scratch: scratch) }
    let n = q.qnameLength
    return ParseResult(outcome: outcome, query: q, qname: Array(UnsafeBufferPointer(start: qname, count: n)),
                       qnameLower: Array(UnsafeBufferPointer(start: lower, count: n)))
}

/// Runs `WireName.read`; returns the decoded name and the next offset, or nil.
/// `out` is 255 octets followed by 64 guard octets that must stay untouched.
func readName(_ packet: [UInt8], at offset: Int, guardOK: inout Bool) -> (name: [UInt8], next: Int)? {
    let out = UnsafeMutablePointer<UInt8>.allocate(capacity: 255 + 64)
    defer { out.deallocate() }
    out.initialize(repeating: 0xEE, count: 255 + 64)
    let r = packet.withUnsafeBytes { WireName.read($0, at: offset, into: out) }
    guardOK = (255..<(255 + 64)).allSatisfy { out[$0] == 0xEE }
    guard let r else { return nil }
    return (Array(UnsafeBufferPointer(start: out, count: r.length)), r.next)
}
