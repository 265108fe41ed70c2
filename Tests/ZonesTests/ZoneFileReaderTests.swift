import XCTest
import DNSWire
@testable import Zones

final class ZoneFileReaderTests: XCTestCase {
    /// (owner, type, ttl, rdata, line) of each record, for compact comparisons.
    struct Row: Equatable, CustomStringConvertible {
        let owner: String, type: UInt16, ttl: UInt32, rdata: [UInt8], line: Int
        var description: String { "\(owner) \(type) \(ttl) \(rdata) @\(line)" }
    }
    func rows(_ records: [ZoneRecord]) -> [Row] {
        records.map { Row(owner: WireName.toText($0.owner), type: $0.type, ttl: $0.ttl, rdata: $0.rdata, line: $0.line) }
    }

    static let soaRDATA: [UInt8] =
        wire("ns1.example.test.") + wire("hostmaster.example.test.")
        + [0, 0, 0, 1, 0, 0, 0x1C, 0x20, 0, 0, 3, 0x84, 0, 9, 0x3A, 0x80, 0, 0, 0, 120]

    func testOriginAndTTLDirectives() throws {
        let dir = TempDir()
        let path = dir.write(
            "example.zone",
            """
            ; comment line
            $ORIGIN example.test.
            $TTL 600

            @ 3600 IN SOA ns1 hostmaster 1 7200 900 604800 120
            @ IN NS ns1
            ns1 IN A 192.0.2.1
            www 300 IN A 192.0.2.2
            $TTL 60
            short IN A 192.0.2.3
            $ORIGIN sub.example.test.
            host IN AAAA 2001:db8::1
            @ IN TXT "at sub"
            abs.example.test. IN A 192.0.2.4
            \tIN A 192.0.2.5

            """)
        let records = try ZoneFileReader.read(path: path, origin: "example.test.")
        XCTAssertEqual(
            rows(records),
            [
                Row(owner: "example.test.", type: 6, ttl: 3600, rdata: Self.soaRDATA, line: 5),
                Row(owner: "example.test.", type: 2, ttl: 600, rdata: wire("ns1.example.test."), line: 6),
                Row(owner: "ns1.example.test.", type: 1, ttl: 600, rdata: [192, 0, 2, 1], line: 7),
                Row(owner: "www.example.test.", type: 1, ttl: 300, rdata: [192, 0, 2, 2], line: 8),
                Row(owner: "short.example.test.", type: 1, ttl: 60, rdata: [192, 0, 2, 3], line: 10),
                Row(
                    owner: "host.sub.example.test.", type: 28, ttl: 60,
                    rdata: [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], line: 12),
                Row(owner: "sub.example.test.", type: 16, ttl: 60, rdata: [6] + Array("at sub".utf8), line: 13),
                Row(owner: "abs.example.test.", type: 1, ttl: 60, rdata: [192, 0, 2, 4], line: 14),
                Row(owner: "abs.example.test.", type: 1, ttl: 60, rdata: [192, 0, 2, 5], line: 15),
            ])
        XCTAssertTrue(records.allSatisfy { $0.file == path && $0.rrClass == 1 })
    }

    func testOriginArgumentAndDefaultTTL() throws {
        let dir = TempDir()
        let path = dir.write("z", "@ IN NS ns1\nWWW IN A 192.0.2.2\n")
        let records = try ZoneFileReader.read(path: path, origin: "Other.TEST.", defaultTTL: 1234)
        XCTAssertEqual(
            rows(records),
            [
                // names inside RDATA keep their letter case, the origin's included
                Row(
                    owner: "other.test.", type: 2, ttl: 1234, rdata: [3] + Array("ns1".utf8) + [5] + Array("Other".utf8) + [4] + Array("TEST".utf8) + [0],
                    line: 1),
                Row(owner: "www.other.test.", type: 1, ttl: 1234, rdata: [192, 0, 2, 2], line: 2),
            ])
    }

    func testMultiLineRecordAndRDATACase() throws {
        let dir = TempDir()
        let path = dir.write(
            "z",
            """
            $ORIGIN example.test.
            @ 3600 IN SOA ns1 hostmaster (
                    1      ; serial
                    7200   ; refresh
                    900    ; retry
                    604800 ; expire
                    120 )  ; minimum
            Mixed IN CNAME Target.Example.TEST.
            after IN A 192.0.2.1

            """)
        let records = try ZoneFileReader.read(path: path, origin: "example.test.")
        XCTAssertEqual(records.count, 3)
        XCTAssertEqual(records[0].rdata, Self.soaRDATA)
        // owners are lower-cased; names inside RDATA keep their case
        XCTAssertEqual(records[1].owner, wire("mixed.example.test."))
        XCTAssertEqual(records[1].rdata, [6] + Array("Target".utf8) + [7] + Array("Example".utf8) + [4] + Array("TEST".utf8) + [0])
        XCTAssertEqual(records[1].line, 8)
        XCTAssertEqual(records[2].line, 9)
    }

    /// A record's line is its own, not ldns's counter after the call (which has already skipped the
    /// blank lines after the record): "a" is on line 2.
    func testRecordLineIgnoresFollowingBlankLines() throws {
        let dir = TempDir()
        let path = dir.write("z", "$ORIGIN example.test.\na IN A 192.0.2.1\n\n\nb IN A 192.0.2.2\n")
        let records = try ZoneFileReader.read(path: path, origin: "example.test.")
        XCTAssertEqual(records.map(\.line), [2, 5])
    }

