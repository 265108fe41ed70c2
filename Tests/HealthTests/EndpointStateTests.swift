@testable import Health
import XCTest

/// The anti-flap state machine (`EndpointState`): the first result decides, then `fall` consecutive
/// failures take an up endpoint down and `rise` consecutive successes bring a down one up.
final class EndpointStateTests: XCTestCase {
    typealias Transition = EndpointState.Transition

    /// Records `results` in order and returns the transition each one caused (nil: none).
    func feed(_ state: inout EndpointState, _ results: [Bool]) -> [Transition?] {
        results.map { state.record(success: $0, reason: $0 ? "ok" : "refused", latency: 0.001) }
    }

    func testFirstResultDecidesFromUnknown() {
        var up = EndpointState(rise: 3, fall: 3)
        XCTAssertEqual(up.status, .unknown)
        XCTAssertEqual(feed(&up, [true]), [Transition(from: .unknown, to: .up)])
        XCTAssertEqual(up.status, .up)

        var down = EndpointState(rise: 3, fall: 3)
        XCTAssertEqual(feed(&down, [false]), [Transition(from: .unknown, to: .down)])
        XCTAssertEqual(down.status, .down)
    }

    func testFallConsecutiveFailuresTakeAnUpEndpointDown() {
        var s = EndpointState(rise: 2, fall: 3, initial: .up)
        XCTAssertEqual(feed(&s, [false, false]), [nil, nil])
        XCTAssertEqual(s.status, .up, "two failures of three: still up")
        XCTAssertEqual(s.failures, 2)
        XCTAssertEqual(feed(&s, [false]), [Transition(from: .up, to: .down)])
        XCTAssertEqual(s.status, .down)
        XCTAssertEqual(feed(&s, [false, false]), [nil, nil], "further failures change nothing")
    }

    func testRiseConsecutiveSuccessesBringADownEndpointUp() {
        var s = EndpointState(rise: 2, fall: 3, initial: .down)
        XCTAssertEqual(feed(&s, [true]), [nil])
        XCTAssertEqual(s.status, .down, "one success of two: still down")
        XCTAssertEqual(feed(&s, [true]), [Transition(from: .down, to: .up)])
        XCTAssertEqual(s.status, .up)
        XCTAssertEqual(s.successes, 2)
    }

    func testAnInterruptedRunStartsOver() {
        // up, fall 3: two failures, a success, two failures: never three in a row
        var up = EndpointState(rise: 2, fall: 3, initial: .up)
        XCTAssertEqual(feed(&up, [false, false, true, false, false]), [nil, nil, nil, nil, nil])
        XCTAssertEqual(up.status, .up)
        XCTAssertEqual(up.failures, 2)
        XCTAssertEqual(feed(&up, [false]), [Transition(from: .up, to: .down)])

        // down, rise 3: flapping results never bring it up
        var down = EndpointState(rise: 3, fall: 2, initial: .down)
        XCTAssertEqual(feed(&down, [true, false, true, true, false, true, true]).compactMap { $0 }, [])
        XCTAssertEqual(down.status, .down)
        XCTAssertEqual(feed(&down, [true]), [Transition(from: .down, to: .up)])
    }

    func testRiseAndFallOfOneFollowEveryResult() {
        var s = EndpointState(rise: 1, fall: 1, initial: .up)
        XCTAssertEqual(
            feed(&s, [false, true, true, false]),
            [Transition(from: .up, to: .down), Transition(from: .down, to: .up), nil, Transition(from: .up, to: .down)])
    }

    func testRecordKeepsTheLastResultsDetails() {
        var s = EndpointState(rise: 2, fall: 2)
        XCTAssertEqual(s.lastReason, "not checked yet")
        XCTAssertNil(s.lastLatency)
        XCTAssertEqual(s.probes, 0)
        _ = s.record(success: true, reason: "HTTP 200", latency: 0.012, certificateDaysLeft: 30)
        XCTAssertEqual(s.lastReason, "HTTP 200")
        XCTAssertEqual(s.lastLatency, 0.012)
        XCTAssertEqual(s.certificateDaysLeft, 30)
        // a result without certificate information keeps the last known expiry
        _ = s.record(success: false, reason: "timeout after 2.0s", latency: 2.0)
        XCTAssertEqual(s.lastReason, "timeout after 2.0s")
        XCTAssertEqual(s.lastLatency, 2.0)
        XCTAssertEqual(s.certificateDaysLeft, 30)
        XCTAssertEqual(s.probes, 2)
        XCTAssertEqual(s.successes, 0)
        XCTAssertEqual(s.failures, 1)
    }
}
