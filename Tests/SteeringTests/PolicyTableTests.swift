import GSLBFixtures
import DNSWire
import Geo
import Steering
import TestSupport
import XCTest

/// (client or ECS, health, qtype) -> (pool, scope, order) tables for every policy.
final class PolicyTableTests: XCTestCase {
    struct Row {
        let client: String?
        var qtype: UInt16 = DNSType.a
        var down: Set<Int> = []
        let pool: Int32
        let scope: UInt8
        var order: [String]? = nil
        var line: UInt = #line
    }

    func check(_ s: CompiledService, _ rows: [Row]) {
        for r in rows {
            let k = r.client.map(key) ?? .none
            let d = decide(s, k, r.qtype, down: r.down)
            let label = "\(r.client ?? "none") qtype \(r.qtype) down \(r.down.sorted())"
            XCTAssertEqual(d.pool, r.pool, "pool for \(label)", line: r.line)
            XCTAssertEqual(d.scope, r.scope, "scope for \(label)", line: r.line)
            if let order = r.order { XCTAssertEqual(orderRegions(s, d), order, "order for \(label)", line: r.line) }
        }
    }

    // MARK: geo

    static let globalCSV = """
        # global CIDR overrides
        10.0.0.0/8,eu
        198.51.100.0/24,eu
        2001:db8::/32,na
        """
    static let serviceCSV = """
        198.51.100.0/24,na
        10.1.0.0/16,ap
        203.0.113.0/24,ap
        203.0.113.128/25,na
        """

    func geoService(defaultRegions: RegionList = []) throws -> CompiledService {
        let global = try NetworkTable.readRegionTable(path: Temp.file("global.csv", Self.globalCSV))
        XCTAssertEqual(global.count, 3)
        let path = Temp.file("service.csv", Self.serviceCSV)
        return Fx.compile(
            Fx.spec(.geo) {
                $0.networks = path; $0.map.defaultRegions = defaultRegions
            },
            sources: GeoSources(networks: global))
    }

    func testGeoTable() throws {
        let s = try geoService()
        let S = Decision.staticRecords
        check(
            s,
            [
                // service table nested in the global 10/8
                Row(client: "10.1.2.3", pool: Fx.ap, scope: 16, order: ["ap", "eu", "na"]),
                Row(client: "10.0.0.1", pool: Fx.eu, scope: 16, order: ["eu", "na", "ap"]),
                Row(client: "10.2.0.1", pool: Fx.eu, scope: 15),
                Row(client: "10.200.0.1", pool: Fx.eu, scope: 9),
                // service table overrides the global table for the same prefix
                Row(client: "198.51.100.77", pool: Fx.na, scope: 24, order: ["na", "eu", "ap"]),
                // nested /24 ap vs /25 na
                Row(client: "203.0.113.5", pool: Fx.ap, scope: 25),
                Row(client: "203.0.113.127", pool: Fx.ap, scope: 25),
                Row(client: "203.0.113.128", pool: Fx.na, scope: 25),
                Row(client: "203.0.113.200", pool: Fx.na, scope: 25),
                // health: next region in the order
                Row(client: "203.0.113.5", down: [2], pool: Fx.eu, scope: 25),
                Row(client: "203.0.113.200", down: [1], pool: Fx.eu, scope: 25),
                Row(client: "203.0.113.200", down: [1, 0], pool: Fx.ap, scope: 25),
                // all down: fail open to the first of the order
                Row(client: "203.0.113.200", down: [0, 1, 2], pool: Fx.na, scope: 25),
                // unmatched: map default = static records, with the widest scope of the gap
                Row(client: "8.8.8.8", pool: S, scope: 7),
                Row(client: "192.0.2.1", pool: S, scope: 6),
                Row(client: "11.0.0.1", pool: S, scope: 8),
                // static is not affected by health
                Row(client: "8.8.8.8", down: [0, 1, 2], pool: S, scope: 7),
                // IPv6 via the global table
                Row(client: "2001:db8:1::1", pool: Fx.na, scope: 32),
                Row(client: "2001:db8::", qtype: DNSType.aaaa, pool: Fx.na, scope: 32),
                Row(client: "2a00::1", pool: S, scope: 5),
                Row(client: "::1", pool: S, scope: 3),
                // ECS SOURCE 0: unknown-client order (default = static), scope 0
                Row(client: nil, pool: S, scope: 0),
                Row(client: nil, qtype: DNSType.aaaa, down: [0], pool: S, scope: 0),
                // AAAA: ap has none -> next region with AAAA
                Row(client: "203.0.113.5", qtype: DNSType.aaaa, pool: Fx.eu, scope: 25),
                Row(client: "203.0.113.5", qtype: DNSType.aaaa, down: [0], pool: Fx.na, scope: 25),
                // AAAA, everything with AAAA down: fail open to the first with AAAA (eu), never ap
                Row(client: "203.0.113.5", qtype: DNSType.aaaa, down: [0, 1], pool: Fx.eu, scope: 25),
            ])
        XCTAssertTrue(s.usesStaticRecords)
    }

