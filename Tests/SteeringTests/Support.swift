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
        [PoolSpec(region: "eu", addresses: [PoolAddress(text: euA), PoolAddress(text: euAAAA)]),
         PoolSpec(region: "na", addresses: [PoolAddress(text: naA), PoolAddress(text: naAAAA)]),
         PoolSpec(region: "ap", addresses: [PoolAddress(text: apA)])]
    }
    static let eu: Int32 = 0, na: Int32 = 1, ap: Int32 = 2

    static func spec(_ policy: PolicyKind, name: String = "www.gslb.test.", pools: [PoolSpec] = Fx.threePools,
                     _ configure: (inout ServiceSpec) -> Void = { _ in }) -> ServiceSpec {
        var s = ServiceSpec(name: name)
        s.policy = policy
        s.pools = pools
        s.ttl = 30
        configure(&s)
        return s
    }

    static func compile(_ spec: ServiceSpec, sources: GeoSources = GeoSources(),
                        file: StaticString = #filePath, line: UInt = #line) -> CompiledService {
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
func decide(_ s: CompiledService, _ client: IPAddress?, _ qtype: UInt16 = DNSType.a, down: Set<Int> = [],
            random: UInt64 = 0) -> Decision {
    s.decide(client: client, qtype: qtype, random: random) { !down.contains($0) }
}

func decide(_ s: CompiledService, _ client: String, _ qtype: UInt16 = DNSType.a, down: Set<Int> = [],
            random: UInt64 = 0) -> Decision {
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
func written(_ s: CompiledService, _ d: Decision, qtype: UInt16 = DNSType.a, random: UInt64 = 0,
             down: Set<Int> = [], limit: Int = 4096) -> (ok: Bool, bytes: [UInt8], answers: Int) {
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
    defer { buffer.deallocate() }
    let qname = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    defer { qname.deallocate() }
    qname[0] = 0
    var w = ResponseWriter(buffer: buffer, limit: limit, qnameLower: qname, qnameLength: 0)
    let ok = s.writeAnswer(d, qtype: qtype, owner: .question, random: random, up: { !down.contains($0) },
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

// MARK: DNS messages (built and decoded here, independently of the code under test)

enum Msg {
    static func name(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        let trimmed = text.hasSuffix(".") ? String(text.dropLast()) : text
        if !trimmed.isEmpty {
            for label in trimmed.split(separator: ".") {
                out.append(UInt8(label.utf8.count))
                out += Array(label.utf8)
            }
        }
        return out + [0]
    }
    static func u16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }

    /// A query with an OPT record; `ecs` = (family, source, address octets) adds an ECS option.
    static func query(_ qname: String, _ qtype: UInt16, id: UInt16 = 0x4242, edns: Bool = true,
                      ecs: (UInt16, UInt8, [UInt8])? = nil) -> [UInt8] {
        var out = u16(id) + u16(0x0000) + u16(1) + u16(0) + u16(0) + u16(edns ? 1 : 0)
        out += name(qname) + u16(qtype) + u16(1)
        if edns {
            var options: [UInt8] = []
            if let (family, source, address) = ecs {
                let body = u16(family) + [source, 0] + address
                options = u16(8) + u16(UInt16(body.count)) + body
            }
            out += [0] + u16(41) + u16(1232) + [0, 0] + u16(0) + u16(UInt16(options.count)) + options
        }
        return out
    }

    struct RR: Equatable, CustomStringConvertible {
        var owner: String
        var type: UInt16
        var ttl: UInt32
        var rdata: [UInt8]
        /// Target name for CNAME (decompressed), else nil.
        var target: String?
        var description: String { "\(owner) \(ttl) type\(type) \(target ?? rdata.map(String.init).joined(separator: "."))" }
    }

    struct Response {
        var id: UInt16 = 0
        var flags: UInt16 = 0
        var rcode: Int { Int(flags & 0x0F) }
        var aa: Bool { flags & 0x0400 != 0 }
        var answer: [RR] = []
        var authority: [RR] = []
        var additional: [RR] = []
        var hasOPT = false
        /// ECS echoed: (family, source, scope, address octets).
        var ecs: (family: UInt16, source: UInt8, scope: UInt8, address: [UInt8])?
    }

    static func readName(_ m: [UInt8], _ start: Int) -> (String, Int) {
        var labels: [String] = []
        var pos = start
        var end = -1
        var hops = 0
        while true {
            let len = Int(m[pos])
            if len == 0 { pos += 1; break }
            if len & 0xC0 == 0xC0 {
                if end < 0 { end = pos + 2 }
                pos = (len & 0x3F) << 8 | Int(m[pos + 1])
                hops += 1
                precondition(hops < 64, "pointer loop")
                continue
            }
            labels.append(String(decoding: m[(pos + 1)...(pos + len)], as: UTF8.self))
            pos += len + 1
        }
        return (labels.joined(separator: ".") + ".", end >= 0 ? end : pos)
    }

    static func decode(_ m: [UInt8]) -> Response {
        func be16(_ i: Int) -> Int { Int(m[i]) << 8 | Int(m[i + 1]) }
        var r = Response()
        r.id = UInt16(be16(0))
        r.flags = UInt16(be16(2))
        let qd = be16(4), an = be16(6), ns = be16(8), ar = be16(10)
        var pos = 12
        for _ in 0..<qd { pos = readName(m, pos).1 + 4 }
        func rr() -> RR {
            let (owner, after) = readName(m, pos)
            let type = UInt16(be16(after))
            let ttl = UInt32(be16(after + 4)) << 16 | UInt32(be16(after + 6))
            let rdlen = be16(after + 8)
            let rdata = Array(m[(after + 10)..<(after + 10 + rdlen)])
            let target = type == 5 ? readName(m, after + 10).0 : nil
            if type == 41 {
                // options
                var o = after + 10
                while o + 4 <= after + 10 + rdlen {
                    let code = be16(o), len = be16(o + 2)
                    if code == 8 {
                        r.ecs = (UInt16(be16(o + 4)), m[o + 6], m[o + 7], Array(m[(o + 8)..<(o + 4 + len)]))
                    }
                    o += 4 + len
                }
                r.hasOPT = true
            }
            pos = after + 10 + rdlen
            return RR(owner: owner, type: type, ttl: ttl, rdata: rdata, target: target)
        }
        for _ in 0..<an { let x = rr(); r.answer.append(x) }
        for _ in 0..<ns { let x = rr(); r.authority.append(x) }
        for _ in 0..<ar {
            let x = rr()
            if x.type != 41 { r.additional.append(x) }
        }
        return r
    }
}

/// A health table with per-pool flags, every address up and nothing degraded.
func health(_ services: [CompiledService], up: [[Bool]]) -> HealthTable {
    HealthTable(up: up, addressUp: services.map { [Bool](repeating: true, count: $0.weights.count) },
                degraded: services.map { _ in false })
}
