import TestSupport
import XCTest
@testable import DNSWire

final class WireNameTests: XCTestCase {
    struct Case {
        let label: String
        let packet: [UInt8]
        let offset: Int
        /// Expected decompressed name and next offset; nil = must be rejected.
        let expect: (name: [UInt8], next: Int)?
    }

    static let pad12 = [UInt8](repeating: 0, count: 12)
    static let x63 = [UInt8](repeating: 0x78, count: 63)

    static func label(_ n: Int, _ c: UInt8 = 0x61) -> [UInt8] { [UInt8(n)] + [UInt8](repeating: c, count: n) }

    /// www.example.com at 12..28, mail+ptr(16) at 29..35 (ends 36), x+ptr(29) at 36..39.
    static let chain: [UInt8] =
        pad12 + Wire.name("www.example.com") + [4] + Array("mail".utf8) + [0xC0, 0x10]
        + [1, 0x78, 0xC0, 29]

    /// A 255-octet name spread over four pointer hops: 63 | 63 | 63 | 61 labels + root.
    static func compressedLong(lastLabel: Int) -> [UInt8] {
        var p: [UInt8] = []
        p += label(63) + [0] // 0..64 : a63.
        p += label(63, 0x62) + [0xC0, 0] // 65..130 : b63 -> 0
        p += label(63, 0x63) + [0xC0, 65] // 131..196 : c63 -> 65
        p += label(lastLabel, 0x64) + [0xC0, 131] // 197.. : dNN -> 131
        return p
    }

    static let cases: [Case] = [
        Case(
            label: "plain", packet: Wire.name("www.example.com"), offset: 0,
            expect: (Wire.name("www.example.com"), 17)),
        Case(label: "root", packet: [0], offset: 0, expect: ([0], 1)),
        Case(
            label: "letter case kept", packet: Wire.name("WwW.ExAmple.COM"), offset: 0,
            expect: (Wire.name("WwW.ExAmple.COM"), 17)),
        Case(
            label: "pointer back to an ancestor", packet: chain, offset: 29,
            expect: (Wire.name("mail.example.com"), 36)),
        Case(
            label: "two pointer hops", packet: chain, offset: 36,
            expect: (Wire.name("x.mail.example.com"), 40)),
        Case(
            label: "pointer alone", packet: pad12 + Wire.name("com") + [0xC0, 12], offset: 17,
            expect: (Wire.name("com"), 19)),
        Case(label: "self pointer", packet: pad12 + [0xC0, 12], offset: 12, expect: nil),
        Case(label: "label then pointer to own start", packet: pad12 + [1, 0x61, 0xC0, 12], offset: 12, expect: nil),
        Case(label: "pointer into own labels", packet: pad12 + [1, 0x61, 1, 0x62, 0xC0, 14], offset: 12, expect: nil),
        Case(label: "mutual pointers, read first", packet: pad12 + [0xC0, 14, 0xC0, 12], offset: 12, expect: nil),
        Case(label: "mutual pointers, read second", packet: pad12 + [0xC0, 14, 0xC0, 12], offset: 14, expect: nil),
        Case(label: "forward pointer to a valid name", packet: pad12 + [0xC0, 14] + Wire.name("com"), offset: 12, expect: nil),
        Case(
            label: "backward then forward pointer",
            packet: pad12 + [1, 0x62, 0xC0, 24] + [0, 0, 0, 0, 0, 0] + Wire.name("com") + [1, 0x61, 0xC0, 12],
            offset: 29, expect: nil),
        Case(label: "pointer past the end", packet: pad12 + [1, 0x61, 0xFF, 0xFF], offset: 12, expect: nil),
        Case(label: "pointer target == packet length", packet: pad12 + [0xC0, 14], offset: 12, expect: nil),
        Case(label: "pointer cut after first octet", packet: pad12 + [3] + Array("com".utf8) + [0xC0], offset: 12, expect: nil),
        Case(label: "label runs past the end", packet: [5, 0x61, 0x62], offset: 0, expect: nil),
        Case(label: "no root label", packet: [3] + Array("com".utf8), offset: 0, expect: nil),
        Case(label: "offset at end", packet: [0], offset: 1, expect: nil),
        Case(label: "empty packet", packet: [], offset: 0, expect: nil),
        Case(label: "label of 63", packet: label(63) + [0], offset: 0, expect: (label(63) + [0], 65)),
        Case(label: "label of 64 (0x40 prefix)", packet: label(64) + [0], offset: 0, expect: nil),
        Case(label: "label length 0x7F", packet: [0x7F] + [UInt8](repeating: 0x61, count: 127) + [0], offset: 0, expect: nil),
        Case(label: "label type 0b10", packet: [0x80, 0x61, 0], offset: 0, expect: nil),
        Case(label: "label type 0b10 (0xBF)", packet: [0xBF, 0x00, 0], offset: 0, expect: nil),
        Case(
            label: "name of 255 octets", packet: label(63) + label(63) + label(63) + label(61) + [0], offset: 0,
            expect: (label(63) + label(63) + label(63) + label(61) + [0], 255)),
        Case(label: "name of 256 octets", packet: label(63) + label(63) + label(63) + label(62) + [0], offset: 0, expect: nil),
        Case(
            label: "name of 256 octets from labels of 1",
            packet: [UInt8](repeating: 0, count: 0) + Array([[UInt8]](repeating: [1, 0x61], count: 128).joined()) + [0],
            offset: 0, expect: nil),
        Case(
            label: "name of 255 octets from labels of 1",
            packet: Array([[UInt8]](repeating: [1, 0x61], count: 127).joined()) + [0], offset: 0,
            expect: (Array([[UInt8]](repeating: [1, 0x61], count: 127).joined()) + [0], 255)),
        Case(
            label: "compressed name of 255 octets", packet: compressedLong(lastLabel: 61), offset: 197,
            expect: (label(61, 0x64) + label(63, 0x63) + label(63, 0x62) + label(63) + [0], 197 + 62 + 2)),
        Case(label: "compressed name of 256 octets", packet: compressedLong(lastLabel: 62), offset: 197, expect: nil),
    ]