    func testGeoDefaultRegionAndUnknownClient() throws {
        let s = try geoService(defaultRegions: ["na"])
        check(
            s,
            [
                Row(client: nil, pool: Fx.na, scope: 0, order: ["na", "eu", "ap"]),
                Row(client: nil, down: [1], pool: Fx.eu, scope: 0),
                Row(client: "8.8.8.8", pool: Fx.na, scope: 7, order: ["na", "eu", "ap"]),
                Row(client: "10.1.2.3", pool: Fx.ap, scope: 16),
            ])
        XCTAssertFalse(s.usesStaticRecords)
    }

    func testGeoNeighboursWithTheSameOrderMergeAndWidenTheScope() throws {
        let path = Temp.file("t.csv", "10.0.0.0/8,eu\n11.0.0.0/8,eu\n12.0.0.0/8,na\n")
        let s = Fx.compile(Fx.spec(.geo) { $0.networks = path })
        check(
            s,
            [
                Row(client: "10.0.0.1", pool: Fx.eu, scope: 7),
                Row(client: "11.255.255.255", pool: Fx.eu, scope: 7),
                Row(client: "12.3.4.5", pool: Fx.na, scope: 8),
            ])
    }

    func testGeoDefaultRouteAndTopOfSpace() throws {
        let path = Temp.file("t.csv", "0.0.0.0/0,eu\n10.0.0.0/8,ap\n255.255.255.0/24,na\n::/0,na\n")
        let s = Fx.compile(Fx.spec(.geo) { $0.networks = path })
        check(
            s,
            [
                Row(client: "8.8.8.8", pool: Fx.eu, scope: 7),
                Row(client: "10.9.9.9", pool: Fx.ap, scope: 8),
                Row(client: "255.255.255.255", pool: Fx.na, scope: 24),
                Row(client: "255.255.254.1", pool: Fx.eu, scope: 24),
                Row(client: "128.0.0.1", pool: Fx.eu, scope: 2),
                Row(client: "2001:db8::1", pool: Fx.na, scope: 0),
                // no client information: the map default (static) still applies
                Row(client: nil, pool: Decision.staticRecords, scope: 0),
            ])
        XCTAssertTrue(s.usesStaticRecords)
    }

    // MARK: latency

    static let latencyCSV = """
        network,eu,na,ap
        192.0.2.0/24,80,20,150
        198.51.100.0/24,,90,40
        2001:db8::/32,120,,60
        """

    func testLatencyTable() {
        let path = Temp.file("latency.csv", Self.latencyCSV)
        let s = Fx.compile(Fx.spec(.latency) { $0.latencyTable = path })
        XCTAssertEqual(s.latencyRegions, ["eu", "na", "ap"])
        check(
            s,
            [
                Row(client: "192.0.2.7", pool: Fx.na, scope: 24, order: ["na", "eu", "ap"]),
                Row(client: "192.0.2.7", down: [1], pool: Fx.eu, scope: 24),
                Row(client: "192.0.2.7", down: [1, 0], pool: Fx.ap, scope: 24),
                Row(client: "192.0.2.7", down: [0, 1, 2], pool: Fx.na, scope: 24),
                // eu unmeasured: after the measured ap, na
                Row(client: "198.51.100.9", pool: Fx.ap, scope: 24, order: ["ap", "na", "eu"]),
                Row(client: "198.51.100.9", down: [2], pool: Fx.na, scope: 24),
                Row(client: "198.51.100.9", down: [2, 1], pool: Fx.eu, scope: 24),
                // v6: na unmeasured
                Row(client: "2001:db8::1", pool: Fx.ap, scope: 32, order: ["ap", "eu", "na"]),
                Row(client: "2001:db8::1", down: [2], pool: Fx.eu, scope: 32),
                Row(client: "2001:db8::1", qtype: DNSType.aaaa, pool: Fx.eu, scope: 32),
                Row(client: "2001:db8::1", qtype: DNSType.aaaa, down: [0], pool: Fx.na, scope: 32),
                // not in the table and no database: map default (static)
                Row(client: "8.8.8.8", pool: Decision.staticRecords, scope: 1),
                Row(client: nil, pool: Decision.staticRecords, scope: 0),
            ])
    }

