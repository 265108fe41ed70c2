import DNSSEC
import XCTest

/// The signing epoch every instance computes alike from the clock, the key timings and the policy, and
/// the SOA serial each serial policy derives from it.
final class SigningEpochTests: XCTestCase {
    /// 14 d validity, 7 d refresh: a re-signing boundary every 7 days since 1970.
    let policy = SigningPolicy()
    let week: Int64 = 7 * 86400

    func key(_ timing: KeyTiming) throws -> ZoneKey {
        try ZoneKey.generate(zone: "gslb.test.", algorithm: .ecdsap256sha256, role: .csk, timing: timing)
    }

    func testEpochIsTheLastBoundaryWhenNoKeyEventIsLater() throws {
        let keys = [try key(KeyTiming(created: 0, publish: 0, activate: 0))]
        let now: Int64 = 1_796_619_600
        let epoch = SigningEpoch(now: now, policy: policy, keys: keys)
        XCTAssertEqual(epoch.start, now / week * week)
        XCTAssertEqual(epoch.next, epoch.start + week)
        // two instances signing at different moments of one period agree
        XCTAssertEqual(SigningEpoch(now: epoch.start + 5, policy: policy, keys: keys), SigningEpoch(now: epoch.next - 1, policy: policy, keys: keys))
        XCTAssertNotEqual(SigningEpoch(now: epoch.next, policy: policy, keys: keys).start, epoch.start)
    }

    func testKeyEventsStartAndEndEpochs() throws {
        let now: Int64 = 1_796_619_600
        let boundary = now / week * week
        let activated = boundary + 100
        let retired = now + 3600
        let keys = [
            try key(KeyTiming(created: 0, publish: 0, activate: 0, inactive: retired)),
            try key(KeyTiming(created: 0, publish: boundary + 50, activate: activated)),
        ]
        let epoch = SigningEpoch(now: now, policy: policy, keys: keys)
        XCTAssertEqual(epoch.start, activated, "the last key event before now")
        XCTAssertEqual(epoch.next, retired, "the next key event comes before the next boundary")
        XCTAssertEqual(SigningEpoch(now: activated - 1, policy: policy, keys: keys).start, boundary + 50)
    }

    func testSerialPolicies() throws {
        let keys = [try key(KeyTiming(created: 0, publish: 0, activate: 0))]
        let epoch = SigningEpoch(now: 1_796_619_600, policy: policy, keys: keys)
        XCTAssertEqual(epoch.serial(.unixtime, fileSerial: 1), UInt32(epoch.start))
        XCTAssertEqual(epoch.serial(.unixtime, fileSerial: 2_026_120_701), 2_026_120_701, "a file serial ahead of the clock is kept")
        XCTAssertEqual(epoch.serial(.increment, fileSerial: 7), 7 + UInt32(epoch.start / 60))
        let later = SigningEpoch(now: epoch.next, policy: policy, keys: keys)
        for policy in SerialPolicy.allCases {
            XCTAssertGreaterThan(later.serial(policy, fileSerial: 7), epoch.serial(policy, fileSerial: 7), "\(policy) grows with the epoch")
            let edited = UInt32(epoch.start) + 10 // an operator's edit, serial = date +%s
            XCTAssertGreaterThan(epoch.serial(policy, fileSerial: edited), epoch.serial(policy, fileSerial: 7), "\(policy) grows with the file's serial")
        }
    }
}
