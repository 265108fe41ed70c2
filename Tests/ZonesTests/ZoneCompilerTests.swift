import XCTest
import DNSWire
@testable import Zones

final class ZoneCompilerTests: XCTestCase {
    static let header = """
        $ORIGIN example.test.
        $TTL 600
        @ 3600 IN SOA ns1 hostmaster 1 7200 900 604800 120
        @ IN NS ns1
        """

    struct ErrorCase {
        let label: String
        /// Lines after `header` (which is lines 1-4); nil = full text given in `full`.
        let body: String
        var full: String? = nil
        let line: Int
        let reason: String
    }

    static let errorCases: [ErrorCase] = [
        ErrorCase(
            label: "bad A address", body: "ns1 IN A 192.0.2.1\n; comment\n\nbad IN A 999.1.1.1\nok IN A 192.0.2.2\n",
            line: 8, reason: "Syntax error, could not parse the RR's rdata"),
        ErrorCase(
            label: "unknown type mnemonic", body: "ns1 IN A 192.0.2.1\nx IN BOGUS foo\n",
            line: 6, reason: "Syntax error, could not parse the RR's rdata"),
        ErrorCase(
            label: "syntax error after a multi-line SOA", body: "",
            full: """
                $ORIGIN example.test.
                @ 3600 IN SOA ns1 hostmaster (
                    1 7200 900
                    604800 120 )
                @ IN NS ns1
                ns1 IN A 192.0.2.1
                x IN MX mail

                """, line: 7, reason: "Syntax error, could not parse the RR's rdata"),
        ErrorCase(
            label: "out-of-zone owner", body: "ns1 IN A 192.0.2.1\nwww.other.test. IN A 192.0.2.1\n",
            line: 6, reason: "out-of-zone data: www.other.test. is not in zone example.test."),
        ErrorCase(
            label: "out-of-zone after $ORIGIN", body: "ns1 IN A 192.0.2.1\n$ORIGIN other.test.\nx IN A 192.0.2.1\n",
            line: 7, reason: "out-of-zone data: x.other.test. is not in zone example.test."),
        ErrorCase(
            label: "parent of the apex", body: "ns1 IN A 192.0.2.1\ntest. IN A 192.0.2.1\n",
            line: 6, reason: "out-of-zone data: test. is not in zone example.test."),
        ErrorCase(
            label: "CNAME beside A (CNAME first)", body: "ns1 IN A 192.0.2.1\nx IN CNAME ns1\nx IN A 192.0.2.1\n",
            line: 6, reason: "CNAME at x.example.test. beside other data (type 1)"),
        ErrorCase(
            label: "CNAME beside TXT (TXT first)", body: "ns1 IN A 192.0.2.1\nx IN TXT \"t\"\nx IN CNAME ns1\n",
            line: 7, reason: "CNAME at x.example.test. beside other data (type 16)"),
        ErrorCase(
            label: "two CNAMEs", body: "ns1 IN A 192.0.2.1\nx IN CNAME a\nx IN CNAME b\n",
            line: 7, reason: "more than one CNAME at x.example.test."),
        ErrorCase(
            label: "missing SOA", body: "", full: "$ORIGIN example.test.\n@ IN NS ns1\nns1 IN A 192.0.2.1\n",
            line: 0, reason: "zone example.test. has no SOA record at its apex"),
        ErrorCase(
            label: "missing apex NS", body: "",
            full: """
                $ORIGIN example.test.
                @ IN SOA ns1 hostmaster 1 7200 900 604800 120
                sub IN NS ns1
                ns1 IN A 192.0.2.1
                """, line: 0, reason: "zone example.test. has no NS records at its apex"),
        ErrorCase(
            label: "SOA below the apex", body: "ns1 IN A 192.0.2.1\nsub IN SOA ns1 hostmaster 1 2 3 4 5\n",
            line: 6, reason: "SOA record below the apex (sub.example.test.)"),
        ErrorCase(
            label: "second SOA at the apex", body: "ns1 IN A 192.0.2.1\n@ IN SOA ns2 hostmaster 2 2 3 4 5\n",
            line: 6, reason: "more than one SOA record at the apex"),
        ErrorCase(
            label: "class CH record", body: "ns1 IN A 192.0.2.1\nx CH TXT \"hi\"\n",
            line: 6, reason: "class 3 record; only IN is served"),
        ErrorCase(
            label: "DNAME", body: "ns1 IN A 192.0.2.1\nd IN DNAME other.test.\n",
            line: 6, reason: "DNAME is not supported"),
    ]