    // MARK: failover

    func testFailover() {
        let s = Fx.compile(Fx.spec(.failover) { $0.order = ["na", "eu"] })
        for client in ["192.0.2.1", "2001:db8::1", "8.8.8.8"] as [String?] + [nil] {
            check(
                s,
                [
                    Row(client: client, pool: Fx.na, scope: 0, order: ["na", "eu", "ap"]),
                    Row(client: client, down: [1], pool: Fx.eu, scope: 0),
                    Row(client: client, down: [1, 0], pool: Fx.ap, scope: 0),
                    Row(client: client, down: [0, 1, 2], pool: Fx.na, scope: 0),
                    Row(client: client, qtype: DNSType.aaaa, down: [1, 0], pool: Fx.na, scope: 0),
                ])
        }
        // first region without AAAA: skipped for AAAA only
        let apFirst = Fx.compile(Fx.spec(.failover) { $0.order = ["ap", "na"] })
        check(
            apFirst,
            [
                Row(client: "8.8.8.8", pool: Fx.ap, scope: 0, order: ["ap", "na", "eu"]),
                Row(client: "8.8.8.8", qtype: DNSType.aaaa, pool: Fx.na, scope: 0),
                Row(client: "8.8.8.8", qtype: DNSType.aaaa, down: [1], pool: Fx.eu, scope: 0),
            ])
        // default order = declared order
        let declared = Fx.compile(Fx.spec(.failover))
        check(declared, [Row(client: "8.8.8.8", pool: Fx.eu, scope: 0, order: ["eu", "na", "ap"])])
    }

    func testNoDataWhenNoRegionHasTheType() {
        let pools = [
            PoolSpec(region: "eu", addresses: [PoolAddress(text: "192.0.2.1")]),
            PoolSpec(region: "na", addresses: [PoolAddress(text: "198.51.100.1")]),
        ]
        for policy in [PolicyKind.failover, .weighted, .hash] {
            let s = Fx.compile(Fx.spec(policy, pools: pools))
            let d = decide(s, "192.0.2.55", DNSType.aaaa)
            XCTAssertEqual(d.pool, Decision.noData, "\(policy)")
            XCTAssertEqual(decide(s, "192.0.2.55", DNSType.aaaa, down: [0, 1]).pool, Decision.noData, "\(policy)")
            XCTAssertGreaterThanOrEqual(decide(s, "192.0.2.55", DNSType.a).pool, 0, "\(policy)")
        }
        let path = Temp.file("t.csv", "10.0.0.0/8,na\n")
        let geo = Fx.compile(
            Fx.spec(.geo, pools: pools) {
                $0.networks = path; $0.map.defaultRegions = ["eu"]
            })
        check(
            geo,
            [
                Row(client: "10.1.1.1", qtype: DNSType.aaaa, pool: Decision.noData, scope: 8),
                Row(client: "10.1.1.1", qtype: DNSType.a, pool: 1, scope: 8),
            ])
    }

    // MARK: weighted

