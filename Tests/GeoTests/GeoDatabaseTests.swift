import Foundation
import Geo
import TestSupport
import XCTest

/// Reads the real GeoLite2-City database (PyPI maxminddb-geolite2, installed by `make test`) and
/// checks the compiled partition against Python's independent `maxminddb` reader.
final class GeoDatabaseTests: XCTestCase {
    static func mmdbPath() throws -> String {
        guard let path = GeoLite2.path() else { throw XCTSkip("maxminddb-geolite2 is not installed (make test installs it)") }
        return path
    }

    static let shared: Result<GeoDatabase, Error> = Result { try GeoDatabase(path: try mmdbPath()) }

    func testKnownNetworks() throws {
        let db = try Self.shared.get()
        XCTAssertGreaterThan(db.v4.count, 1000)
        XCTAssertGreaterThan(db.v6.count, 1000)
        let cases: [(String, String?, String?)] = [
            ("193.0.0.1", "EU", "NL"), ("81.2.69.160", "EU", "GB"), ("8.8.8.8", "NA", "US"),
            ("203.178.128.1", "AS", "JP"), ("1.1.1.1", "OC", "AU"), ("10.1.2.3", nil, nil),
            ("2001:67c:2e8::1", "EU", "NL"), ("2001:200::1", "AS", "JP"), ("2001:db8:ffff::1", nil, nil),
        ]
        for (text, continent, country) in cases {
            let (family, address) = try XCTUnwrap(IPPrefix.parseAddress(text))
            let hit = db.lookup(family: family, address: address)
            XCTAssertEqual(hit.record?.continent, continent, text)
            XCTAssertEqual(hit.record?.country, country, text)
        }
    }

