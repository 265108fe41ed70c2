import GSLBFixtures
import DNSWire
import Geo
import Steering
import TestSupport
import XCTest

/// ECS scope soundness (RFC 7871 §7.2.1): every address inside client/scope is decided alike; and
/// widest: the block at scope-1 leaves the client's merged range and holds an address decided differently.
/// Random tables are built from a seeded SplitMix64, so a failure message's seed reproduces it.
final class ScopePropertyTests: XCTestCase {
    static let regionNames = ["eu", "na", "ap", "sa"]
    static var pools: [PoolSpec] {
        Fx.threePools + [PoolSpec(region: "sa", addresses: [PoolAddress(text: "192.0.2.40"), PoolAddress(text: "2001:db8:5::1")])]
    }

    /// Random nested prefixes: each new prefix is either fresh or a longer prefix inside an earlier one.
    static func randomPrefixes(_ rng: inout SplitMix64, family: Int, count: Int, lengths: ClosedRange<Int>) -> [IPPrefix] {
        let width = family == 4 ? 32 : 128
        var out: [IPPrefix] = []
        while out.count < count {
            let length = Int.random(in: lengths, using: &rng)
            var address = rng.next128() & IPPrefix.all(width)
            if family == 6 && Bool.random(using: &rng) { address = (UInt128(0x2001_0db8) << 96) | (address >> 32) } // half under 2001:db8::/32
            if let parent = out.randomElement(using: &rng), Bool.random(using: &rng), parent.length < length {
                // nest inside an earlier prefix
                address = parent.address | (address & ~IPPrefix.mask(parent.length, width: width) & IPPrefix.all(width))
            }
            out.append(IPPrefix(family: family, address: address, length: length))
        }
        return out
    }

    static func table(_ rng: inout SplitMix64, v4: Int, v6: Int) -> [(IPPrefix, String)] {
        var rows: [(IPPrefix, String)] = []
        for p in randomPrefixes(&rng, family: 4, count: v4, lengths: 8...28) + randomPrefixes(&rng, family: 6, count: v6, lengths: 16...64) {
            rows.append((p, regionNames.randomElement(using: &rng)!))
        }
        // the edges of the space
        rows.append((IPPrefix(family: 4, address: 0, length: 8), "sa"))
        rows.append((IPPrefix(family: 4, address: 0xFFFF_FF00, length: 24), "na"))
        rows.append((IPPrefix(family: 6, address: IPPrefix.all(128) & IPPrefix.mask(16, width: 128), length: 16), "ap"))
        return rows
    }

    static func csv(_ rows: [(IPPrefix, String)]) -> String {
        rows.map { "\($0.0),\($0.1)" }.joined(separator: "\n") + "\n"
    }

    /// Longest-prefix match by brute force (later identical prefixes win, as the table's contract says).
    static func lpm(_ rows: [(IPPrefix, String)], _ family: Int, _ a: UInt128) -> String? {
        var best: (Int, String)?
        for (p, r) in rows where p.family == family && (a & IPPrefix.mask(p.length, width: p.width)) == p.address {
            if best == nil || p.length >= best!.0 { best = (p.length, r) }
        }
        return best?.1
    }

    /// A random client: half inside a random table prefix (to hit nesting), half anywhere.
    static func randomClient(_ rng: inout SplitMix64, _ rows: [(IPPrefix, String)]) -> IPAddress {
        let family = Bool.random(using: &rng) ? 4 : 6
        let width = family == 4 ? 32 : 128
        let candidates = rows.filter { $0.0.family == family }
        let r = rng.next128() & IPPrefix.all(width)
        if Int.random(in: 0..<4, using: &rng) > 0, let (p, _) = candidates.randomElement(using: &rng) {
            return IPAddress(version: family, value: p.address | (r & ~IPPrefix.mask(p.length, width: width) & IPPrefix.all(width)))
        }
        if family == 6 && Bool.random(using: &rng) { return IPAddress(version: 6, value: (UInt128(0x2001_0db8) << 96) | (r >> 32)) }
        return IPAddress(version: family, value: r)
    }

