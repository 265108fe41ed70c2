import XCTest
import DNSWire
@testable import Zones

/// The fast path (`SimpleRecordParser`) against the pure-ldns path: every input is read both ways and
/// must give the same records (owner, type, class, TTL, RDATA, file, line) or the same error.
final class FastPathDifferentialTests: XCTestCase {
    enum Outcome: Equatable, CustomStringConvertible {
        case records([ZoneRecord])
        case error(ZoneError)
        var description: String {
            switch self {
            case .records(let r):
                return r.map { "\(WireName.toText($0.owner)) \($0.type) \($0.rrClass) \($0.ttl) \($0.rdata) :\($0.line)" }.joined(separator: "\n")
            case .error(let e): return "error \(e)"
            }
        }
    }

    func read(_ text: String, fastPath: Bool, origin: String = "example.test.") -> Outcome {
        do {
            return .records(try ZoneFileReader.read(text: Array(text.utf8), path: "t.zone", origin: origin, fastPath: fastPath))
        } catch let e as ZoneError {
            return .error(e)
        } catch {
            return .error(ZoneError(file: "?", line: -1, reason: "\(error)"))
        }
    }

    func assertSame(_ text: String, origin: String = "example.test.", file: StaticString = #filePath, line: UInt = #line) {
        let fast = read(text, fastPath: true, origin: origin)
        let slow = read(text, fastPath: false, origin: origin)
        XCTAssertEqual(fast, slow, "input:\n\(text)\nfast:\n\(fast)\nldns:\n\(slow)", file: file, line: line)
    }

    /// Like `assertSame`, and the input must read without error (so that every line was compared).
    func assertSameRecords(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        assertSame(text, file: file, line: line)
        if case .error(let e) = read(text, fastPath: true) { XCTFail("unexpected error \(e) for:\n\(text)", file: file, line: line) }
    }

    /// Lines the fast path must take itself (so the comparisons below exercise it).
    func testFastPathAcceptsTheCommonForms() {
        let lines = [
            "www 300 IN A 192.0.2.1", "www IN 300 A 192.0.2.1x", "www A 192.0.2.1", "@ IN NS ns1", "\tIN AAAA 2001:db8::1",
            "mail IN MX 10 mx.example.net.", "t IN TXT \"hello world\" ; comment", "t TXT a b c", "c CNAME Target",
            "1.2 PTR host.example.", "$ORIGIN other.test.", "$TTL 60", "x IN AAAA ::", "y in a 0.0.0.0",
        ]
        var parser = SimpleRecordParser(origin: wire("example.test."), defaultTTL: 3600)
        var accepted = 0
        for line in lines {
            let bytes = Array(line.utf8)
            let outcome = bytes.withUnsafeBufferPointer { parser.parse($0.baseAddress!, $0.count) }
            if case .fallback = outcome { continue }
            accepted += 1
        }
        // "IN 300 A" (class before TTL) and "192.0.2.1x" go to ldns; everything else is taken
        XCTAssertEqual(accepted, lines.count - 1)
    }

    func testDirectivesOwnersAndOrders() {
        assertSameRecords(
            """
            $ORIGIN example.test.
            $TTL 600
            @ 3600 IN SOA ns1 hostmaster 1 7200 900 604800 120
            @ IN NS ns1
            \tIN NS ns2.example.test.
            ns1 IN A 192.0.2.1
            NS2.Example.TEST. 300 IN A 192.0.2.2
            www 300 A 192.0.2.3
            www 300 in a 192.0.2.5
               AAAA 2001:db8::5
            $TTL 0
            zero A 192.0.2.6
            $TTL 1h
            hour A 192.0.2.7
            $ORIGIN sub.example.test.
            host IN AAAA 2001:DB8::1
            @ TXT "at sub"
            \tTXT "blank owner after @"
            $ORIGIN Rel
            rel A 192.0.2.8
            $ORIGIN example.test.
            *.wild A 192.0.2.9
            x_y A 192.0.2.10
            -dash A 192.0.2.11
            . A 192.0.2.12
            1.2.3 PTR host
            """)
    }

    func testBlankOwnerAtStartIsTheOrigin() {
        assertSameRecords("  IN A 192.0.2.1\nnext A 192.0.2.2\n  A 192.0.2.3\n")
    }

    func testAddresses() {
        for a in [
            "192.0.2.1", "0.0.0.0", "255.255.255.255", "01.2.3.4", "256.1.1.1", "1.2.3", "1.2.3.4.5", "1..2.3",
            "1.2.3.4 extra", "1.2.3.", ".1.2.3", "1.2.3.4x", "0x1.2.3.4", "",
        ] {
            assertSame("a IN A \(a)\n")
        }
        for a in [
            "2001:db8::1", "::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8::",
            "::ffff:192.0.2.1", "1:::2", ":1::", "1::2:", "12345::", "ABCD:ef01::", "0:0:0:0:0:0:0:0", "1:2:3:4:5:6:7",
            "1::2::3", "g::1", "::1 extra", "2001:DB8:0:0:8:800:200C:417A", "fe80::1%eth0",
        ] {
            assertSame("a IN AAAA \(a)\n")
        }
    }