    func testReadTable() {
        for c in Self.cases {
            var guardOK = false
            let got = readName(c.packet, at: c.offset, guardOK: &guardOK)
            XCTAssertTrue(guardOK, "\(c.label): wrote past 255 octets")
            if let e = c.expect {
                guard let got else { XCTFail("\(c.label): rejected, expected \(Wire.hex(e.name))"); continue }
                XCTAssertEqual(got.name, e.name, c.label)
                XCTAssertEqual(got.next, e.next, "\(c.label): next offset")
                XCTAssertEqual(got.name.count, e.name.count, c.label)
            } else {
                XCTAssertNil(got.map { Wire.hex($0.name) }, "\(c.label): must be rejected")
            }
        }
    }

    func testSkipMatchesRead() {
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        defer { scratch.deallocate() }
        Self.chain.withUnsafeBytes { p in
            XCTAssertEqual(WireName.skip(p, at: 12, scratch: scratch), 29)
            XCTAssertEqual(WireName.skip(p, at: 29, scratch: scratch), 36)
            XCTAssertEqual(WireName.skip(p, at: 36, scratch: scratch), 40)
        }
        (Self.pad12 + [0xC0, 12]).withUnsafeBytes { p in
            XCTAssertNil(WireName.skip(p, at: 12, scratch: scratch))
        }
    }

    func testTextConversions() {
        XCTAssertEqual(WireName.fromText("WWW.Example.COM."), Wire.name("www.example.com"))
        XCTAssertEqual(WireName.fromText("www.example.com"), Wire.name("www.example.com"))
        XCTAssertEqual(WireName.fromText("."), [0])
        XCTAssertNil(WireName.fromText("a..b."))
        XCTAssertNil(WireName.fromText(String(repeating: "a", count: 64) + "."))
        XCTAssertNotNil(WireName.fromText(String(repeating: "a", count: 63) + "."))
        let n255 = [String](repeating: String(repeating: "a", count: 63), count: 3).joined(separator: ".") + "." + String(repeating: "b", count: 61) + "."
        XCTAssertEqual(WireName.fromText(n255)?.count, 255)
        let n256 = [String](repeating: String(repeating: "a", count: 63), count: 3).joined(separator: ".") + "." + String(repeating: "b", count: 62) + "."
        XCTAssertNil(WireName.fromText(n256))
        XCTAssertEqual(WireName.toText(Wire.name("www.example.com")), "www.example.com.")
        XCTAssertEqual(WireName.toText([0]), ".")
        XCTAssertEqual(WireName.toText([3, 0x61, 0x2E, 0x20, 0]), "a\\.\\032.")
    }