    /// Soundness and widest-ness for one compiled table service. `reference` (when given) is the
    /// expected first region (nil = static records) of an address, computed independently.
    func checkScopes(_ s: CompiledService, seed: UInt64, clients: Int = 2000, reference: ((Int, UInt128) -> String?)?) {
        var rng = SplitMix64(seed: seed)
        let rows =
            (s.serviceNetworks.map { ($0.prefix, $0.values[0]) }) + s.latencyRows.map { ($0.0.prefix, "") }
            + s.sources.networks.map { ($0.prefix, $0.values[0]) }
        var failures = 0
        var scopes = Set<UInt8>()
        for n in 0..<clients where failures < 5 {
            let client = Self.randomClient(&rng, rows)
            let width = client.version == 4 ? 32 : 128
            let d = decide(s, client)
            let scope = Int(d.scope)
            scopes.insert(d.scope)
            let text =
                "seed \(seed) client #\(n) \(IPPrefix.formatAddress(family: client.version, client.value)) -> pool \(d.pool) order \(orderRegions(s, d)) scope /\(scope)"
            if let reference {
                let expected = reference(client.version, client.value)
                let got = d.pool == Decision.staticRecords ? nil : s.pools[Int(d.pool)].region
                if expected != got { failures += 1; XCTFail("\(text): reference says \(expected ?? "static")") }
            }
            // soundness: 20 random addresses in client/scope decide alike
            let mask = IPPrefix.mask(scope, width: width)
            let blockStart = client.value & mask
            let hostBits = ~mask & IPPrefix.all(width)
            var probes = [blockStart, blockStart | hostBits]
            for _ in 0..<18 { probes.append(blockStart | (rng.next128() & hostBits)) }
            let expected = reference?(client.version, client.value)
            for (k, a) in probes.enumerated() {
                let other = decide(s, IPAddress(version: client.version, value: a))
                if other.pool != d.pool || other.order != d.order || other.scope != d.scope {
                    failures += 1
                    XCTFail(
                        "\(text): \(IPPrefix.formatAddress(family: client.version, a)) in the block -> pool \(other.pool) order \(orderRegions(s, other)) scope /\(other.scope)"
                    )
                    break
                }
                // the brute-force reference is slow: the block's two ends and two random probes
                if let reference, k < 4, reference(client.version, a) != expected {
                    failures += 1
                    XCTFail("\(text): reference differs at \(IPPrefix.formatAddress(family: client.version, a)) inside the block")
                    break
                }
            }
            // widest: the block at scope-1 is not inside the client's range, and holds an address decided differently
            guard scope > 0 else { continue }
            let table = client.version == 4 ? s.v4 : s.v6
            let i = table.index(of: client.value)
            let lo = table.starts[i], hi = table.end(of: i)
            XCTAssertTrue(blockStart >= lo && (blockStart | hostBits) <= hi, "\(text): block not inside its range")
            let wider = IPPrefix.mask(scope - 1, width: width)
            let wStart = client.value & wider, wEnd = wStart | (~wider & IPPrefix.all(width))
            guard wStart < lo || wEnd > hi else {
                failures += 1
                XCTFail(
                    "\(text): /\(scope - 1) block is inside the range \(IPPrefix.formatAddress(family: client.version, lo))-\(IPPrefix.formatAddress(family: client.version, hi)): scope not the widest"
                )
                continue
            }
            let outside = wStart < lo ? lo - 1 : hi + 1
            let o = decide(s, IPAddress(version: client.version, value: outside))
            if o.order == d.order {
                failures += 1
                XCTFail(
                    "\(text): neighbour \(IPPrefix.formatAddress(family: client.version, outside)) in the /\(scope - 1) block is decided alike (ranges not merged)"
                )
            }
        }
        XCTAssertGreaterThan(scopes.count, 10, "seed \(seed): the clients should see many different scopes, saw \(scopes.sorted())")
    }

    func testGeoServiceTableScopes() throws {
        for seed: UInt64 in [1, 2, 3] {
            var rng = SplitMix64(seed: seed)
            let rows = Self.table(&rng, v4: 200, v6: 100)
            let path = Temp.file("svc.csv", Self.csv(rows))
            let s = Fx.compile(Fx.spec(.geo, pools: Self.pools) { $0.networks = path })
            XCTAssertEqual(s.serviceNetworks.count, rows.count)
            checkScopes(s, seed: seed) { family, a in Self.lpm(rows, family, a) }
        }
    }

