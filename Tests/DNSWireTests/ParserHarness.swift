import DNSWire
import TestSupport

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
    qname.initialize(repeating: 0, count: 256) // the parser's lower-casing reads whole words
    lower.initialize(repeating: 0, count: 256)
    var q = ParsedQuery()
    let outcome = bytes.withUnsafeBytes { QueryParser.parse($0, into: &q, qname: qname, qnameLower: lower, scratch: scratch) }
    let n = q.qnameLength
    return ParseResult(
        outcome: outcome, query: q, qname: Array(UnsafeBufferPointer(start: qname, count: n)),
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