    /// The last record of a file without a trailing newline is reported on its own line.
    func testLastRecordWithoutNewline() throws {
        let dir = TempDir()
        let path = dir.write("z", "$ORIGIN example.test.\na IN A 192.0.2.1\nb IN A 192.0.2.2")
        let records = try ZoneFileReader.read(path: path, origin: "example.test.")
        XCTAssertEqual(records.map(\.line), [2, 3])
    }

    func testUnknownTypeRFC3597() throws {
        let dir = TempDir()
        let path = dir.write(
            "z",
            """
            $ORIGIN example.test.
            unk 300 IN TYPE65000 \\# 4 01020304
            empty IN TYPE65001 \\# 0
            a IN TYPE1 \\# 4 C0000201
            cls CLASS1 A 192.0.2.9

            """)
        let records = try ZoneFileReader.read(path: path, origin: "example.test.")
        XCTAssertEqual(
            rows(records),
            [
                Row(owner: "unk.example.test.", type: 65000, ttl: 300, rdata: [1, 2, 3, 4], line: 2),
                Row(owner: "empty.example.test.", type: 65001, ttl: 3600, rdata: [], line: 3),
                Row(owner: "a.example.test.", type: 1, ttl: 3600, rdata: [192, 0, 2, 1], line: 4),
                Row(owner: "cls.example.test.", type: 1, ttl: 3600, rdata: [192, 0, 2, 9], line: 5),
            ])
    }

    func testIncludeWithAndWithoutOrigin() throws {
        let dir = TempDir()
        let hosts = dir.write(
            "inc/hosts.zone",
            """
            host IN A 192.0.2.5
            $ORIGIN changed.example.test.
            moved IN A 192.0.2.6

            """)
        let inner = dir.write("abs/inner.zone", "x IN A 192.0.2.7\n")
        let main = dir.write(
            "main.zone",
            """
            $TTL 600
            @ 3600 IN SOA ns1 hostmaster 1 7200 900 604800 120
            @ IN NS ns1
            $INCLUDE inc/hosts.zone
            after IN A 192.0.2.9
            $INCLUDE inc/hosts.zone other
            after2 IN A 192.0.2.10
            $INCLUDE \(inner) abs.example.test. ; absolute path, absolute origin
            last IN A 192.0.2.11

            """)
        let records = try ZoneFileReader.read(path: main, origin: "example.test.")
        let got = records.map { "\(WireName.toText($0.owner)) \($0.rdata.last ?? 0) \(($0.file as NSString).lastPathComponent):\($0.line)" }
        XCTAssertEqual(
            got,
            [
                "example.test. 120 main.zone:2",
                "example.test. 0 main.zone:3",
                "host.example.test. 5 hosts.zone:1",
                "moved.changed.example.test. 6 hosts.zone:3",
                "after.example.test. 9 main.zone:5",
                "host.other.example.test. 5 hosts.zone:1",
                "moved.changed.example.test. 6 hosts.zone:3",
                "after2.example.test. 10 main.zone:7",
                "x.abs.example.test. 7 inner.zone:1",
                "last.example.test. 11 main.zone:9",
            ])
        XCTAssertEqual(records[2].file, hosts)
        XCTAssertEqual(records[8].file, inner)
        XCTAssertEqual(records[8].ttl, 600, "$TTL carries into the included file")
    }

    func testNestedIncludeResolvedAgainstIncludingFile() throws {
        let dir = TempDir()
        dir.write("a/b/leaf.zone", "leaf IN A 192.0.2.1\n")
        dir.write("a/mid.zone", "mid IN A 192.0.2.2\n$INCLUDE b/leaf.zone\n")
        // a decoy with the same relative name next to the top file must not be used
        dir.write("b/leaf.zone", "decoy IN A 192.0.2.3\n")
        let top = dir.write("top.zone", "$ORIGIN example.test.\n$INCLUDE a/mid.zone\n")
        let records = try ZoneFileReader.read(path: top, origin: "example.test.")
        XCTAssertEqual(records.map { WireName.toText($0.owner) }, ["mid.example.test.", "leaf.example.test."])
        XCTAssertEqual(records[1].file, dir.path("a/b/leaf.zone"))
    }

    func testIncludeLoopIsBounded() {
        let dir = TempDir()
        let path = dir.write("loop.zone", "a IN A 192.0.2.1\n$INCLUDE loop.zone\n")
        XCTAssertThrowsError(try ZoneFileReader.read(path: path, origin: "example.test.")) { error in
            let e = error as? ZoneError
            XCTAssertEqual(e?.file, path)
            XCTAssertEqual(e?.line, 2)
            XCTAssertTrue(e?.reason.contains("nested deeper than 8") ?? false, "\(error)")
        }
    }

    func testMissingIncludeFile() {
        let dir = TempDir()
        let path = dir.write("main.zone", "a IN A 192.0.2.1\n$INCLUDE nothere.zone\n")
        XCTAssertThrowsError(try ZoneFileReader.read(path: path, origin: "example.test.")) { error in
            let e = error as? ZoneError
            XCTAssertEqual(e?.file, dir.path("nothere.zone"))
            XCTAssertTrue(e?.reason.hasPrefix("cannot open") ?? false, "\(error)")
        }
    }

    func testMissingFile() {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-missing-\(UUID().uuidString).zone").path
        for attempt in [
            { _ = try ZoneFileReader.read(path: path, origin: "example.test.") },
            { _ = try ZoneCompiler.load(path: path, origin: "example.test.") },
        ] {
            XCTAssertThrowsError(try attempt()) { error in
                let e = error as? ZoneError
                XCTAssertEqual(e?.file, path)
                XCTAssertEqual(e?.line, 0)
                XCTAssertEqual(e?.reason, "cannot open: No such file or directory")
                XCTAssertEqual(e?.description, "\(path): cannot open: No such file or directory")
            }
        }
    }
}