    func testNames() {
        for n in [
            "ns1", "ns1.example.test.", "@", "Mixed.Case.", "a\\.b", ".", "a..b", "a.", "@x", "x@", "a.b.c.d.e.f",
            String(repeating: "a", count: 63), String(repeating: "a", count: 64), "\"q\"", "a\\065",
        ] {
            assertSame("n IN NS \(n)\n")
            assertSame("c IN CNAME \(n)\n")
            assertSame("p IN PTR \(n)\n")
            assertSame("\(n) IN A 192.0.2.1\n")
        }
        let long = (0..<5).map { _ in String(repeating: "b", count: 60) }.joined(separator: ".")
        assertSame("\(long) A 192.0.2.1\n")
        assertSame("x NS \(long)\n")
    }

    func testMX() {
        for m in [
            "10 mail", "010 mail.", "0 .", "65535 mx.example.net.", "65536 mail", "-1 mail", "10", "10 mail extra",
            "1e1 mail", "10 @", "+5 mail",
        ] {
            assertSame("m IN MX \(m)\n")
        }
    }

    func testText() {
        for t in [
            "\"hello world\"", "a b c", "\"a\" \"b\"", "\"a\"\"b\"", "\"\"", "\"semi;colon\"", "\"paren(\"", "\"esc\\\"q\"",
            "\"tab\there\"", "unterminated \"", "\"a\"b", "a\"b\"", "\"a\" ; comment", "a ; comment", "\"x\"   ",
            "\"" + String(repeating: "x", count: 255) + "\"", "\"" + String(repeating: "x", count: 256) + "\"",
            String(repeating: "y", count: 256), "\"a\\010b\"", "\"caf\u{e9}\"", "", "\"a\" \t \"b\"", "\"(\" \")\"",
        ] {
            assertSame("t IN TXT \(t)\n")
        }
    }

    func testCommentsParenthesesAndLineEnds() {
        assertSameRecords(
            """
            ; leading comment
            $ORIGIN example.test.
            @ 3600 IN SOA ns1 hostmaster (
                    1      ; serial
                    7200   ; refresh
                    900 604800
                    120 )  ; minimum
            a IN A 192.0.2.1 ; trailing

              ; indented comment
            b IN A ( 192.0.2.2 )
            c IN TXT ( "multi"
                       "line" )
            d IN A 192.0.2.4
            """)
        assertSame("a IN A 192.0.2.1\r\nb IN A 192.0.2.2\r\n\r\nc IN TXT \"crlf\"\r\n")
        assertSame("a IN A 192.0.2.1\n\n\n\nb IN A 192.0.2.2")
        assertSame("a IN A 192.0.2.1\n\u{0C}b IN A 192.0.2.2\n")
        assertSame("a IN A 192.0.2.1\n\rb IN A 192.0.2.2\n\u{0B}\n c A 192.0.2.3\n")
        assertSame("a IN A 192.0.2.1\n   \n\u{0C}b IN A 192.0.2.2\n; c\n\u{0C}d A 192.0.2.4\n  ; c\n\re A 192.0.2.5\n")
        assertSame("\u{0C}a IN A 192.0.2.1\n")
    }

    func testOtherTypesAndClasses() {
        assertSameRecords(
            """
            srv IN SRV 0 5 5060 sip.example.test.
            unk 300 IN TYPE65000 \\# 4 01020304
            a IN TYPE1 \\# 4 C0000201
            cls CLASS1 A 192.0.2.9
            ch CH TXT "chaos"
            h IN HINFO "cpu" "os"
            caa IN CAA 0 issue "ca.example.net"
            """)
    }

    func testErrorsKeepLdnsMessageAndLine() {
        // ldns reads TTL then class, not class then TTL
        for text in [
            "www IN 300 A 192.0.2.4\n", "a IN A 192.0.2.1\nb IN A 300.1.1.1\n", "a IN A 192.0.2.1\n\n\nb IN BOGUS x\n", "$ORIGIN ..\n",
            "a IN MX mail\n", "a IN A\n",
        ] {
            assertSame(text)
            if case .records = read(text, fastPath: true) { XCTFail("expected an error for \(text)") }
        }
        // ldns accepts an unterminated quote (the string runs to the end of the line); so does the reader
        assertSame("a IN TXT \"open\nb A 192.0.2.1\n")
    }

