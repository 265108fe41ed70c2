import Config
import Engine
import Foundation
import SnapshotAssembly
import XCTest

/// The reload check: settings bound at start refuse a reload, everything else reloads.
final class ReloadBuildTests: XCTestCase {
    /// A fresh directory holding the fixture zone (Tests/Fixtures/zones/gslb.test.zone) as gslb.test.zone.
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "meridian-reload-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let zone = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fixtures/zones/gslb.test.zone").standardized.path
        try FileManager.default.copyItem(atPath: zone, toPath: directory + "/gslb.test.zone")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Writes a configuration with one failover service and returns its path.
    func writeConfig(listen: String = "127.0.0.1:5353", ttl: Int = 30, extra: String = "") throws -> String {
        let path = directory + "/meridian.yaml"
        try """
        listen: ["\(listen)"]
        zones:
          - { origin: gslb.test., file: gslb.test.zone }
        state_dir: state
        regions: { eu: {}, na: {} }
        services:
          fo.gslb.test.:
            policy: failover
            order: [eu, na]
            ttl: \(ttl)
            pools:
              eu: { addresses: [192.0.2.1] }
              na: { addresses: [192.0.2.2] }
        \(extra)
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testBuildFromPathCompilesZonesAndServices() throws {
        let (config, snapshot) = try SnapshotBuilder.build(configPath: try writeConfig())
        XCTAssertEqual(config.services.map(\.name), ["fo.gslb.test."])
        XCTAssertEqual(snapshot.zones.map(\.originText), ["gslb.test."])
        XCTAssertEqual(snapshot.services.map(\.ttl), [30])
    }

    func testChangingAServiceReloads() throws {
        let path = try writeConfig(ttl: 30)
        let running = try ConfigLoader.load(path: path)
        _ = try writeConfig(ttl: 60)
        let (snapshot, checks, _) = try SnapshotBuilder.reloadBuild(configPath: path, running: running)
        XCTAssertEqual(snapshot.services.map(\.ttl), [60])
        XCTAssertTrue(checks.isEmpty)
    }

    func testChangingListenRefusesTheReload() throws {
        let path = try writeConfig(listen: "127.0.0.1:5353")
        let running = try ConfigLoader.load(path: path)
        _ = try writeConfig(listen: "127.0.0.1:5354", ttl: 60)
        XCTAssertThrowsError(try SnapshotBuilder.reloadBuild(configPath: path, running: running)) { error in
            XCTAssertEqual("\(error)", "\(path): listen changed; these settings need a restart (nothing was reloaded)")
            XCTAssertTrue(error is ReloadRefused, "\(type(of: error))")
        }
    }

    func testRestartSettingsNameEverySectionThatChanged() throws {
        let path = try writeConfig()
        let running = try ConfigLoader.load(path: path)
        XCTAssertEqual(RestartSettings.changed(running: running, loaded: running), [])
        var changed = running
        changed.services[0].ttl = 300
        changed.regions.removeAll()
        XCTAssertEqual(RestartSettings.changed(running: running, loaded: changed), [], "services and regions reload")
        changed = running
        changed.listen = [.init(host: "::1", port: 53)]
        changed.tcpIdleTimeout = 1
        changed.decisionLogSample = 7
        changed.strictStateFile = true
        changed.controlIdleTimeout = 1
        XCTAssertEqual(
            RestartSettings.changed(running: running, loaded: changed),
            ["listen", "decision_log", "server", "state_dir, health.state_file", "control"])
        changed = running
        changed.controlToken = "secret"
        XCTAssertEqual(RestartSettings.changed(running: running, loaded: changed), ["control"])
    }

    func testAMissingGeoDatabaseNamesWhereGeoIsDeclared() throws {
        let path = try writeConfig(extra: "geo: { database: missing.mmdb }")
        XCTAssertThrowsError(try SnapshotBuilder.build(configPath: path)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(path):"), "\(error)")
            XCTAssertTrue("\(error)".contains(": geo.database: "), "\(error)")
        }
    }
}