    func testNameHelpers() {
        let a = Wire.name("www.example.com"), b = Wire.name("example.com"), c = Wire.name("xample.com")
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                XCTAssertTrue(WireName.isSubdomain(ap.baseAddress!, ap.count, of: bp.baseAddress!, bp.count))
                XCTAssertFalse(WireName.isSubdomain(bp.baseAddress!, bp.count, of: ap.baseAddress!, ap.count))
                XCTAssertTrue(WireName.isSubdomain(bp.baseAddress!, bp.count, of: bp.baseAddress!, bp.count))
                XCTAssertEqual(WireName.labelCount(ap.baseAddress!, length: ap.count), 3)
            }
            c.withUnsafeBufferPointer { cp in
                // "xample.com" is not a label-aligned suffix of "www.example.com"
                XCTAssertFalse(WireName.isSubdomain(ap.baseAddress!, ap.count, of: cp.baseAddress!, cp.count))
            }
            [UInt8(0)].withUnsafeBufferPointer { root in
                XCTAssertTrue(WireName.isSubdomain(ap.baseAddress!, ap.count, of: root.baseAddress!, 1))
            }
        }
        var lower = [UInt8](repeating: 0, count: 17)
        let mixed = Wire.name("WwW.ExAmPlE.CoM")
        WireName.lowercase(mixed, length: mixed.count, into: &lower)
        XCTAssertEqual(lower, a)
    }

    /// The word-at-a-time lowercase equals the byte loop for every octet value in every position of
    /// names of every length 1...255, and writes nothing beyond its 256-octet buffers.
    func testLowercaseWordsMatchesByteLoop() {
        let capacity = WireName.lowercaseWordsCapacity
        let name = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity + 16)
        let words = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity + 16)
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { name.deallocate(); words.deallocate(); bytes.deallocate() }
        var rng = SplitMix64(seed: 7)
        var checked = 0
        for length in 1...255 {
            for round in 0..<8 {
                name.initialize(repeating: 0xA5, count: capacity + 16)
                words.initialize(repeating: 0xEE, count: capacity + 16)
                for i in 0..<length {
                    // rounds 0-1 sweep all 256 values through each position; later rounds are random
                    name[i] = round < 2 ? UInt8(truncatingIfNeeded: i &+ round &* 128 &+ length) : UInt8(truncatingIfNeeded: rng.next())
                }
                WireName.lowercase(name, length: length, into: bytes)
                WireName.lowercaseWords(name, length: length, into: words)
                for i in 0..<length where words[i] != bytes[i] {
                    XCTFail(
                        "length \(length) octet \(i): 0x\(String(name[i], radix: 16)) -> 0x\(String(words[i], radix: 16)), want 0x\(String(bytes[i], radix: 16))"
                    )
                    return
                }
                for i in capacity..<(capacity + 16) where words[i] != 0xEE {
                    XCTFail("length \(length): wrote past the buffer at \(i)")
                    return
                }
                checked += 1
            }
        }
        XCTAssertEqual(checked, 255 * 8)
        // every octet value once, directly
        for v in 0...255 {
            name.initialize(repeating: UInt8(v), count: 8)
            WireName.lowercaseWords(name, length: 8, into: words)
            let want: UInt8 = (0x41...0x5A).contains(v) ? UInt8(v) | 0x20 : UInt8(v)
            XCTAssertEqual(words[3], want, "octet 0x\(String(v, radix: 16))")
        }
    }

    /// The name-table hash reads exactly `length` octets (the same name in buffers with different
    /// octets after it hashes alike), gives distinct names distinct values (about 100,000 of them), and
    /// spreads their low 12 bits (the slot of a 4,096-slot table) evenly: no slot gets twice its share.
    func testHashReadsOnlyTheNameAndSpreadsSlots() {
        var rng = SplitMix64(seed: 11)
        let a = UnsafeMutablePointer<UInt8>.allocate(capacity: 300)
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: 300)
        defer { a.deallocate(); b.deallocate() }
        var names = Set<[UInt8]>()
        for n in 0..<100_000 {
            // names like the ones zones hold: a few short labels, now and then long ones
            var name: [UInt8] = []
            for _ in 0..<(1 + n % 4) {
                let len = 1 + Int(rng.next() % (n % 97 == 0 ? 60 : 12))
                name.append(UInt8(len))
                for _ in 0..<len { name.append(0x61 + UInt8(rng.next() % 26)) }
            }
            name.append(0)
            names.insert(name)
        }
        var hashes = Set<UInt64>()
        var slots = [Int](repeating: 0, count: 4096)
        for name in names {
            a.initialize(repeating: 0x00, count: 300)
            b.initialize(repeating: 0xFF, count: 300)
            a.update(from: name, count: name.count)
            b.update(from: name, count: name.count)
            let h = WireName.hash(a, length: name.count)
            XCTAssertEqual(h, WireName.hash(b, length: name.count))
            hashes.insert(h)
            slots[Int(h & 4095)] += 1
        }
        XCTAssertGreaterThan(names.count, 90_000)
        XCTAssertEqual(hashes.count, names.count)
        XCTAssertLessThan(slots.max()!, 2 * names.count / 4096)
    }
}
