import DNSWire
import GSLBFixtures
import Steering
import TestSupport
import XCTest

/// What a signed zone signs ahead of time (`answerSets`) must hold every answer `writeAnswer` can write:
/// over random health, decisions and draws, for every policy and answer size, the written records
/// and the `written` mask name one of the sets, with the same records.
final class AnswerSetsTests: XCTestCase {
    /// Pools of 3, 2 and 1 addresses of each family, and a CNAME pool apart.
    static let pools = [
        PoolSpec(region: "eu", addresses: ["192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1", "2001:db8::2"].map { PoolAddress(text: $0) }),
        PoolSpec(region: "na", addresses: ["198.51.100.1", "198.51.100.2", "2001:db8:1::1"].map { PoolAddress(text: $0) }, weight: 3),
        PoolSpec(region: "ap", addresses: ["203.0.113.1", "2001:db8:2::1", "2001:db8:2::2", "2001:db8:2::3"].map { PoolAddress(text: $0) }),
    ]

    func testEveryWrittenAnswerIsASignedSet() throws {
        var rng = SplitMix64(seed: 19)
        let variants: [(PolicyKind, (inout ServiceSpec) -> Void)] = [
            (.failover, { $0.order = ["eu", "na", "ap"] }),
            (
                .failover,
                {
                    $0.order = ["eu", "na", "ap"]; $0.select = .first
                }
            ),
            (
                .failover,
                {
                    $0.order = ["eu", "na", "ap"]; $0.select = .weighted; $0.maxAnswers = 2
                }
            ),
            (
                .weighted,
                {
                    $0.select = .hash; $0.maxAnswers = 1
                }
            ),
            (.weighted, { $0.select = .weighted }),
            (.all, { _ in }),
            (.all, { $0.maxAnswers = 3 }),
        ]
        var checked = 0
        for (policy, configure) in variants {
            let service = Fx.compile(Fx.spec(policy, pools: Self.pools, configure))
            let sets = try XCTUnwrap(service.answerSets(limit: 4096))
            let byKey = Dictionary(uniqueKeysWithValues: sets.map { ("\($0.pool)/\($0.type)/\($0.mask)", $0) })
            XCTAssertEqual(byKey.count, sets.count, "no set twice")
            for _ in 0..<400 {
                let down = Set((0..<3).filter { _ in rng.next() % 3 == 0 })
                let addressDown = Set((0..<16).filter { _ in rng.next() % 4 == 0 })
                let qtype = rng.next() % 2 == 0 ? DNSType.a : DNSType.aaaa
                let random = rng.next()
                let decision = service.decide(client: nil, qtype: qtype, random: random) { !down.contains($0) }
                guard decision.pool >= 0 else { continue }
                let (bytes, mask) = write(service, decision, qtype: qtype, random: random, down: down, addressDown: addressDown)
                let pool: Int32
                if case .all = service.kind { pool = -1 } else { pool = decision.pool }
                let set = try XCTUnwrap(byKey["\(pool)/\(qtype)/\(mask)"], "\(policy) \(decision) mask \(mask)")
                XCTAssertEqual(records(bytes).sorted { $0.lexicographicallyPrecedes($1) }, bodies(set).sorted { $0.lexicographicallyPrecedes($1) })
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 2000)
    }

    func testCNAMEPoolsAndTheBound() throws {
        let cnames = Fx.compile(
            Fx.spec(.failover, pools: [PoolSpec(region: "eu", cname: "a.example."), PoolSpec(region: "na", cname: "b.example.")]) {
                $0.order = ["eu", "na"]
            })
        XCTAssertEqual(try XCTUnwrap(cnames.answerSets(limit: 10)).map { "\($0.pool)/\($0.type)/\($0.mask)" }, ["0/5/1", "1/5/1"])
        // 12 addresses answered together: 4095 subsets, over a bound of 1000
        let many = Fx.compile(
            Fx.spec(.failover, pools: [PoolSpec(region: "eu", addresses: (1...12).map { PoolAddress(text: "192.0.2.\($0)") })]) {
                $0.order = ["eu"]
            })
        XCTAssertNil(many.answerSets(limit: 1000))
        XCTAssertEqual(many.answerSets(limit: 5000)?.count, 4095)
    }

    /// Runs writeAnswer with pools `down` and service addresses `addressDown`; returns the answer's
    /// records (owner pointer stripped) and the `written` mask.
    func write(
        _ s: CompiledService, _ d: Decision, qtype: UInt16, random: UInt64, down: Set<Int>, addressDown: Set<Int>
    ) -> ([UInt8], UInt64) {
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
        defer { buffer.deallocate() }
        let qname = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        defer { qname.deallocate() }
        qname[0] = 0
        var w = ResponseWriter(buffer: buffer, limit: 4096, qnameLower: qname, qnameLength: 0)
        var mask: UInt64 = 0
        XCTAssertTrue(
            s.writeAnswer(
                d, qtype: qtype, owner: .question, random: random, up: { !down.contains($0) }, addressUp: { !addressDown.contains($0) },
                degraded: false, writer: &w, written: &mask))
        return (Array(UnsafeBufferPointer(start: buffer, count: w.count)), mask)
    }

    /// Records written with owner .question: 2-octet pointer, then the body.
    func records(_ bytes: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var pos = 0
        while pos < bytes.count {
            let rdlength = Int(bytes[pos + 10]) << 8 | Int(bytes[pos + 11])
            out.append(Array(bytes[(pos + 2)..<(pos + 12 + rdlength)]))
            pos += 12 + rdlength
        }
        return out
    }

    func bodies(_ set: AnswerSet) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var pos = 0
        for _ in 0..<set.records {
            let rdlength = Int(set.bodies[pos + 8]) << 8 | Int(set.bodies[pos + 9])
            out.append(Array(set.bodies[pos..<(pos + 10 + rdlength)]))
            pos += 10 + rdlength
        }
        return out
    }
}
