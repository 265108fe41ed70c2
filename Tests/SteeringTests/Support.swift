import DNSWire
import Engine
import Foundation
import GSLBFixtures
import Geo
import Steering
import TestSupport
import XCTest

/// Client key from a textual address.
func key(_ text: String) -> IPAddress {
    guard let address = IPAddress(text) else { fatalError("bad address \(text)") }
    return address
}

extension IPAddress {
    /// A client key from an IP version (4 or 6) and an integer, as the tests' tables hold addresses.
    init(version: Int, value: UInt128) {
        self.init(family: version == 4 ? .v4 : .v6, value: value)
    }

    /// The IP version, 4 or 6.
    var version: Int { family.rawValue }
}

/// Decision for a client (nil: no client information) with the pools in `down` marked down.
func decide(
    _ s: CompiledService, _ client: IPAddress?, _ qtype: UInt16 = DNSType.a, down: Set<Int> = [],
    random: UInt64 = 0
) -> Decision {
    s.decide(client: client, qtype: qtype, random: random) { !down.contains($0) }
}

func decide(
    _ s: CompiledService, _ client: String, _ qtype: UInt16 = DNSType.a, down: Set<Int> = [],
    random: UInt64 = 0
) -> Decision {
    decide(s, key(client), qtype, down: down, random: random)
}

/// The region list of a decision's order (empty for static or non-table decisions).
func orderRegions(_ s: CompiledService, _ d: Decision) -> [String] {
    d.order >= 0 ? s.order(Int(d.order)).map { s.pools[Int($0)].region } : []
}

func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

/// The exact 16-octet A record the writer must produce with owner .question (pointer 0xC00C).
func aRecord(_ address: String, ttl: UInt32) -> [UInt8] {
    [0xC0, 0x0C, 0, 1, 0, 1] + be32(ttl) + [0, 4] + octets(address)
}

/// The exact 28-octet AAAA record with owner .question.
func aaaaRecord(_ address: String, ttl: UInt32) -> [UInt8] {
    [0xC0, 0x0C, 0, 28, 0, 1] + be32(ttl) + [0, 16] + octets(address)
}

/// Runs `writeAnswer` into a fresh buffer (no header or question: records start at offset 0).
func written(
    _ s: CompiledService, _ d: Decision, qtype: UInt16 = DNSType.a, random: UInt64 = 0,
    down: Set<Int> = [], limit: Int = 4096
) -> (ok: Bool, bytes: [UInt8], answers: Int) {
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
    defer { buffer.deallocate() }
    let qname = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    defer { qname.deallocate() }
    qname[0] = 0
    var w = ResponseWriter(buffer: buffer, limit: limit, qnameLower: qname, qnameLength: 0)
    var written: UInt64 = 0
    let ok = s.writeAnswer(
        d, qtype: qtype, owner: .question, random: random, up: { !down.contains($0) },
        addressUp: { _ in true }, degraded: false, writer: &w, written: &written)
    return (ok, Array(UnsafeBufferPointer(start: buffer, count: w.count)), Int(w.answerCount))
}

/// Splits written A records (16 octets each) into their addresses, checking the fixed part.
func aAddresses(_ bytes: [UInt8], ttl: UInt32, file: StaticString = #filePath, line: UInt = #line) -> [String] {
    XCTAssertEqual(bytes.count % 16, 0, "A records are 16 octets each", file: file, line: line)
    return stride(from: 0, to: bytes.count - bytes.count % 16, by: 16).map { i in
        XCTAssertEqual(Array(bytes[i..<(i + 12)]), [0xC0, 0x0C, 0, 1, 0, 1] + be32(ttl) + [0, 4], file: file, line: line)
        return bytes[(i + 12)..<(i + 16)].map(String.init).joined(separator: ".")
    }
}