    func testWeightedDistributionHealthAndScope() {
        let pools = [
            PoolSpec(region: "eu", addresses: [PoolAddress(text: Fx.euA)], weight: 1),
            PoolSpec(region: "na", addresses: [PoolAddress(text: Fx.naA)], weight: 3),
        ]
        let s = Fx.compile(Fx.spec(.weighted, pools: pools))
        var rng = SplitMix64(seed: 0xC0FFEE)
        var counts = [0, 0]
        for i in 0..<10000 {
            let client: IPAddress? = i % 2 == 0 ? key("192.0.2.9") : .none
            let d = s.decide(client: client, qtype: DNSType.a, random: rng.next()) { _ in true }
            XCTAssertEqual(d.scope, 0)
            XCTAssertEqual(d.order, -1)
            counts[Int(d.pool)] += 1
        }
        XCTAssertEqual(Double(counts[0]), 2500, accuracy: 125, "eu share of weight 1:3, got \(counts)")
        XCTAssertEqual(Double(counts[1]), 7500, accuracy: 375, "na share of weight 1:3, got \(counts)")

        // a down pool is never chosen while another is up
        for _ in 0..<2000 {
            XCTAssertEqual(s.decide(client: .none, qtype: DNSType.a, random: rng.next()) { $0 != 1 }.pool, 0)
            XCTAssertEqual(s.decide(client: .none, qtype: DNSType.a, random: rng.next()) { $0 != 0 }.pool, 1)
        }
        // all down: fail open, still by weight
        var open = [0, 0]
        for _ in 0..<4000 { open[Int(s.decide(client: .none, qtype: DNSType.a, random: rng.next()) { _ in false }.pool)] += 1 }
        XCTAssertEqual(Double(open[0]), 1000, accuracy: 100, "fail-open share \(open)")

        // AAAA: a pool without AAAA is never drawn
        let three = Fx.compile(Fx.spec(.weighted))
        var seen = Set<Int32>()
        for _ in 0..<1000 { seen.insert(three.decide(client: .none, qtype: DNSType.aaaa, random: rng.next()) { _ in true }.pool) }
        XCTAssertEqual(seen, [0, 1])
        seen = []
        for _ in 0..<1000 { seen.insert(three.decide(client: .none, qtype: DNSType.a, random: rng.next()) { _ in true }.pool) }
        XCTAssertEqual(seen, [0, 1, 2])
    }

    // MARK: all

    func testAllWritesEveryUpPoolRotatedAndCapped() {
        let pools = [
            PoolSpec(region: "eu", addresses: [PoolAddress(text: "192.0.2.1"), PoolAddress(text: "192.0.2.2")]),
            PoolSpec(region: "na", addresses: [PoolAddress(text: "198.51.100.1")]),
            PoolSpec(region: "ap", addresses: [PoolAddress(text: "203.0.113.1"), PoolAddress(text: "2001:db8:3::1")]),
        ]
        let s = Fx.compile(Fx.spec(.all, pools: pools) { $0.ttl = 60 })
        let d = decide(s, "8.8.8.8")
        XCTAssertEqual(d.scope, 0)
        XCTAssertEqual(d.order, -1)
        func addrs(_ random: UInt64, _ down: Set<Int> = [], _ s: CompiledService = s) -> [String] {
            let w = written(s, d, random: random, down: down)
            XCTAssertTrue(w.ok)
            let a = aAddresses(w.bytes, ttl: 60)
            XCTAssertEqual(w.answers, a.count)
            return a
        }
        XCTAssertEqual(addrs(0), ["192.0.2.1", "192.0.2.2", "198.51.100.1", "203.0.113.1"])
        XCTAssertEqual(addrs(1), ["198.51.100.1", "203.0.113.1", "192.0.2.1", "192.0.2.2"])
        XCTAssertEqual(addrs(5), ["203.0.113.1", "192.0.2.1", "192.0.2.2", "198.51.100.1"])
        XCTAssertEqual(addrs(0, [1]), ["192.0.2.1", "192.0.2.2", "203.0.113.1"])
        XCTAssertEqual(addrs(1, [0, 2]), ["198.51.100.1"])
        XCTAssertEqual(addrs(2, [0, 1, 2]), ["203.0.113.1", "192.0.2.1", "192.0.2.2", "198.51.100.1"])
        let capped = Fx.compile(
            Fx.spec(.all, pools: pools) {
                $0.ttl = 60; $0.maxAnswers = 2
            })
        XCTAssertEqual(addrs(0, [], capped), ["192.0.2.1", "192.0.2.2"])
        XCTAssertEqual(addrs(1, [], capped), ["198.51.100.1", "203.0.113.1"])
        XCTAssertEqual(addrs(1, [1], capped), ["203.0.113.1", "192.0.2.1"])
        // AAAA: only ap has one
        let w6 = written(s, decide(s, "8.8.8.8", DNSType.aaaa), qtype: DNSType.aaaa, random: 1)
        XCTAssertEqual(w6.bytes, aaaaRecord("2001:db8:3::1", ttl: 60))
        XCTAssertEqual(w6.answers, 1)
        // does not fit: false, nothing half-written beyond whole records
        let small = written(s, d, random: 0, limit: 40)
        XCTAssertFalse(small.ok)
        XCTAssertEqual(small.bytes.count, 32)
    }

