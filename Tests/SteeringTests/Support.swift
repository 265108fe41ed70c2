import DNSWire
import Engine
import Foundation
import Geo
import Steering
import TestSupport
import XCTest

// MARK: temporary files

enum Temp {
    /// Writes `text` to a fresh file in a per-call temporary directory and returns its path.
    static func file(_ name: String, _ text: String) -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("steering-tests-\(UUID().uuidString)", isDirectory: true)
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try! text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}

// MARK: fixtures

enum Fx {
    /// Frankfurt, Ashburn, Singapore, São Paulo.
    static let regions = [
        RegionSpec(name: "eu", latitude: 50.11, longitude: 8.68),
        RegionSpec(name: "na", latitude: 39.04, longitude: -77.49),
        RegionSpec(name: "ap", latitude: 1.35, longitude: 103.82),
        RegionSpec(name: "sa", latitude: -23.55, longitude: -46.63),
    ]
    static let euA = "192.0.2.1", euAAAA = "2001:db8:e::1"
    static let naA = "198.51.100.1", naAAAA = "2001:db8:a::1"
    static let apA = "203.0.113.1" // ap has no AAAA on purpose
    /// eu (0), na (1), ap (2, A only).
    static var threePools: [PoolSpec] {
        [
            PoolSpec(region: "eu", addresses: [PoolAddress(text: euA), PoolAddress(text: euAAAA)]),
            PoolSpec(region: "na", addresses: [PoolAddress(text: naA), PoolAddress(text: naAAAA)]),
            PoolSpec(region: "ap", addresses: [PoolAddress(text: apA)]),
        ]
    }
    static let eu: Int32 = 0, na: Int32 = 1, ap: Int32 = 2

    static func spec(
        _ policy: PolicyKind, name: String = "www.gslb.test.", pools: [PoolSpec] = Fx.threePools,
        _ configure: (inout ServiceSpec) -> Void = { _ in }
    ) -> ServiceSpec {
        var s = ServiceSpec(name: name)
        s.policy = policy
        s.pools = pools
        s.ttl = 30
        configure(&s)
        return s
    }

    static func compile(
        _ spec: ServiceSpec, sources: GeoSources = GeoSources(),
        file: StaticString = #filePath, line: UInt = #line
    ) -> CompiledService {
        do {
            return try ServiceCompiler.compile(spec, regions: regions, sources: sources)
        } catch {
            XCTFail("compile failed: \(error)", file: file, line: line)
            fatalError("compile failed: \(error)")
        }
    }
}

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

func octets(_ text: String) -> [UInt8] {
    guard let (family, v) = IPPrefix.parseAddress(text) else { fatalError("bad address \(text)") }
    let n = family == 4 ? 4 : 16
    return (0..<n).map { UInt8(truncatingIfNeeded: v >> UInt128(8 * (n - 1 - $0))) }
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
    let ok = s.writeAnswer(
        d, qtype: qtype, owner: .question, random: random, up: { !down.contains($0) },
        addressUp: { _ in true }, degraded: false, writer: &w)
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

/// A health table with per-pool flags, every address up and nothing degraded.
func health(_ services: [CompiledService], up: [[Bool]]) -> HealthTable {
    HealthTable(
        up: up, addressUp: services.map { [Bool](repeating: true, count: $0.weights.count) },
        degraded: services.map { _ in false })
}
