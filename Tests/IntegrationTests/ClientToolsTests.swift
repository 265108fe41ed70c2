import Foundation
import XCTest

/// Starts the real binary and queries it with dig, kdig and drill over UDP and TCP (IPv4 and IPv6).
final class ClientToolsTests: XCTestCase {
    static let zone = """
        $ORIGIN it.test.
        $TTL 3600
        @     IN SOA ns1.it.test. hostmaster.it.test. 7 3600 900 604800 300
        @     IN NS  ns1
        ns1   IN A   127.0.0.1
        www 300 IN A 192.0.2.10
        www 300 IN AAAA 2001:db8::10
        alias 300 IN CNAME www
        *.wild IN TXT "wildcard"
        sub   IN NS  ns.sub
        ns.sub IN A  127.0.0.3
        \(bigTXT)
        """
    static var bigTXT: String {
        (0..<20).map { "big 300 IN TXT \"big-\($0)-" + String(repeating: "x", count: 200) + "\"" }.joined(separator: "\n")
    }

    var server: MeridianProcess!

    override func setUpWithError() throws {
        server = try MeridianProcess(zoneText: Self.zone, origin: "it.test.")
    }

    override func tearDown() {
        server?.stop()
    }

    func dig(_ args: String...) throws -> String {
        try Tool.run("dig", ["@127.0.0.1", "-p", "\(server.port)", "+norec", "+time=2", "+tries=1"] + args).output
    }

    func testDigUDPAndTCP() throws {
        for transport in ["+notcp", "+tcp"] {
            let out = try dig("www.it.test", "A", transport)
            XCTAssertTrue(out.contains("status: NOERROR"), out)
            XCTAssertTrue(out.contains("flags: qr aa;"), out)
            XCTAssertTrue(out.range(of: #"www\.it\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.10"#, options: .regularExpression) != nil, out)
        }
    }

    func testDigIPv6Transport() throws {
        let out = try Tool.run("dig", ["@::1", "-p", "\(server.port)", "+norec", "+time=2", "+tries=1", "www.it.test", "AAAA"]).output
        XCTAssertTrue(out.contains("2001:db8::10"), out)
    }

    func testNegativeAnswersCarrySOAWithMinimumTTL() throws {
        let nx = try dig("nope.it.test", "A")
        XCTAssertTrue(nx.contains("status: NXDOMAIN"), nx)
        XCTAssertTrue(nx.range(of: #"it\.test\.\s+300\s+IN\s+SOA"#, options: .regularExpression) != nil, nx)
        let nodata = try dig("www.it.test", "MX")
        XCTAssertTrue(nodata.contains("status: NOERROR") && nodata.contains("ANSWER: 0"), nodata)
    }

    func testTruncationThenTCPRetry() throws {
        let udp = try dig("big.it.test", "TXT", "+noedns", "+ignore")
        XCTAssertTrue(udp.contains(" tc"), udp)
        let retried = try dig("big.it.test", "TXT", "+noedns")
        XCTAssertTrue(retried.contains("Truncated, retrying in TCP mode"), retried)
        XCTAssertEqual(retried.components(separatedBy: "\"big-").count - 1, 20, retried)
    }

    func testEDNSClientSubnetEchoAndNSID() throws {
        let out = try dig("www.it.test", "A", "+subnet=192.0.2.0/24", "+nsid")
        XCTAssertTrue(out.contains("CLIENT-SUBNET: 192.0.2.0/24/0"), out)
        XCTAssertTrue(out.contains("(\"it-1\")"), out)
    }

    func testReferralWithGlue() throws {
        let out = try dig("host.sub.it.test", "A")
        XCTAssertTrue(out.contains("status: NOERROR"), out)
        XCTAssertFalse(out.contains(" aa"), out)
        XCTAssertTrue(out.contains("ns.sub.it.test.") && out.contains("127.0.0.3"), out)
    }

    func testKdigUDPAndTCP() throws {
        for transport in ["+notcp", "+tcp"] {
            let out = try Tool.run(
                "kdig",
                [
                    "@127.0.0.1", "-p", "\(server.port)", "+norec", "+time=2", "+retry=0",
                    "alias.it.test", "A", transport,
                ]
            ).output
            XCTAssertTrue(out.contains("status: NOERROR"), out)
            XCTAssertTrue(out.contains("CNAME") && out.contains("192.0.2.10"), out)
        }
    }

    func testDrillUDPAndTCP() throws {
        for extra in [[], ["-t"]] {
            let out = try Tool.run("drill", ["-p", "\(server.port)"] + extra + ["foo.wild.it.test", "TXT", "@127.0.0.1"]).output
            XCTAssertTrue(out.contains("rcode: NOERROR"), out)
            XCTAssertTrue(out.contains("\"wildcard\""), out)
        }
    }

    func testKeptOpenTCPConnectionServesSeveralQueries() throws {
        let out = try Tool.run(
            "dig",
            [
                "@127.0.0.1", "-p", "\(server.port)", "+norec", "+time=2", "+tries=1", "+tcp",
                "+keepopen", "www.it.test", "A", "alias.it.test", "A", "it.test", "SOA",
            ]
        ).output
        XCTAssertEqual(out.components(separatedBy: "status: NOERROR").count - 1, 3, out)
    }

    func testServerSurvivesGarbageAndStillAnswers() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(server.port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = bytes.withUnsafeBytes { b in
                withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
        }
        let out = try dig("www.it.test", "A")
        XCTAssertTrue(out.contains("192.0.2.10"), out)
        XCTAssertTrue(server.process.isRunning)
    }
}

/// `meridian check`: exit status and file:line messages.
final class CheckCommandTests: XCTestCase {
    func check(zone: String, config: ((String) -> String)? = nil) throws -> Tool.Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try zone.write(to: dir.appendingPathComponent("z.db"), atomically: true, encoding: .utf8)
        let base = "zones:\n  - origin: c.test.\n    file: z.db\n"
        try (config?(base) ?? base).write(to: dir.appendingPathComponent("m.yaml"), atomically: true, encoding: .utf8)
        return try Tool.run(MeridianProcess.binary, ["check", "--config", dir.appendingPathComponent("m.yaml").path])
    }

    let good = "$ORIGIN c.test.\n@ 3600 IN SOA ns1 h 1 2 3 4 5\n@ 3600 IN NS ns1\nns1 3600 IN A 127.0.0.1\n"

    func testGoodConfigPasses() throws {
        let r = try check(zone: good)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("OK"), r.output)
    }

    func testBrokenZoneNamesFileAndLine() throws {
        let r = try check(zone: good + "www 3600 IN A 192.0.2.300\n")
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("z.db:5:"), r.output)
    }

    func testOutOfZoneDataRejected() throws {
        let r = try check(zone: good + "www.other.test. 3600 IN A 192.0.2.1\n")
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("z.db:5:") && r.output.contains("out-of-zone"), r.output)
    }

    func testCNAMEBesideOtherDataRejected() throws {
        let r = try check(zone: good + "www 3600 IN CNAME ns1\nwww 3600 IN A 192.0.2.1\n")
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("z.db:5:") && r.output.contains("CNAME"), r.output)
    }

    func testConfigErrorNamesLine() throws {
        let r = try check(zone: good) { $0 + "bogus: 1\n" }
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("m.yaml:4:") && r.output.contains("unknown key"), r.output)
    }
}
