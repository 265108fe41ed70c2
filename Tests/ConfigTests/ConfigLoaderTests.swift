import Config
import XCTest

final class ConfigLoaderTests: XCTestCase {
    func testFullConfig() throws {
        let c = try parse(
            """
            listen: ["127.0.0.1:5353", "[::1]:53", "0.0.0.0"]
            zones:
              - origin: gslb.example
                file: zones/a.zone
              - origin: other.example.
                file: /abs/b.zone
            identity:
              version: "Meridian 1"
              id: ns1
              nsid: false
            server:
              udp_payload_size: 1400
              workers: 3
              tcp_idle_timeout: 500ms
              tcp_max_connections: 10
              tcp_message_timeout: 2s
              tcp_max_connections_per_client: 4
            """)
        XCTAssertEqual(c.listen, [.init(host: "127.0.0.1", port: 5353), .init(host: "::1", port: 53), .init(host: "0.0.0.0", port: 53)])
        XCTAssertEqual(c.zones.map(\.origin), ["gslb.example.", "other.example."])
        XCTAssertEqual(c.zones.map(\.file), ["/etc/meridian/zones/a.zone", "/abs/b.zone"])
        XCTAssertEqual(c.identity.version, "Meridian 1")
        XCTAssertEqual(c.identity.id, "ns1")
        XCTAssertNil(c.identity.nsid)
        XCTAssertEqual(c.udpPayloadSize, 1400)
        XCTAssertEqual(c.workers, 3)
        XCTAssertEqual(c.tcpIdleTimeout, 0.5, accuracy: 1e-9)
        XCTAssertEqual(c.tcpMaxConnections, 10)
        XCTAssertEqual(c.tcpMessageTimeout, 2, accuracy: 1e-9)
        XCTAssertEqual(c.tcpMaxConnectionsPerClient, 4)
    }

    func testEnvironmentExpansion() throws {
        let text = "zones:\n  - origin: a.\n    file: ${DIR}/z-${NAME:-default}.db\n"
        XCTAssertEqual(try parse(text, env: ["DIR": "/srv", "NAME": "x"]).zones[0].file, "/srv/z-x.db")
        XCTAssertEqual(try parse(text, env: ["DIR": "/srv"]).zones[0].file, "/srv/z-default.db")
        expectError(text, line: 3, containing: "DIR is not set")
    }

    func testErrorsNameTheLine() {
        expectError("zones:\n  - origin: a.\n    file: z\nlisten: [\"nohost:99999\"]\n", line: 4, containing: "not HOST:PORT")
        expectError("zones:\n  - origin: a.\n    fil: z\n", line: 3, containing: "unknown zone key 'fil'")
        expectError("zones:\n  - origin: a.\n    file: z\nserver:\n  workers: many\n", line: 5, containing: "workers must be an integer")
        expectError("zones:\n  - origin: a.\n    file: z\nserver:\n  tcp_idle_timeout: soon\n", line: 5, containing: "duration")
        expectError(
            "zones:\n  - origin: a.\n    file: z\nserver:\n  tcp_max_connections_per_client: 0\n", line: 5, containing: "tcp_max_connections_per_client")
        expectError(
            "zones:\n  - origin: a.\n    file: z\nserver:\n  tcp_message_timout: 2s\n", line: 5,
            containing: "tcp_message_timeout, tcp_max_connections_per_client")
        expectError("zones:\n  - origin: a.\n    file: z\n  - origin: A.\n    file: y\n", line: 4, containing: "declared twice")
        expectError("zones: [\n", line: 2, containing: "YAML")
    }

    /// The libyaml document reader: aliases expand, quoted scalars keep their text, and hostile
    /// documents (an alias inside its own anchor, exponential aliases) are errors with a line, not a hang.
    func testYAMLDocumentReader() throws {
        let aliased = try parse(
            """
            zones:
              - origin: a.
                file: &f shared.zone
              - origin: b.
                file: *f
            identity: { id: 'off', nsid: off }
            """)
        XCTAssertEqual(aliased.zones.map(\.file), ["/etc/meridian/shared.zone", "/etc/meridian/shared.zone"])
        XCTAssertEqual(aliased.identity.id, "off", "a quoted 'off' is text")
        XCTAssertNil(aliased.identity.nsid, "a plain off disables")

        expectError("zones: &z [*z]\n", line: 1, containing: "nested deeper than 64 levels")
        var laughs = "zones:\n  - origin: a.\n    file: z\nlaughs:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...7 {
            laughs += "  l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        expectError(laughs, line: 5, containing: "more than 1000000 nodes") // found expanding l0's scalars
        expectError("zones:\n\t- origin: a.\n", line: 2, containing: "YAML")
        for empty in ["", "# nothing but a comment\n"] {
            XCTAssertThrowsError(try parse(empty)) { XCTAssertTrue("\($0)".contains("the file is empty"), "\($0)") }
        }
    }

    func testNoZonesIsAnError() {
        XCTAssertThrowsError(try parse("listen: [\"127.0.0.1:53\"]\n"))
    }
}
