import DNSSEC
import XCTest

/// Rollover plans (RFC 7583 timings) step by step, as the signer carries them out: a ZSK pre-published
/// and retired, a CSK that waits for its DS before the old one retires, and nothing to do before a
/// lifetime runs out.
final class KeyRollerTests: XCTestCase {
    var policy: RolloverPolicy = {
        var p = RolloverPolicy()
        p.zskLifetime = 1000
        p.kskLifetime = 5000
        p.propagationDelay = 10
        p.dnskeyTTL = 20
        p.zoneMaxTTL = 50
        p.parentDSTTL = 100
        return p
    }()

    func key(_ role: KeyRole, _ timing: KeyTiming) throws -> ZoneKey {
        try ZoneKey.generate(zone: "roll.test.", algorithm: .ecdsap256sha256, role: role, timing: timing)
    }

    /// Applies `plan` to `keys` as ZoneSigning does (without files).
    func apply(_ plan: KeyRoller.Plan, to keys: [ZoneKey]) throws -> [ZoneKey] {
        for k in keys { if let t = plan.retime[k.tag] { k.timing = t } }
        return try keys + plan.create.map { try key($0.role, $0.timing) }
    }

    func testZSKIsPrePublishedThenRetired() throws {
        let ksk = try key(.ksk, KeyTiming(created: 0, publish: 0, activate: 0))
        let zsk = try key(.zsk, KeyTiming(created: 0, publish: 0, activate: 0))
        // Ipub = 30: the successor is published 30 s before the 1000 s lifetime ends
        let early = KeyRoller.plan(keys: [ksk, zsk], dsSeen: [:], policy: policy, now: 969)
        XCTAssertTrue(early.isEmpty)
        XCTAssertEqual(early.due, 970)
        let plan = KeyRoller.plan(keys: [ksk, zsk], dsSeen: [:], policy: policy, now: 970)
        XCTAssertEqual(plan.create, [KeyRoller.NewKey(role: .zsk, timing: KeyTiming(created: 970, publish: 970, activate: 1000))])
        XCTAssertEqual(plan.retime[zsk.tag]?.inactive, 1000, "the old ZSK stops signing when the new one starts")
        XCTAssertEqual(plan.retime[zsk.tag]?.delete, 1060, "its DNSKEY stays until its signatures are out of caches (Dprp + TTLsig)")
        XCTAssertNil(plan.retime[ksk.tag])
        let keys = try apply(plan, to: [ksk, zsk])
        XCTAssertTrue(KeyRoller.plan(keys: keys, dsSeen: [:], policy: policy, now: 1001).isEmpty, "a roll under way is not started again")
        // the new ZSK's own roll comes one lifetime later
        XCTAssertEqual(KeyRoller.plan(keys: keys, dsSeen: [:], policy: policy, now: 1001).due, 1970)
    }

    func testCSKRollWaitsForTheDSAndPublishesCDS() throws {
        let old = try key(.csk, KeyTiming(created: 0, publish: 0, activate: 0))
        XCTAssertEqual(KeyRoller.plan(keys: [old], dsSeen: [:], policy: policy, now: 100).due, 4970)
        let start = KeyRoller.plan(keys: [old], dsSeen: [:], policy: policy, now: 4970)
        XCTAssertEqual(start.create, [KeyRoller.NewKey(role: .csk, timing: KeyTiming(created: 4970, publish: 4970, activate: 5000, syncPublish: 5000))])
        XCTAssertEqual(start.retime[old.tag]?.syncDelete, 5000, "the new key's CDS replaces the old one's")
        XCTAssertNil(start.retime[old.tag]?.inactive, "the old key signs on until the DS is seen")
        let keys = try apply(start, to: [old])
        let new = keys[1]
        // no DS at the parent yet: nothing moves, and the plan says what it waits for
        let waiting = KeyRoller.plan(keys: keys, dsSeen: [:], policy: policy, now: 6000)
        XCTAssertTrue(waiting.isEmpty)
        XCTAssertEqual(waiting.waiting.count, 1)
        XCTAssertTrue(waiting.waiting[0].contains("key \(new.tag) waits for its DS"))
        // DS seen at 6000: the old key retires once the old DS has left caches (Dprp + TTLds)
        let retire = KeyRoller.plan(keys: keys, dsSeen: [new.tag: 6000], policy: policy, now: 6001)
        XCTAssertEqual(retire.retime[old.tag]?.inactive, 6110)
        XCTAssertEqual(retire.retime[old.tag]?.delete, 6170, "Dprp + max(TTLkey, TTLsig) after it stops signing")
        XCTAssertEqual(retire.retime[new.tag]?.syncDelete, 6170, "the CDS goes with the old key")
        XCTAssertTrue(retire.create.isEmpty)
        let done = try apply(retire, to: keys)
        let after = KeyRoller.plan(keys: done, dsSeen: [new.tag: 6000], policy: policy, now: 6200)
        XCTAssertTrue(after.isEmpty && after.waiting.isEmpty)
        XCTAssertEqual(after.due, 5000 + 5000 - 30, "the next roll: one lifetime after the new key began")
    }

    func testLifetimeZeroNeverRolls() throws {
        var never = policy
        never.zskLifetime = 0
        never.kskLifetime = 0
        let keys = [try key(.ksk, KeyTiming(created: 0, publish: 0, activate: 0)), try key(.zsk, KeyTiming(created: 0, publish: 0, activate: 0))]
        let plan = KeyRoller.plan(keys: keys, dsSeen: [:], policy: never, now: 1_000_000_000)
        XCTAssertTrue(plan.isEmpty)
        XCTAssertNil(plan.due)
    }
}