    /// `all` with no AAAA in any pool decides `Decision.noData`, so the engine answers NODATA with the
    /// SOA that RFC 2308 §2.2 needs rather than an empty answer.
    func testAllPolicyAAAAWithoutAnyAAAAIsNoData() {
        let pools = [
            PoolSpec(region: "eu", addresses: [PoolAddress(text: "192.0.2.1")]),
            PoolSpec(region: "na", addresses: [PoolAddress(text: "198.51.100.1")]),
        ]
        let s = Fx.compile(Fx.spec(.all, pools: pools))
        let d = decide(s, "8.8.8.8", DNSType.aaaa)
        XCTAssertEqual(d.pool, Decision.noData, "no pool has AAAA")
        XCTAssertEqual(written(s, d, qtype: DNSType.aaaa).answers, 0)
    }

    // MARK: hash

    static let fourPools: [PoolSpec] = [
        PoolSpec(region: "eu", addresses: [PoolAddress(text: "192.0.2.1"), PoolAddress(text: "2001:db8:e::1")]),
        PoolSpec(region: "na", addresses: [PoolAddress(text: "192.0.2.2"), PoolAddress(text: "2001:db8:a::1")]),
        PoolSpec(region: "ap", addresses: [PoolAddress(text: "192.0.2.3"), PoolAddress(text: "2001:db8:3::1")]),
        PoolSpec(region: "sa", addresses: [PoolAddress(text: "192.0.2.4"), PoolAddress(text: "2001:db8:5::1")]),
    ]

    func region(_ s: CompiledService, _ d: Decision) -> String { s.pools[Int(d.pool)].region }

    func testHashStickyPerSubnetWithScope() {
        let s = Fx.compile(Fx.spec(.hash, pools: Self.fourPools))
        var rng = SplitMix64(seed: 24)
        var counts = [Int32: Int]()
        for _ in 0..<2000 {
            let net = UInt128(UInt32.random(in: 0...UInt32.max, using: &rng) & 0xFFFF_FF00)
            let d = decide(s, IPAddress(version: 4, value: net))
            XCTAssertEqual(d.scope, 24)
            XCTAssertEqual(d.order, -1)
            counts[d.pool, default: 0] += 1
            for _ in 0..<5 {
                let host = net | UInt128(UInt8.random(in: 0...255, using: &rng))
                XCTAssertEqual(decide(s, IPAddress(version: 4, value: host)).pool, d.pool)
                XCTAssertEqual(decide(s, IPAddress(version: 4, value: host), DNSType.aaaa).pool, d.pool)
            }
        }
        for p: Int32 in 0..<4 { XCTAssertEqual(Double(counts[p] ?? 0), 500, accuracy: 100, "share of pool \(p): \(counts)") }
        for _ in 0..<500 {
            let net = rng.next128() & IPPrefix.mask(48, width: 128)
            let d = decide(s, IPAddress(version: 6, value: net))
            XCTAssertEqual(d.scope, 48)
            let host = net | (rng.next128() & ~IPPrefix.mask(48, width: 128))
            XCTAssertEqual(decide(s, IPAddress(version: 6, value: host)).pool, d.pool)
        }
        // a different prefix setting changes the announced scope
        let wide = Fx.compile(
            Fx.spec(.hash, pools: Self.fourPools) {
                $0.hashPrefixV4 = 16; $0.hashPrefixV6 = 32
            })
        XCTAssertEqual(decide(wide, "10.1.2.3").scope, 16)
        XCTAssertEqual(decide(wide, "10.1.2.3").pool, decide(wide, "10.1.250.7").pool)
        XCTAssertEqual(decide(wide, "2001:db8:1::1").scope, 32)
        // no client: declared order, scope 0
        let unknown = decide(s, nil)
        XCTAssertEqual([unknown.pool, Int32(unknown.scope), unknown.order], [0, 0, 0])
        XCTAssertEqual(decide(s, nil, down: [0]).pool, 1)
    }