    /// Random lines assembled from the pieces above, each read both ways (fixed seed: reproducible).
    func testRandomLines() {
        var rng = SplitMix(seed: 0x5EED_2026)
        let owners = ["", "@", "www", "WWW", "a.b", "x.example.test.", "*.w", "@x", "a..b", ".", "\"q\"", "s;c", "(p", "ü"]
        let ttls = ["", "300", "0", "1h", "999999999", "4294967296", "-1", "3O0"]
        let classes = ["", "IN", "in", "CH", "CLASS1", "IN 300"]
        let types = ["A", "a", "AAAA", "NS", "CNAME", "PTR", "MX", "TXT", "txt", "SRV", "TYPE1", "HINFO", "BOGUS"]
        let rdatas = [
            "192.0.2.1", "01.2.3.4", "2001:db8::1", "::", "1:::2", "ns1", "ns1.example.test.", "@", "10 mail",
            "65536 m", "\"t x\"", "a b", "\"a\"\"b\"", "\"\"", "\"s;c\" x", "\"(\"", "a\\.b", "x ; c", "( 192.0.2.2 )",
            "\\# 4 C0000201", "", "\"unterminated", "1 2 3 4", "\t192.0.2.3\t",
        ]
        var readWithoutError = 0
        for _ in 0..<1500 {
            var parts: [String] = []
            parts.append(owners[rng.next(owners.count)])
            let a = ttls[rng.next(ttls.count)], b = classes[rng.next(classes.count)]
            if rng.next(2) == 0 { parts += [a, b] } else { parts += [b, a] }
            parts.append(types[rng.next(types.count)])
            parts.append(rdatas[rng.next(rdatas.count)])
            let sep = [" ", "\t", "  "][rng.next(3)]
            let line = parts.joined(separator: sep)
            let text = "p IN A 192.0.2.100\n\(line)\n  A 192.0.2.101\n"
            assertSame(text)
            if case .records = read(text, fastPath: true) { readWithoutError += 1 }
        }
        // enough of the random lines are records (not errors) for their fields to be compared
        XCTAssertGreaterThan(readWithoutError, 150, "\(readWithoutError) of 1500 random lines read without error")
    }

    /// Random files of several entries, directives and line separators (blank, comment, CR, FF, VT lines).
    func testRandomFiles() {
        var rng = SplitMix(seed: 0xF11E_5EED)
        let entries = [
            "www A 192.0.2.1", "  AAAA 2001:db8::1", "@ NS ns1", "x 60 IN TXT \"a b\" c", "m MX 10 mail.", "$ORIGIN sub.example.test.",
            "$ORIGIN rel", "$TTL 5", "$TTL 1h", "$TTL 0", "\tTXT \"tab owner\"", "y IN CNAME www", "z A 01.2.3.4", "w A 192.0.2.2 ; c",
            "s IN SOA ns1 host ( 1 2 3 4 5 )", "q TXT \"a\rb\"", "v\u{0B}A 192.0.2.3", "n TXT \"semi;\" ; real", "u A 192.0.2.4\r",
            "( p A 192.0.2.5 )", "t TYPE65000 \\# 2 0102",
        ]
        var readWithoutError = 0
        let separators = ["\n", "\n\n", "\r\n", "\n  \n", "\n; c\n", "\n\u{0C}", "\n\r", "\n\t", "\n \t; c\n\r", "\n\u{0B}\n"]
        for _ in 0..<600 {
            var text = ""
            for k in 0..<(1 + rng.next(6)) {
                if k > 0 { text += separators[rng.next(separators.count)] }
                text += entries[rng.next(entries.count)]
            }
            if rng.next(2) == 0 { text += "\n" }
            assertSame(text)
            if case .records = read(text, fastPath: true) { readWithoutError += 1 }
        }
        XCTAssertGreaterThan(readWithoutError, 100, "\(readWithoutError) of 600 random files read without error")
    }

    func testIncludeThroughBothPaths() throws {
        let dir = TempDir()
        dir.write("inc.zone", "inc A 192.0.2.5\n$ORIGIN moved.example.test.\nm TXT \"x\"\n")
        let main = dir.write("main.zone", "$TTL 600\na A 192.0.2.1\n$INCLUDE inc.zone sub\nb A 192.0.2.2\n  TXT \"after\"\n")
        let fast = try ZoneFileReader.read(path: main, origin: "example.test.", defaultTTL: 3600, fastPath: true)
        let slow = try ZoneFileReader.read(path: main, origin: "example.test.", defaultTTL: 3600, fastPath: false)
        XCTAssertEqual(fast, slow)
        XCTAssertEqual(fast.map(\.line), [2, 1, 3, 4, 5])
    }

    /// An `$INCLUDE` before the first record: records after it still name the including file.
    func testIncludeFirstKeepsFileNames() throws {
        let dir = TempDir()
        let inc = dir.write("inc.zone", "inc A 192.0.2.5\n")
        let main = dir.write("main.zone", "$INCLUDE inc.zone\nafter A 192.0.2.1\n")
        for fastPath in [true, false] {
            let records = try ZoneFileReader.read(path: main, origin: "example.test.", defaultTTL: 3600, fastPath: fastPath)
            XCTAssertEqual(records.map(\.file), [inc, main])
            XCTAssertEqual(records.map(\.line), [1, 2])
        }
    }
}

/// A small deterministic generator (SplitMix64) for the random cases.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Int(z % UInt64(bound))
    }
}