    func testLoadErrorsTable() {
        for c in Self.errorCases {
            let dir = TempDir()
            let path = dir.write("zone.db", c.full ?? Self.header + "\n" + c.body)
            do {
                let zone = try ZoneCompiler.load(path: path, origin: "example.test.")
                XCTFail("\(c.label): loaded \(zone.recordCount) records, expected an error")
            } catch let e as ZoneError {
                XCTAssertEqual(e.file, path, c.label)
                XCTAssertEqual(e.line, c.line, "\(c.label): \(e)")
                XCTAssertEqual(e.reason, c.reason, c.label)
                XCTAssertEqual(e.description, c.line > 0 ? "\(path):\(c.line): \(c.reason)" : "\(path): \(c.reason)", c.label)
            } catch {
                XCTFail("\(c.label): unexpected error \(error)")
            }
        }
    }

    /// A serial policy replaces the SOA serial everywhere it is served: the SOA and the negative SOA.
    func testSerialReplacedByThePolicy() throws {
        let dir = TempDir()
        let path = dir.write("zone.db", Self.header + "\nns1 IN A 192.0.2.1\n")
        let plain = try ZoneCompiler.load(path: path, origin: "example.test.")
        var seen: UInt32 = 0
        let zone = try ZoneCompiler.load(
            path: path, origin: "example.test.",
            serial: {
                seen = $0; return $0 + 1_000
            })
        XCTAssertEqual(seen, plain.serial, "the policy is given the file's serial")
        XCTAssertEqual(zone.serial, plain.serial + 1_000)
        let soa = zone.records(zone.rrsets[Int(zone.rrset(of: zone.apexNode, type: 6))])
        let negative = zone.records(zone.negativeSOA)
        for record in soa + negative {
            XCTAssertEqual(record.rdata.dropLast(16).suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }, plain.serial + 1_000)
        }
    }

    /// A syntax error names the bad record's line, not ldns's counter after the blank lines that follow it.
    func testSyntaxErrorLineIgnoresFollowingBlankLines() {
        let dir = TempDir()
        let path = dir.write("zone.db", Self.header + "\nns1 IN A 192.0.2.1\nbad IN A 999.1.1.1\n\n\nok IN A 192.0.2.2\n")
        XCTAssertThrowsError(try ZoneCompiler.load(path: path, origin: "example.test.")) { error in
            XCTAssertEqual((error as? ZoneError)?.line, 6, "bad record is on line 6: \(error)")
        }
    }

    /// A bad record on the last line without a trailing newline is reported on that line (ldns only
    /// counts lines at '\n').
    func testSyntaxErrorOnLastLineWithoutNewline() {
        let dir = TempDir()
        let path = dir.write("zone.db", Self.header + "\nns1 IN A 192.0.2.1\nbad IN A 999.1.1.1")
        XCTAssertThrowsError(try ZoneCompiler.load(path: path, origin: "example.test.")) { error in
            XCTAssertEqual((error as? ZoneError)?.line, 6, "bad record is on line 6: \(error)")
        }
    }

    /// A semantic error (a CNAME beside data) followed by a blank line is reported at the record's line.
    func testSemanticErrorLineIgnoresFollowingBlankLines() {
        let dir = TempDir()
        let path = dir.write("zone.db", Self.header + "\nns1 IN A 192.0.2.1\nx IN CNAME ns1\n\nx IN A 192.0.2.9\n")
        XCTAssertThrowsError(try ZoneCompiler.load(path: path, origin: "example.test.")) { error in
            XCTAssertEqual((error as? ZoneError)?.line, 6, "the CNAME is on line 6: \(error)")
        }
    }

    func testErrorInIncludedFileNamesThatFile() {
        let dir = TempDir()
        let inc = dir.write("inc/part.zone", "ok IN A 192.0.2.1\nx IN CNAME ok\nx IN AAAA ::1\n")
        let main = dir.write("main.zone", Self.header + "\n$INCLUDE inc/part.zone\n")
        XCTAssertThrowsError(try ZoneCompiler.load(path: main, origin: "example.test.")) { error in
            XCTAssertEqual(
                error as? ZoneError,
                ZoneError(file: inc, line: 2, reason: "CNAME at x.example.test. beside other data (type 28)"))
        }
        let main2 = dir.write("main2.zone", Self.header + "\n$INCLUDE inc/bad.zone\n")
        dir.write("inc/bad.zone", "\n\nbad IN AAAA nope\n")
        XCTAssertThrowsError(try ZoneCompiler.load(path: main2, origin: "example.test.")) { error in
            let e = error as? ZoneError
            XCTAssertEqual(e?.file, dir.path("inc/bad.zone"))
            XCTAssertEqual(e?.line, 3)
        }
    }

    /// `$INCLUDE` of a directory (here by a name that ends in a NUL octet, as the fuzzer wrote it, so
    /// that fopen saw only the directory) is a load error, not a crash.
    func testIncludeOfADirectoryIsRefused() {
        let dir = TempDir()
        let main = dir.write("main.zone", Self.header + "\n$INCLUDE inc\n")
        dir.write("inc/part.zone", "ok IN A 192.0.2.1\n")
        XCTAssertThrowsError(try ZoneCompiler.load(path: main, origin: "example.test.")) { error in
            XCTAssertEqual(error as? ZoneError, ZoneError(file: dir.path("inc"), reason: "cannot open: is a directory"))
        }
        let nul = dir.write("nul.zone", Self.header + "\n$INCLUDE \u{0},x.zone\n")
        XCTAssertThrowsError(try ZoneCompiler.load(path: nul, origin: "example.test.")) { error in
            XCTAssertTrue("\(error)".contains("NUL"), "\(error)")
        }
    }

    /// RFC 3597 TYPEnnnn / CLASSnnnn beyond 16 bits (ldns accepts them) are load errors on their line,
    /// not a trap; TYPE65535 is the largest that loads.
    func testGenericTypeAndClassOutOfRange() {
        let dir = TempDir()
        for (text, reason) in [
            ("x TYPE97614 \\# 4 0A000001", "type TYPE97614 is out of range (0-65535)"),
            ("x CLASS70000 TYPE1 \\# 4 0A000001", "class CLASS70000 is out of range (0-65535)"),
        ] {
            let path = dir.write("zone-\(reason.prefix(4)).zone", Self.header + "\nns1 A 192.0.2.1\n" + text + "\n")
            XCTAssertThrowsError(try ZoneCompiler.load(path: path, origin: "example.test.")) { error in
                XCTAssertEqual(error as? ZoneError, ZoneError(file: path, line: 6, reason: reason))
            }
        }
        let ok = dir.write("ok.zone", Self.header + "\nns1 A 192.0.2.1\nx TYPE65535 \\# 4 0A000001\n")
        XCTAssertNoThrow(try ZoneCompiler.load(path: ok, origin: "example.test."))
    }

    static let structureZone = """
        $ORIGIN example.test.
        $TTL 600
        @ 3600 IN SOA ns1 hostmaster 2024010101 7200 900 604800 120
        @ IN NS ns1
        @ IN NS ns2.elsewhere.net.
        ns1 IN A 192.0.2.1
        ns1 IN AAAA 2001:db8::1
        a.b.c IN A 192.0.2.30
        sub IN NS ns.sub
        sub IN NS NS1.example.test.
        sub IN NS ns.outside.net.
        ns.sub IN A 192.0.2.53
        ns.sub IN AAAA 2001:db8::53
        *.wild IN TXT "w"
        alias IN CNAME ns1
        MiXeD IN A 192.0.2.99
        dup 300 IN A 192.0.2.7
        dup 100 IN A 192.0.2.8
        dup 300 IN A 192.0.2.7
        unk IN TYPE65000 \\# 4 01020304
        multi IN TXT "t"
        multi IN A 192.0.2.70
        multi IN MX 10 ns1

        """

    func testCompiledStructure() throws {
        let dir = TempDir()
        let zone = try ZoneCompiler.load(path: dir.write("s.zone", Self.structureZone), origin: "Example.Test")
        XCTAssertEqual(zone.origin, wire("example.test."))
        XCTAssertEqual(zone.originText, "example.test.")
        XCTAssertEqual(zone.originLabels, 2)
        XCTAssertEqual(zone.serial, 2024010101)
        XCTAssertEqual(zone.recordCount, 20)
        XCTAssertEqual(zone.nodes.count, 14)
        XCTAssertEqual(zone.nodeText(zone.apexNode), "example.test.")
        XCTAssertEqual(zone.node("example.test."), zone.apexNode)

        // apex
        let apex = zone.nodes[Int(zone.apexNode)]
        XCTAssertEqual(apex.flags, ZoneNode.apex)
        XCTAssertFalse(apex.isDelegation)
        XCTAssertEqual(apex.wildcardChild, -1)
        XCTAssertEqual(zone.types("example.test."), [2, 6])

        // empty non-terminals
        for ent in ["c.example.test.", "b.c.example.test.", "wild.example.test."] {
            let n = zone.node(ent)
            XCTAssertGreaterThanOrEqual(n, 0, ent)
            guard n >= 0 else { continue }
            XCTAssertEqual(zone.nodes[Int(n)].rrsetCount, 0, ent)
            XCTAssertEqual(zone.nodes[Int(n)].flags, 0, ent)
        }
        XCTAssertEqual(zone.types("a.b.c.example.test."), [1])
        XCTAssertEqual(zone.node("x.c.example.test."), -1)
        XCTAssertEqual(zone.node("nothing.example.test."), -1)

        // delegation and glue: ns.sub A+AAAA, then ns1 A+AAAA; the out-of-zone target has none
        let sub = zone.node("sub.example.test.")
        XCTAssertTrue(zone.nodes[Int(sub)].isDelegation)
        XCTAssertEqual(zone.nodes[Int(sub)].flags, ZoneNode.delegation)
        XCTAssertFalse(zone.nodes[Int(zone.node("ns.sub.example.test."))].isDelegation)
        let s = zone.nodes[Int(sub)]
        let glue = (Int(s.glueStart)..<(Int(s.glueStart) + Int(s.glueCount))).map { g -> String in
            let ref = zone.glue[g]
            return "\(zone.nodeText(ref.node)) \(zone.rrsets[Int(ref.rrset)].type)"
        }
        XCTAssertEqual(glue, ["ns.sub.example.test. 1", "ns.sub.example.test. 28", "ns1.example.test. 1", "ns1.example.test. 28"])
        XCTAssertEqual(apex.glueCount, 0)

        // wildcard child
        let wild = zone.node("wild.example.test.")
        let star = zone.node("*.wild.example.test.")
        XCTAssertGreaterThanOrEqual(star, 0)
        XCTAssertEqual(zone.nodes[Int(wild)].wildcardChild, star)
        XCTAssertEqual(zone.nodes[Int(sub)].wildcardChild, -1)
        XCTAssertEqual(zone.records(zone.set("*.wild.example.test.", 16)!).map(\.rdata), [[1, 0x77]])

        // alias flag, lower-cased owner
        let alias: Int32 = zone.node("alias.example.test.")
        XCTAssertEqual(zone.nodes[Int(alias)].flags, ZoneNode.alias)
        XCTAssertTrue(zone.nodes[Int(alias)].isAlias)
        XCTAssertGreaterThanOrEqual(zone.node("mixed.example.test."), 0)

        // duplicates merged, RRset TTL = lowest
        let dup = zone.set("dup.example.test.", 1)!
        XCTAssertEqual(dup.records, 2)
        XCTAssertEqual(zone.records(dup).map(\.ttl), [100, 100])
        XCTAssertEqual(zone.records(dup).map(\.rdata), [[192, 0, 2, 7], [192, 0, 2, 8]])

        // RFC 3597 type and type order
        XCTAssertEqual(zone.records(zone.set("unk.example.test.", 65000)!).map(\.rdata), [[1, 2, 3, 4]])
        XCTAssertEqual(zone.types("multi.example.test."), [1, 15, 16])
        XCTAssertEqual(zone.types("ns1.example.test."), [1, 28])

        // negative SOA: TTL = min(3600, 120)
        let neg = zone.records(zone.negativeSOA)
        XCTAssertEqual(zone.negativeSOA.type, 6)
        XCTAssertEqual(zone.negativeSOA.records, 1)
        XCTAssertEqual(neg.map(\.ttl), [120])
        XCTAssertEqual(neg.first?.rdata, zone.records(zone.set("example.test.", 6)!).first?.rdata)
        XCTAssertEqual(zone.records(zone.set("example.test.", 6)!).map(\.ttl), [3600])
        XCTAssertEqual(zone.firstRDATA(zone.set("alias.example.test.", 5)!).map { $0 }, wire("ns1.example.test."))
    }

    func testNegativeTTLTakesTheSmaller() throws {
        for (soaTTL, minimum, expected) in [(60, 300, 60), (300, 300, 300), (86400, 5, 5), (0, 300, 0)] as [(UInt32, UInt32, UInt32)] {
            let dir = TempDir()
            let path = dir.write("z", "$ORIGIN t.\n@ \(soaTTL) IN SOA ns hm 1 2 3 4 \(minimum)\n@ 10 IN NS ns\n")
            let zone = try ZoneCompiler.load(path: path, origin: "t.")
            XCTAssertEqual(zone.records(zone.negativeSOA).map(\.ttl), [expected], "SOA TTL \(soaTTL), MINIMUM \(minimum)")
        }
    }

    func testSeveralZones() throws {
        let dir = TempDir()
        let a = try ZoneCompiler.load(
            path: dir.write(
                "a.zone",
                """
                $ORIGIN alpha.test.
                @ 300 IN SOA ns hm 11 2 3 4 60
                @ IN NS ns
                ns IN A 192.0.2.1
                www IN A 192.0.2.10
                """), origin: "alpha.test.")
        let b = try ZoneCompiler.load(
            path: dir.write(
                "b.zone",
                """
                @ 300 IN SOA ns hm 22 2 3 4 30
                @ IN NS ns
                ns IN A 198.51.100.1
                www IN AAAA 2001:db8::10
                """), origin: "beta.test.")
        XCTAssertEqual(a.serial, 11)
        XCTAssertEqual(b.serial, 22)
        XCTAssertGreaterThanOrEqual(a.node("www.alpha.test."), 0)
        XCTAssertEqual(a.node("www.beta.test."), -1)
        XCTAssertEqual(b.node("www.alpha.test."), -1)
        XCTAssertEqual(a.types("www.alpha.test."), [1])
        XCTAssertEqual(b.types("www.beta.test."), [28])
        XCTAssertEqual(b.records(b.set("ns.beta.test.", 1)!).map(\.rdata), [[198, 51, 100, 1]])
        XCTAssertEqual(a.records(a.negativeSOA).map(\.ttl), [60])
        XCTAssertEqual(b.records(b.negativeSOA).map(\.ttl), [30])
        // b's file read as alpha.test. has owners relative to the given origin, so it loads as alpha
        let bAsAlpha = try ZoneCompiler.load(path: dir.path("b.zone"), origin: "alpha.test.")
        XCTAssertEqual(bAsAlpha.types("www.alpha.test."), [28])
        // a's file has $ORIGIN alpha.test.: loading it as beta.test. is out-of-zone data
        XCTAssertThrowsError(try ZoneCompiler.load(path: dir.path("a.zone"), origin: "beta.test.")) { error in
            XCTAssertEqual((error as? ZoneError)?.line, 2)
            XCTAssertEqual((error as? ZoneError)?.reason, "out-of-zone data: alpha.test. is not in zone beta.test.")
        }
    }

    func testCompileFromRecords() throws {
        let soa = wire("ns.r.test.") + wire("hm.r.test.") + [0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7]
        let records = [
            ZoneRecord(owner: wire("r.test."), type: 6, ttl: 100, rdata: soa, file: "mem", line: 1),
            ZoneRecord(owner: wire("r.test."), type: 2, ttl: 100, rdata: wire("ns.r.test."), file: "mem", line: 2),
            ZoneRecord(owner: wire("x.y.r.test."), type: 1, ttl: 100, rdata: [10, 0, 0, 1], file: "mem", line: 3),
        ]
        let zone = try ZoneCompiler.compile(origin: "r.test.", records: records, file: "mem")
        XCTAssertEqual(zone.serial, 5)
        XCTAssertEqual(zone.records(zone.negativeSOA).map(\.ttl), [7])
        XCTAssertEqual(zone.types("y.r.test."), [])
        XCTAssertGreaterThanOrEqual(zone.node("y.r.test."), 0)
        XCTAssertThrowsError(
            try ZoneCompiler.compile(
                origin: "r.test.",
                records: records + [
                    ZoneRecord(owner: wire("r.test."), type: 1, rrClass: 3, ttl: 0, rdata: [1, 2, 3, 4], file: "mem", line: 9)
                ], file: "mem")
        ) { error in
            XCTAssertEqual(error as? ZoneError, ZoneError(file: "mem", line: 9, reason: "class 3 record; only IN is served"))
        }
        XCTAssertThrowsError(
            try ZoneCompiler.compile(
                origin: "r.test.",
                records: records + [
                    ZoneRecord(owner: wire("r.test."), type: 41, ttl: 0, rdata: [], file: "mem", line: 4)
                ], file: "mem")
        ) { error in
            XCTAssertEqual(error as? ZoneError, ZoneError(file: "mem", line: 4, reason: "type 41 cannot appear in zone data"))
        }
    }
}