    /// 400 random addresses: continent/country from our partition equal the Python reader's.
    func testAgreesWithPythonReader() throws {
        let db = try Self.shared.get()
        var rng = SystemRandomNumberGenerator()
        var addresses: [String] = []
        for i in 0..<400 {
            if i % 4 == 3 {
                let hi = UInt128(0x2000) << 112 | (UInt128(UInt64.random(in: 0...UInt64.max, using: &rng)) << 48) & (IPPrefix.all(125))
                addresses.append(IPPrefix.formatAddress(family: 6, hi))
            } else {
                addresses.append(IPPrefix.formatAddress(family: 4, UInt128(UInt32.random(in: 0x0100_0000...0xDFFF_FFFF, using: &rng))))
            }
        }
        let script = """
            import sys, maxminddb
            r = maxminddb.open_database(sys.argv[1])
            for line in sys.stdin:
                a = line.strip()
                rec = r.get(a) or {}
                print("%s %s %s" % (a, (rec.get('continent') or {}).get('code', '-'), (rec.get('country') or {}).get('iso_code', '-')))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, db.path]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try p.run()
        input.fileHandleForWriting.write(Data(addresses.joined(separator: "\n").utf8))
        try input.fileHandleForWriting.close()
        let lines = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        p.waitUntilExit()
        XCTAssertEqual(lines.count, addresses.count)
        var matched = 0
        for line in lines {
            let f = line.split(separator: " ").map(String.init)
            let (family, address) = try XCTUnwrap(IPPrefix.parseAddress(f[0]))
            let rec = db.lookup(family: family, address: address).record
            XCTAssertEqual(rec?.continent ?? "-", f[1], f[0])
            XCTAssertEqual(rec?.country ?? "-", f[2], f[0])
            if f[1] != "-" { matched += 1 }
        }
        XCTAssertGreaterThan(matched, 100, "most random public addresses are in the database")
    }

    /// The compiled lookup (what explain reads) agrees with libmaxminddb's own on the file, and the
    /// IPv6 aliases of the IPv4 data (6to4, Teredo, mapped, compatible) answer as that IPv4 address.
    func testLookupAgreesWithLibmaxminddb() throws {
        let path = try Self.mmdbPath()
        let db = try GeoDatabase(path: path)
        let reference = try MaxMindReference(path: path)
        var rng = SplitMix64(seed: 0x6e6f_7274_6821)
        var probes: [(Int, UInt128)] = []
        for text in [
            "193.0.0.1", "8.8.8.8", "10.1.2.3", "2001:67c:2e8::1", "2001:db8:ffff::1",
            "2002:c100:1::", "2001:0:808:808::", "::ffff:8.8.8.8", "::193.0.0.1",
        ] {
            probes.append(try XCTUnwrap(IPPrefix.parseAddress(text)))
        }
        for _ in 0..<2000 { probes.append((4, UInt128(UInt32(truncatingIfNeeded: rng.next())))) }
        for _ in 0..<500 { probes.append((6, UInt128(0x2000) << 112 | UInt128(rng.next() >> 4) << 60)) }
        let compiled = probes.map { db.lookup(family: $0.0, address: $0.1) }
        for (i, v4) in ["193.0.0.1", "8.8.8.8", "8.8.8.8", "193.0.0.1"].enumerated() {
            let (family, address) = try XCTUnwrap(IPPrefix.parseAddress(v4))
            XCTAssertNotNil(compiled[5 + i].record)
            XCTAssertEqual(compiled[5 + i].record, db.lookup(family: family, address: address).record, "alias probe \(i)")
        }
        XCTAssertGreaterThan(db.records.count, 1000)
        var found = 0
        for (probe, mine) in zip(probes, compiled) {
            let theirs = reference.lookup(family: probe.0, address: probe.1)
            XCTAssertEqual(mine.record, theirs.record, IPPrefix.formatAddress(family: probe.0, probe.1))
            if mine.record != nil {
                found += 1
                // the file's network lies within the partition's (merged) range
                XCTAssertTrue(theirs.first >= mine.first && theirs.last <= mine.last, IPPrefix.formatAddress(family: probe.0, probe.1))
            }
        }
        XCTAssertGreaterThan(found, 1000)
    }

    /// A database file rewritten or truncated in place after its load (an operator's `cp` over it, a
    /// download cut short) changes nothing the loaded database says: it maps no part of the file.
    /// (When it kept the file mapped, a lookup after the truncation died of SIGBUS.)
    func testFileTruncatedAfterLoadChangesNothing() throws {
        let source = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try Self.mmdbPath())))
        let path = "/tmp/meridian-geo-truncate-\(getpid()).mmdb"
        defer { unlink(path) }
        try Self.write(source, to: path)
        let db = try GeoDatabase(path: path)
        var rng = SplitMix64(seed: 0x7472_756e_63)
        let probes: [(Int, UInt128)] =
            (0..<3000).map { _ in (4, UInt128(UInt32(truncatingIfNeeded: rng.next()))) }
            + (0..<500).map { _ in (6, UInt128(0x2000) << 112 | UInt128(rng.next() >> 4) << 60) }
        let before = probes.map { db.lookup(family: $0.0, address: $0.1).record }
        XCTAssertEqual(truncate(path, 4096), 0)
        for (probe, old) in zip(probes, before) {
            XCTAssertEqual(db.lookup(family: probe.0, address: probe.1).record, old)
        }
        try Self.write(Array(repeating: 0xA5, count: 1 << 20), to: path) // garbage of another size
        for (probe, old) in zip(probes, before) {
            XCTAssertEqual(db.lookup(family: probe.0, address: probe.1).record, old)
        }
        XCTAssertGreaterThan(before.compactMap { $0 }.count, 1000)
    }

    /// Writes `bytes` over the file at `path` in place (same inode: truncated, then written).
    static func write(_ bytes: [UInt8], to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(bytes))
    }
}

final class PrefixPartitionTests: XCTestCase {
    /// The packed IPv4 lookup (`indexed()`'s `packed`) gives the same key and range as `starts`/`keys`
    /// for random partitions of every density: addresses drawn at random, at every range's first and
    /// last address, at bucket edges and at both ends of the space.
    func testPackedLookupMatchesPlainLookup() {
        var rng = SplitMix64(seed: 42)
        var compared = 0
        for ranges in [1, 2, 17, 1_000, 60_000, 200_000] {
            var starts: Set<UInt32> = [0]
            while starts.count < ranges { starts.insert(UInt32(truncatingIfNeeded: rng.next())) }
            var part = PrefixPartition(width: 32, key: 0)
            for (i, start) in starts.sorted().enumerated() where start != 0 {
                // keys include -1 (nothing) and alias-range values (< -1): both must survive packing
                part.append(start: UInt128(start), key: Int32(truncatingIfNeeded: i % 7 == 0 ? -1 - Int(i % 5) : i))
            }
            let indexed = part.indexed()
            XCTAssertEqual(indexed.packed.count, part.count)
            var probes: [UInt32] = [0, 1, 0xFFFF_FFFF, 0xFFFF_FFFE, 0x0001_0000, 0xFFFF_0000, 0x8000_0000]
            for _ in 0..<20_000 { probes.append(UInt32(truncatingIfNeeded: rng.next())) }
            for i in stride(from: 0, to: part.count, by: max(1, part.count / 5_000)) {
                probes.append(UInt32(truncatingIfNeeded: part.starts[i]))
                probes.append(UInt32(truncatingIfNeeded: part.end(of: i)))
            }
            for a in probes {
                let address = UInt128(a)
                let i = part.index(of: address)
                let plain = (key: part.keys[i], first: part.starts[i], last: part.end(of: i))
                let packed = indexed.lookup(address)
                guard packed == plain else {
                    XCTFail("\(ranges) ranges, address \(a): packed \(packed), plain \(plain)")
                    return
                }
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 6 * 20_000)
    }

    /// The IPv6 search tree (`indexed()`'s `tree`) finds the same range as a plain binary search over
    /// `starts`, for partitions of every size (up to five tree levels), with starts spread over the
    /// space, crowded into a few /16s (as GeoLite2's are), and many inside one /64 (equal top halves,
    /// where the tree must look at the low half), including ranges at the very top of the space
    /// (top half UInt64.max, where the padding compares equal): at random addresses, at every
    /// range's first and last address and just around them.
    func testSearchTreeMatchesBinarySearch() {
        var rng = SplitMix64(seed: 7)
        var compared = 0
        for (ranges, shape) in [(1, 0), (5, 0), (8, 0), (9, 0), (64, 0), (65, 2), (600, 1), (5_000, 2), (70_000, 1), (300_000, 0)] {
            var starts: Set<UInt128> = [0]
            while starts.count < ranges {
                let r = rng.next128()
                switch shape {
                case 0: starts.insert(r) // anywhere
                case 1: starts.insert(UInt128(0x2001 + rng.next() % 4) << 112 | r >> 16) // a few /16s
                default: // shared /64s, the top one too
                    let top: UInt128 = [0x2A00_0000_0000_0001, 0xFFFF_FFFF_FFFF_FFFF, UInt128(rng.next())][Int(rng.next() % 3)]
                    starts.insert(top << 64 | UInt128(rng.next() % 64))
                }
            }
            var part = PrefixPartition(width: 128, key: 0)
            for (i, start) in starts.sorted().enumerated() where start != 0 { part.append(start: start, key: Int32(i)) }
            let indexed = part.indexed()
            var levels = 0, width = ranges
            while width > 8 { width = (width + 7) / 8; levels += 1 }
            XCTAssertEqual(indexed.treeOffsets.count, levels, "\(ranges) ranges")
            var probes: [UInt128] = [0, 1, .max, .max - 1, UInt128(UInt64.max) << 64, UInt128(1) << 127]
            for _ in 0..<10_000 { probes.append(rng.next128()) }
            for i in stride(from: 0, to: part.count, by: max(1, part.count / 5_000)) {
                let first = part.starts[i], last = part.end(of: i)
                probes += [first, last, first &+ 1, last &- 1, first & ~UInt128(UInt64.max), first | UInt128(UInt64.max)]
            }
            for address in probes {
                let plain = lastStart(atOrBelow: address, in: part.starts)
                let tree = indexed.index(of: address)
                guard tree == plain else {
                    XCTFail("\(ranges) ranges (shape \(shape)), address \(String(address, radix: 16)): tree \(tree), binary search \(plain)")
                    return
                }
                XCTAssertEqual(indexed.lookup(address).key, part.keys[plain])
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 10 * 10_000)
    }

    /// The index of the last of `starts` (sorted, starts[0] == 0) at or below `address`.
    func lastStart(atOrBelow address: UInt128, in starts: [UInt128]) -> Int {
        var lo = 0, hi = starts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= address { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    func p(_ s: String) -> IPPrefix { IPPrefix.parse(s)! }

    func testNestedPrefixesLongestMatch() {
        let part = PrefixPartition.fromPrefixes(width: 32, [(p("203.0.113.0/24"), 1), (p("203.0.113.128/25"), 2), (p("198.51.100.0/24"), 3)])
        func key(_ a: String) -> Int32 { part.keys[part.index(of: IPPrefix.parseAddress(a)!.1)] }
        XCTAssertEqual(key("203.0.113.1"), 1)
        XCTAssertEqual(key("203.0.113.127"), 1)
        XCTAssertEqual(key("203.0.113.128"), 2)
        XCTAssertEqual(key("203.0.113.255"), 2)
        XCTAssertEqual(key("203.0.114.0"), -1)
        XCTAssertEqual(key("198.51.100.7"), 3)
        XCTAssertEqual(key("0.0.0.0"), -1)
        XCTAssertEqual(key("255.255.255.255"), -1)
    }

    func testOverlayAndWidestPrefix() {
        let base = PrefixPartition.fromPrefixes(width: 32, [(p("10.0.0.0/8"), 5)])
        let top = PrefixPartition.fromPrefixes(width: 32, [(p("10.1.0.0/16"), 7)])
        let merged = base.overlaid(with: top)
        let a = IPPrefix.parseAddress("10.2.3.4")!.1
        let i = merged.index(of: a)
        XCTAssertEqual(merged.keys[i], 5)
        // 10.2.3.4 lies in 10.0.0.0-10.0.255.255? no: in 10.2.0.0..10.255.255.255 -> widest block /15 (10.2.0.0/15)
        XCTAssertEqual(widestPrefix(containing: a, within: merged.starts[i], merged.end(of: i), width: 32), 15)
        let b = IPPrefix.parseAddress("10.1.9.9")!.1
        XCTAssertEqual(merged.keys[merged.index(of: b)], 7)
        let c = IPPrefix.parseAddress("10.0.9.9")!.1
        XCTAssertEqual(widestPrefix(containing: c, within: merged.starts[merged.index(of: c)], merged.end(of: merged.index(of: c)), width: 32), 16)
    }

    /// The constant-time widestPrefix against the definition (shortest prefix whose block fits),
    /// over random ranges and addresses in them, IPv4 and IPv6 widths, edges included.
    func testWidestPrefixMatchesTheDefinition() {
        func reference(_ address: UInt128, _ lo: UInt128, _ hi: UInt128, _ width: Int) -> Int {
            for length in 0..<width {
                let m = IPPrefix.mask(length, width: width)
                let start = address & m, end = start | (~m & IPPrefix.all(width))
                if start >= lo && end <= hi { return length }
            }
            return width
        }
        var rng = SystemRandomNumberGenerator()
        for width in [32, 128] {
            let all = IPPrefix.all(width)
            for _ in 0..<20_000 {
                // ranges from random bounds, and from aligned blocks (the shape decision tables have)
                var a = UInt128.random(in: 0...all, using: &rng), b = UInt128.random(in: 0...all, using: &rng)
                if Bool.random(using: &rng) {
                    let length = Int.random(in: 0...width, using: &rng)
                    a &= IPPrefix.mask(length, width: width)
                    b = a | (~IPPrefix.mask(length, width: width) & all)
                }
                let (lo, hi) = (min(a, b), max(a, b))
                for address in [lo, hi, UInt128.random(in: lo...hi, using: &rng)] {
                    XCTAssertEqual(
                        widestPrefix(containing: address, within: lo, hi, width: width), reference(address, lo, hi, width),
                        "width \(width) address \(address) in [\(lo), \(hi)]")
                }
            }
            XCTAssertEqual(widestPrefix(containing: 0, within: 0, all, width: width), 0)
            XCTAssertEqual(widestPrefix(containing: 5, within: 6, all, width: width), width) // outside
        }
    }

    func testMergedJoinsEqualNeighbours() {
        let part = PrefixPartition.fromPrefixes(width: 32, [(p("10.0.0.0/9"), 1), (p("10.128.0.0/9"), 2)])
        XCTAssertEqual(part.count, 4)
        let m = part.merged { $0 == -1 ? -1 : 9 }
        XCTAssertEqual(m.count, 3)
        XCTAssertEqual(m.keys, [-1, 9, -1])
    }
}
