import Foundation
@testable import Health
import XCTest

/// The override store's persistence rules (write first, then apply; corrupt files set aside or
/// refused) and the state directory's checks, on files in a temporary directory.
final class OverrideStoreTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "meridian-overrides-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testAnOverrideThatCannotBeWrittenChangesNothing() throws {
        let sub = directory + "/sub"
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        let store = try OverrideStore(path: sub + "/overrides.json")
        try store.set(OverrideTarget(scope: .region, name: "eu"), .drain)
        try FileManager.default.removeItem(atPath: sub)
        XCTAssertThrowsError(try store.set(OverrideTarget(scope: .region, name: "na"), .down))
        XCTAssertThrowsError(try store.set(OverrideTarget(scope: .region, name: "eu"), nil))
        XCTAssertEqual(store.current, [OverrideTarget(scope: .region, name: "eu"): .drain])
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        try store.set(OverrideTarget(scope: .service, name: "www.gslb.test."), .up)
        XCTAssertEqual(
            try OverrideStore.read(sub + "/overrides.json"),
            [OverrideTarget(scope: .region, name: "eu"): .drain, OverrideTarget(scope: .service, name: "www.gslb.test."): .up])
    }

    func testOverridesSurviveAReopen() throws {
        let path = directory + "/overrides.json"
        try OverrideStore(path: path).set(OverrideTarget(scope: .endpoint, name: "192.0.2.1"), .down)
        let reopened = try OverrideStore(path: path)
        XCTAssertEqual(reopened.current, [OverrideTarget(scope: .endpoint, name: "192.0.2.1"): .down])
        XCTAssertNil(reopened.setAside)
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o600)
    }

    func testACorruptFileIsSetAsideOrRefused() throws {
        let path = directory + "/overrides.json"
        let corrupt = Data("[{\"target\": {\"scope\": \"region\"".utf8)
        try corrupt.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try OverrideStore(path: path, strict: true))
        XCTAssertThrowsError(try OverrideStore.read(path))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), corrupt, "refusing changes nothing")
        let store = try OverrideStore(path: path)
        let aside = try XCTUnwrap(store.setAside)
        XCTAssertTrue(store.current.isEmpty)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: aside.movedTo)), corrupt)
        XCTAssertTrue(aside.movedTo.hasPrefix(path + ".corrupt-"))
    }

    func testAMissingOrEmptyFileIsNoOverrides() throws {
        XCTAssertEqual(try OverrideStore.read(directory + "/none.json").count, 0)
        FileManager.default.createFile(atPath: directory + "/empty.json", contents: Data())
        XCTAssertEqual(try OverrideStore.read(directory + "/empty.json").count, 0)
        XCTAssertThrowsError(try OverrideStore.read(directory), "a directory is not a state file")
    }

    func testStateDirectoryChecks() throws {
        let fresh = directory + "/state"
        XCTAssertNil(StateDirectory.problem(fresh), "a missing directory whose parent is writable can be created")
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh), "problem() creates nothing")
        try StateDirectory.prepare(fresh)
        XCTAssertEqual(try XCTUnwrap(FileManager.default.attributesOfItem(atPath: fresh)[.posixPermissions] as? Int), 0o700)
        XCTAssertNil(StateDirectory.problem(fresh))
        chmod(fresh, 0o777)
        XCTAssertNotNil(StateDirectory.problem(fresh)?.range(of: "writable by group or others"))
        XCTAssertThrowsError(try StateDirectory.prepare(fresh))
        chmod(fresh, 0o700)
        FileManager.default.createFile(atPath: directory + "/file", contents: Data())
        XCTAssertNotNil(StateDirectory.problem(directory + "/file")?.range(of: "not a directory"))
        XCTAssertNotNil(StateDirectory.problem(directory + "/no/such/dir"), "the parent must exist")
        XCTAssertEqual(StateDirectory.parentDirectory(of: "/var/lib/meridian/"), "/var/lib")
        XCTAssertEqual(StateDirectory.parentDirectory(of: "/state"), "/")
        XCTAssertEqual(StateDirectory.parentDirectory(of: "state"), ".")
    }
}