    func testGeoServiceOverGlobalTableScopes() throws {
        for seed: UInt64 in [11, 12] {
            var rng = SplitMix64(seed: seed)
            let globalRows = Self.table(&rng, v4: 200, v6: 100)
            let serviceRows = Self.table(&rng, v4: 60, v6: 30).filter { $0.0.length > 8 && $0.0.length < 120 }
            let global = try NetworkTable.readRegionTable(path: Temp.file("global.csv", Self.csv(globalRows)))
            let path = Temp.file("svc.csv", Self.csv(serviceRows))
            let s = Fx.compile(
                Fx.spec(.geo, pools: Self.pools) {
                    $0.networks = path; $0.map.defaultRegions = ["eu"]
                },
                sources: GeoSources(networks: global))
            checkScopes(s, seed: seed) { family, a in
                // the service table wins wherever it covers the address, then the global table, then the default
                Self.lpm(serviceRows, family, a) ?? Self.lpm(globalRows, family, a) ?? "eu"
            }
        }
    }

    func testLatencyTableScopes() throws {
        for seed: UInt64 in [21, 22] {
            var rng = SplitMix64(seed: seed)
            let rows = Self.table(&rng, v4: 200, v6: 100)
            var text = "network,eu,na,ap,sa\n"
            var rtts: [IPPrefix: [Double?]] = [:]
            for (p, _) in rows {
                let cells: [Double?] = (0..<4).map { _ in Int.random(in: 0..<5, using: &rng) == 0 ? nil : Double(Int.random(in: 1...300, using: &rng)) }
                rtts[p] = cells
                text += "\(p)," + cells.map { $0.map { String(Int($0)) } ?? "" }.joined(separator: ",") + "\n"
            }
            let path = Temp.file("lat.csv", text)
            let s = Fx.compile(Fx.spec(.latency, pools: Self.pools) { $0.latencyTable = path })
            XCTAssertEqual(s.latencyRows.count, rows.count)
            // reference: the lowest RTT of the longest matching row (ties: declared order), nil if unmatched
            checkScopes(s, seed: seed) { family, a in
                var best: (Int, IPPrefix)?
                for (p, _) in rows where p.family == family && (a & IPPrefix.mask(p.length, width: p.width)) == p.address {
                    if best == nil || p.length >= best!.0 { best = (p.length, p) }
                }
                guard let (_, p) = best, let cells = rtts[p] else { return nil }
                let measured = cells.enumerated().compactMap { i, v in v.map { ($0, i) } }
                guard let first = measured.min(by: { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }) else { return "eu" }
                return Self.regionNames[first.1]
            }
        }
    }

    func testPartitionMatchesBruteForceEverywhere() {
        // dense small universe: v4 /20../32 under 10.0.0.0/16 so that ranges are short and every address can be compared
        var rng = SplitMix64(seed: 77)
        var rows: [(IPPrefix, String)] = [(IPPrefix(family: 4, address: 0x0A00_0000, length: 16), "eu")]
        for _ in 0..<150 {
            let length = Int.random(in: 18...32, using: &rng)
            let a = UInt128(0x0A00_0000) | UInt128(UInt16.random(in: 0...UInt16.max, using: &rng))
            rows.append((IPPrefix(family: 4, address: a, length: length), Self.regionNames.randomElement(using: &rng)!))
        }
        let path = Temp.file("dense.csv", Self.csv(rows))
        let s = Fx.compile(Fx.spec(.geo, pools: Self.pools) { $0.networks = path })
        var mismatches = 0
        for low in 0...0xFFFF where mismatches < 5 {
            let a = UInt128(0x0A00_0000 | low)
            let d = decide(s, IPAddress(version: 4, value: a))
            let got = d.pool >= 0 ? s.pools[Int(d.pool)].region : nil
            if got != Self.lpm(rows, 4, a) {
                mismatches += 1
                XCTFail("10.0.\(low >> 8).\(low & 255): got \(got ?? "static"), LPM says \(Self.lpm(rows, 4, a) ?? "static")")
            }
        }
        checkScopes(s, seed: 77, reference: { family, a in Self.lpm(rows, family, a) })
    }
}
