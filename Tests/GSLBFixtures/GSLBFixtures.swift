import Engine
import Foundation
import Geo
import Steering
import XCTest

/// Temporary files for the loaders under test.
public enum Temp {
    /// Writes `text` to a fresh file in a per-call temporary directory and returns its path.
    public static func file(_ name: String, _ text: String) -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("meridian-tests-\(UUID().uuidString)", isDirectory: true)
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try! text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}

/// The GSLB fixture the steering and engine tests share: regions eu, na, ap (and sa, located but
/// without a pool), one pool each, and services compiled over them.
public enum Fx {
    /// Frankfurt, Ashburn, Singapore, São Paulo.
    public static let regions = [
        RegionSpec(name: "eu", latitude: 50.11, longitude: 8.68),
        RegionSpec(name: "na", latitude: 39.04, longitude: -77.49),
        RegionSpec(name: "ap", latitude: 1.35, longitude: 103.82),
        RegionSpec(name: "sa", latitude: -23.55, longitude: -46.63),
    ]
    public static let euA = "192.0.2.1", euAAAA = "2001:db8:e::1"
    public static let naA = "198.51.100.1", naAAAA = "2001:db8:a::1"
    public static let apA = "203.0.113.1" // ap has no AAAA on purpose
    /// eu (0), na (1), ap (2, A only).
    public static var threePools: [PoolSpec] {
        [
            PoolSpec(region: "eu", addresses: [PoolAddress(text: euA), PoolAddress(text: euAAAA)]),
            PoolSpec(region: "na", addresses: [PoolAddress(text: naA), PoolAddress(text: naAAAA)]),
            PoolSpec(region: "ap", addresses: [PoolAddress(text: apA)]),
        ]
    }
    public static let eu: Int32 = 0, na: Int32 = 1, ap: Int32 = 2

    public static func spec(
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

    public static func compile(
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

/// The octets of a textual IPv4 or IPv6 address.
public func octets(_ text: String) -> [UInt8] {
    guard let (family, v) = IPPrefix.parseAddress(text) else { fatalError("bad address \(text)") }
    let n = family == 4 ? 4 : 16
    return (0..<n).map { UInt8(truncatingIfNeeded: v >> UInt128(8 * (n - 1 - $0))) }
}

/// A health table with per-pool flags, every address up and nothing degraded.
public func health(_ services: [CompiledService], up: [[Bool]]) -> HealthTable {
    HealthTable(
        up: up, addressUp: services.map { [Bool](repeating: true, count: $0.weights.count) },
        degraded: services.map { _ in false })
}
