@testable import Engine
import XCTest

/// `SnapshotStore` hands out the last published snapshot, and its generation moves with each publish.
final class SnapshotStoreTests: XCTestCase {
    func testPublishReplacesTheSnapshotAndMovesTheGeneration() {
        let first = Snapshot(zones: [])
        let store = SnapshotStore(first)
        XCTAssertEqual(store.generation, 0)
        XCTAssertTrue(store.current().0 === first)
        let second = Snapshot(zones: [], identity: ServerIdentity(version: "2"))
        store.publish(second)
        XCTAssertEqual(store.generation, 1)
        let (current, generation) = store.current()
        XCTAssertTrue(current === second)
        XCTAssertEqual(generation, 1)
        store.publish(first)
        XCTAssertEqual(store.generation, 2)
        XCTAssertTrue(store.current().0 === first)
    }
}