    func testHashHealthDownMovesOnlyThatPoolsClients() {
        let s = Fx.compile(Fx.spec(.hash, pools: Self.fourPools))
        var rng = SplitMix64(seed: 0x5EED)
        var moved = 0
        for _ in 0..<5000 {
            let net = IPAddress(version: 4, value: UInt128(UInt32.random(in: 0...UInt32.max, using: &rng) & 0xFFFF_FF00))
            let before = decide(s, net)
            let after = decide(s, net, down: [2])
            XCTAssertNotEqual(after.pool, 2)
            if before.pool == 2 { moved += 1 } else { XCTAssertEqual(after.pool, before.pool) }
        }
        XCTAssertEqual(Double(moved) / 5000, 0.25, accuracy: 0.03)
    }

    /// Removes a region from the configuration and counts, over 5000 random /24s, clients whose region
    /// survived yet moved.
    func hashRemoval(removing index: Int) -> (movedSurvivors: Int, onRemoved: Int) {
        let all = Fx.compile(Fx.spec(.hash, pools: Self.fourPools))
        var pools = Self.fourPools
        let removed = pools.remove(at: index).region
        let fewer = Fx.compile(Fx.spec(.hash, pools: pools))
        var rng = SplitMix64(seed: 0xABCD + UInt64(index))
        var movedSurvivors = 0, onRemoved = 0
        for _ in 0..<5000 {
            let net = IPAddress(version: 4, value: UInt128(UInt32.random(in: 0...UInt32.max, using: &rng) & 0xFFFF_FF00))
            let before = region(all, decide(all, net)), after = region(fewer, decide(fewer, net))
            XCTAssertNotEqual(after, removed)
            if before == removed { onRemoved += 1 } else if before != after { movedSurvivors += 1 }
        }
        return (movedSurvivors, onRemoved)
    }

    func testHashRemovingTheLastPoolMovesOnlyItsClients() {
        let r = hashRemoval(removing: 3)
        XCTAssertEqual(r.movedSurvivors, 0)
        XCTAssertEqual(Double(r.onRemoved) / 5000, 0.25, accuracy: 0.03)
    }

    /// The rendezvous score is keyed on the region, not on the pool's index: removing a region that is
    /// not the last one moves only that region's share of clients (PolicyKind.hash).
    func testHashRemovingAMiddleRegionMovesOnlyItsClients() {
        let r = hashRemoval(removing: 1)
        XCTAssertEqual(r.movedSurvivors, 0, "clients of eu/ap/sa that moved after removing na")
        XCTAssertEqual(Double(r.onRemoved) / 5000, 0.25, accuracy: 0.03)
    }

    // MARK: nearest

    func testGreatCircle() {
        let london = (51.5074, -0.1278), paris = (48.8566, 2.3522), nyc = (40.7128, -74.0060)
        XCTAssertEqual(greatCircleKm(london.0, london.1, paris.0, paris.1), 344, accuracy: 3.44)
        XCTAssertEqual(greatCircleKm(nyc.0, nyc.1, london.0, london.1), 5570, accuracy: 55.7)
        XCTAssertEqual(greatCircleKm(london.0, london.1, nyc.0, nyc.1), greatCircleKm(nyc.0, nyc.1, london.0, london.1), accuracy: 1e-9)
        XCTAssertEqual(greatCircleKm(10, 20, 10, 20), 0, accuracy: 1e-9)
        // antipodes: half the circumference (pi * 6371)
        XCTAssertEqual(greatCircleKm(0, 0, 0, 180), Double.pi * 6371, accuracy: 0.01)
        XCTAssertEqual(greatCircleKm(90, 0, -90, 0), Double.pi * 6371, accuracy: 0.01)
    }

