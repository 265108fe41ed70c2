import GSLBFixtures
import DNSWire
import Geo
import Steering
import TestSupport
import XCTest

/// IPv6 clients where a MaxMind IPv6 database points back at its IPv4 data (6to4 2002::/16, Teredo
/// 2001::/32, IPv4-mapped ::ffff:0:0/96) are decided as the IPv4 address they embed, IPv4 tables
/// included; an IPv6 table over part of such a range still wins there; and the ECS scope never spans
/// addresses decided differently (RFC 7871 §7.2.1). Uses the real GeoLite2-City database.
final class IPv4AliasTests: XCTestCase {
    static let database: Result<GeoDatabase, Error> = Result {
        guard let path = GeoLite2.path() else { throw XCTSkip("maxminddb-geolite2 is not installed (make test installs it)") }
        return try GeoDatabase(path: path)
    }

    func service(networks csv: String? = nil) throws -> CompiledService {
        let db = try Self.database.get()
        return Fx.compile(
            Fx.spec(.geo) { s in
                s.map.continent = ["EU": ["eu"], "AF": ["eu"], "NA": ["na"], "SA": ["na"], "AS": ["ap"], "OC": ["ap"]]
                if let csv { s.networks = Temp.file("service.csv", csv) }
            }, sources: GeoSources(database: db))
    }

    /// Every probe of client/scope (its ends and 64 random addresses) has the client's order.
    func assertScopeSound(
        _ s: CompiledService, _ client: IPAddress, _ d: Decision, _ rng: inout SplitMix64,
        line: UInt = #line
    ) {
        let width = client.version == 4 ? 32 : 128
        let mask = IPPrefix.mask(Int(d.scope), width: width)
        let first = client.value & mask
        let last = first | (~mask & IPPrefix.all(width))
        var probes = [first, last]
        for _ in 0..<64 { probes.append(first | (rng.next128() & ~mask & IPPrefix.all(width))) }
        for p in probes {
            let other = decide(s, IPAddress(version: client.version, value: p))
            XCTAssertEqual(
                other.order, d.order,
                "scope /\(d.scope) of \(IPPrefix.formatAddress(family: client.version, client.value)) holds \(IPPrefix.formatAddress(family: client.version, p))",
                line: line)
        }
    }

    func testAliasesDecideAsTheEmbeddedIPv4Address() throws {
        let s = try service()
        var rng = SplitMix64(seed: 0xA11A5)
        var placed = 0
        for _ in 0..<300 {
            let v4 = UInt128(UInt32(truncatingIfNeeded: rng.next()))
            let direct = decide(s, IPAddress(version: 4, value: v4))
            if direct.pool != Decision.staticRecords { placed += 1 }
            let aliases: [(UInt128, Int)] = [
                ((UInt128(0x2002) << 112) | (v4 << 80), 16), // 6to4
                ((UInt128(0x2001_0000) << 96) | (v4 << 64), 32), // Teredo (server address)
                ((UInt128(0xFFFF) << 32) | v4, 96), // IPv4-mapped
            ]
            for (address, depth) in aliases {
                let client = IPAddress(version: 6, value: address)
                let d = decide(s, client)
                let text = IPPrefix.formatAddress(family: 6, address)
                XCTAssertEqual(d.pool, direct.pool, text)
                XCTAssertEqual(d.order, direct.order, text)
                // the IPv4 range lies inside the alias: the scope is the IPv4 one moved down by the alias' depth
                XCTAssertEqual(Int(d.scope), depth + Int(direct.scope), text)
                assertScopeSound(s, client, d, &rng)
            }
        }
        XCTAssertGreaterThan(placed, 150, "most random IPv4 addresses are placed by the database")
    }

    func testTablesOverAliases() throws {
        // 94.205.0.0/16 is AE (ap) in the database; the service table moves it to na for IPv4 and
        // so for its 6to4 alias, and gives part of the 6to4 alias of 8.0.0.0/8 to eu directly.
        let s = try service(networks: "94.205.0.0/16,na\n2002:808::/32,eu\n")
        XCTAssertEqual(decide(s, "94.205.33.174").pool, Fx.na)
        XCTAssertEqual(decide(s, "2002:5ecd:21ae::").pool, Fx.na)
        XCTAssertEqual(decide(s, "2002:5ecd:21ae::").scope, 32)
        XCTAssertEqual(decide(s, "94.204.1.1").pool, Fx.ap)
        XCTAssertEqual(decide(s, "2002:5ecc:101::").pool, Fx.ap)
        // the IPv6 table wins inside 2002:808::/32 ...
        XCTAssertEqual(decide(s, "8.8.8.8").pool, Fx.na)
        let inside = decide(s, "2002:808:808::")
        XCTAssertEqual(inside.pool, Fx.eu)
        XCTAssertEqual(inside.scope, 32)
        // ... and next to it the alias holds, with a scope that stays out of the IPv6 table's block
        var rng = SplitMix64(seed: 7)
        for text in ["2002:809::", "2002:807:ffff::", "2002:800::", "2002:80f:ffff:ffff::"] {
            let d = decide(s, text)
            XCTAssertEqual(d.pool, Fx.na, text)
            XCTAssertGreaterThan(d.scope, 16, text)
            assertScopeSound(s, key(text), d, &rng)
        }
    }
}
