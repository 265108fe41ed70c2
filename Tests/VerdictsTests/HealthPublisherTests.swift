import Engine
import Health
import Steering
import Verdicts
import XCTest

/// `HealthPublisher` publishes a new snapshot per update and keeps the states and overrides it used.
final class HealthPublisherTests: XCTestCase {
    func testUpdatePublishesAndTheGenerationMoves() throws {
        let store = SnapshotStore(Snapshot(zones: []))
        let overrides = try OverrideStore(path: nil)
        let publisher = HealthPublisher(store: store, overrides: overrides)
        let before = store.generation
        publisher.update(states: [Fx.endpoint("192.0.2.1"): Fx.state(.down)])
        XCTAssertEqual(store.generation, before + 1)
        XCTAssertEqual(publisher.endpointStates[Fx.endpoint("192.0.2.1")]?.status, .down)

        let services = try Fx.services()
        XCTAssertEqual(publisher.table(for: services).up(1), [true, false, true])
        try overrides.set(OverrideTarget(scope: .endpoint, name: "192.0.2.1"), .up)
        XCTAssertEqual(publisher.table(for: services).up(1), [true, true, true])
        publisher.publish()
        XCTAssertEqual(store.generation, before + 2)
    }
}