    func testNearestWithoutDatabaseUsesMapDefault() throws {
        let s = Fx.compile(
            Fx.spec(.nearest) {
                $0.map.defaultRegions = ["ap"]; $0.bias = ["eu": -500]
            })
        check(
            s,
            [
                Row(client: "8.8.8.8", pool: Fx.ap, scope: 0, order: ["ap", "eu", "na"]),
                Row(client: "2001:db8::1", down: [2], pool: Fx.eu, scope: 0),
                Row(client: nil, pool: Fx.ap, scope: 0),
            ])
        let staticDefault = Fx.compile(Fx.spec(.nearest))
        check(
            staticDefault,
            [
                Row(client: "8.8.8.8", pool: Decision.staticRecords, scope: 0),
                Row(client: nil, pool: Decision.staticRecords, scope: 0),
            ])
        // a global CIDR table applies to nearest too
        let global = try NetworkTable.readRegionTable(path: Temp.file("g.csv", "100.64.0.0/10,na\n"))
        let withTable = Fx.compile(Fx.spec(.nearest), sources: GeoSources(networks: global))
        check(
            withTable,
            [
                Row(client: "100.100.1.1", pool: Fx.na, scope: 10),
                Row(client: "100.128.0.1", pool: Decision.staticRecords, scope: 9),
            ])
    }

    // MARK: writing

    func testWriteAnswerExactBytes() throws {
        let s = try geoService()
        let d = decide(s, "10.1.2.3")
        let w = written(s, d)
        XCTAssertTrue(w.ok)
        XCTAssertEqual(w.answers, 1)
        XCTAssertEqual(w.bytes, aRecord(Fx.apA, ttl: 30))
        let d6 = decide(s, "198.51.100.3", DNSType.aaaa)
        XCTAssertEqual(written(s, d6, qtype: DNSType.aaaa).bytes, aaaaRecord(Fx.naAAAA, ttl: 30))

        // several addresses, select all and max_answers
        let pools = [PoolSpec(region: "eu", addresses: ["192.0.2.1", "192.0.2.2", "192.0.2.3"].map { PoolAddress(text: $0) })]
        let many = Fx.compile(Fx.spec(.failover, pools: pools) { $0.ttl = 7 })
        XCTAssertEqual(aAddresses(written(many, decide(many, "8.8.8.8")).bytes, ttl: 7), ["192.0.2.1", "192.0.2.2", "192.0.2.3"])
        let two = Fx.compile(
            Fx.spec(.failover, pools: pools) {
                $0.ttl = 7; $0.maxAnswers = 2
            })
        XCTAssertEqual(aAddresses(written(two, decide(two, "8.8.8.8")).bytes, ttl: 7), ["192.0.2.1", "192.0.2.2"])
        // select weighted: starts at a weighted address and continues in ring order
        let weighted = Fx.compile(
            Fx.spec(
                .failover,
                pools: [
                    PoolSpec(
                        region: "eu",
                        addresses: [
                            PoolAddress(text: "192.0.2.1", weight: 1), PoolAddress(text: "192.0.2.2", weight: 2), PoolAddress(text: "192.0.2.3", weight: 1),
                        ])
                ]
            ) {
                $0.ttl = 7; $0.select = .weighted; $0.maxAnswers = 2
            })
        let wd = decide(weighted, "8.8.8.8")
        XCTAssertEqual(aAddresses(written(weighted, wd, random: 0).bytes, ttl: 7), ["192.0.2.1", "192.0.2.2"])
        XCTAssertEqual(aAddresses(written(weighted, wd, random: 1).bytes, ttl: 7), ["192.0.2.2", "192.0.2.3"])
        XCTAssertEqual(aAddresses(written(weighted, wd, random: 2).bytes, ttl: 7), ["192.0.2.2", "192.0.2.3"])
        XCTAssertEqual(aAddresses(written(weighted, wd, random: 3).bytes, ttl: 7), ["192.0.2.3", "192.0.2.1"])
        // too small a buffer: false and nothing written
        let none = written(many, decide(many, "8.8.8.8"), limit: 20)
        XCTAssertFalse(none.ok)
        XCTAssertEqual(none.bytes, [])
        XCTAssertEqual(none.answers, 0)
    }

