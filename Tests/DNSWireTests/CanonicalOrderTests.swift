import DNSWire
import XCTest

/// The canonical order of RFC 4034 §6.1, on the example the RFC gives, through both comparisons.
final class CanonicalOrderTests: XCTestCase {
    /// RFC 4034 §6.1's names, in its order (lower case, as the query path compares them).
    static let ordered: [[UInt8]] = [
        [7] + Array("example".utf8) + [0],
        [1, 0x61, 7] + Array("example".utf8) + [0],
        [8] + Array("yljkjljk".utf8) + [1, 0x61, 7] + Array("example".utf8) + [0],
        [1, 0x7A, 1, 0x61, 7] + Array("example".utf8) + [0],
        [4] + Array("zabc".utf8) + [1, 0x61, 7] + Array("example".utf8) + [0],
        [1, 0x7A, 7] + Array("example".utf8) + [0],
        [1, 0x01, 1, 0x7A, 7] + Array("example".utf8) + [0],
        [1, 0x2A, 1, 0x7A, 7] + Array("example".utf8) + [0],
        [1, 0xC8, 1, 0x7A, 7] + Array("example".utf8) + [0],
    ]

    func testKeysSortAsTheRFCExample() {
        let keys = Self.ordered.map(CanonicalOrder.key)
        XCTAssertEqual(keys.shuffled().sorted(by: CanonicalOrder.precedes), keys)
        XCTAssertEqual(keys[3], [7] + Array("example".utf8) + [1, 0x61, 1, 0x7A, 0], "labels right to left, then a zero")
    }

    func testANameComparesWithAKeyAsTheKeysDo() {
        let keys = Self.ordered.map(CanonicalOrder.key)
        for (i, name) in Self.ordered.enumerated() {
            var offsets: [Int] = []
            var pos = 0
            while name[pos] != 0 {
                offsets.append(pos)
                pos += Int(name[pos]) + 1
            }
            for (j, key) in keys.enumerated() {
                let c = name.withUnsafeBufferPointer { n in
                    key.withUnsafeBufferPointer { k in
                        CanonicalOrder.compare(name: n.baseAddress!, offsets: offsets, labels: offsets.count, key: k.baseAddress!)
                    }
                }
                XCTAssertEqual(c.signum(), (i - j).signum(), "\(i) against \(j)")
            }
        }
    }
}