    func testCNAMEPoolWritesOneCNAME() {
        let pools = [
            PoolSpec(region: "eu", cname: "eu-lb.Example.NET."),
            PoolSpec(region: "na", addresses: [PoolAddress(text: Fx.naA)]),
        ]
        let s = Fx.compile(Fx.spec(.failover, pools: pools) { $0.ttl = 90 })
        let target: [UInt8] = [5] + Array("eu-lb".utf8) + [7] + Array("example".utf8) + [3] + Array("net".utf8) + [0]
        for qtype in [DNSType.a, DNSType.aaaa] {
            let d = decide(s, "8.8.8.8", qtype)
            XCTAssertEqual(d.pool, 0)
            let w = written(s, d, qtype: qtype)
            XCTAssertTrue(w.ok)
            XCTAssertEqual(w.answers, 1)
            XCTAssertEqual(w.bytes, [0xC0, 0x0C, 0, 5, 0, 1] + be32(90) + [0, UInt8(target.count)] + target)
        }
        XCTAssertEqual(decide(s, "8.8.8.8", down: [0]).pool, 1)
        XCTAssertEqual(decide(s, "8.8.8.8", DNSType.aaaa, down: [0]).pool, 0, "na has no AAAA: fail open to the CNAME")
    }

    // MARK: explain

    func testExplain() throws {
        let s = try geoService()
        let lines = s.explain(client: IPPrefix.parse("10.1.2.0/24"), qtype: DNSType.a, up: [true, true, false])
        XCTAssertEqual(lines.count, 6, "\(lines)")
        XCTAssertEqual(lines[0], "client: 10.1.2.0/24 (decided on 10.1.2.0)")
        XCTAssertTrue(lines[2].hasPrefix("matched: "), lines[2])
        XCTAssertTrue(lines[2].hasSuffix(":2: 10.1.0.0/16 -> ap (service table)"), lines[2])
        XCTAssertEqual(lines[3], "regions in order: ap (down), eu (up), na (up)")
        XCTAssertEqual(lines[4], "answer: region eu: \(Fx.euA) \(Fx.euAAAA) (ttl 30, select all)")
        XCTAssertTrue(lines[5].hasPrefix("scope: /16: every address from 10.1.0.0 to 10.1.255.255"), lines[5])

        let global = s.explain(client: IPPrefix.parse("10.7.0.0/16"), qtype: DNSType.a, up: [true, true, true])
        XCTAssertTrue(global[2].hasSuffix(":2: 10.0.0.0/8 -> eu (geo networks table)"), global[2])

        let none = s.explain(client: IPPrefix.parse("8.8.8.0/24"), qtype: DNSType.a, up: [true, true, true])
        XCTAssertEqual(none[2], "matched: nothing (no database configured) -> map default")
        XCTAssertEqual(none[3], "regions in order: (none) -> the zone's static records")
        XCTAssertEqual(none[4], "answer: the zone's static records for www.gslb.test.")
        XCTAssertTrue(none[5].hasPrefix("scope: /7: every address from 0.0.0.0 to 9.255.255.255"), none[5])

        let unknown = s.explain(client: nil, qtype: DNSType.a, up: [true, true, true])
        XCTAssertTrue(unknown[0].hasPrefix("client: none"), unknown[0])
        XCTAssertEqual(unknown.last, "scope: /0: without client information the answer is the same for everyone")

        let latency = Fx.compile(Fx.spec(.latency) { $0.latencyTable = Temp.file("l.csv", Self.latencyCSV) })
        let l = latency.explain(client: IPPrefix.parse("198.51.100.0/24"), qtype: DNSType.aaaa, up: [true, true, false])
        XCTAssertTrue(l[2].hasSuffix(":3: 198.51.100.0/24 RTT eu=- na=90.0ms ap=40.0ms (latency table: lowest RTT first)"), l[2])
        XCTAssertEqual(l[3], "regions in order: ap (down), na (up), eu (up)")
        XCTAssertEqual(l[4], "answer: region na: \(Fx.naA) \(Fx.naAAAA) (ttl 30, select all)")

        let hash = Fx.compile(Fx.spec(.hash, pools: Self.fourPools))
        let h = hash.explain(client: IPPrefix.parse("192.0.2.0/24"), qtype: DNSType.a, up: [true, true, true, true])
        XCTAssertEqual(h.last, "scope: /24: the answer depends on the client's /24 only (rendezvous hash)")
        XCTAssertEqual(h[2], "regions: eu (up), na (up), ap (up), sa (up) (hash choice per query)")

        let noAAAA = Fx.compile(Fx.spec(.failover, pools: [PoolSpec(region: "eu", addresses: [PoolAddress(text: "192.0.2.1")])]))
        XCTAssertTrue(noAAAA.explain(client: nil, qtype: DNSType.aaaa, up: [true]).contains("answer: no AAAA records in any region -> NODATA"))
    }
}
