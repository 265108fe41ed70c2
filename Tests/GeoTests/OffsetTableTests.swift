@testable import Geo
import TestSupport
import XCTest

/// `OffsetTable` (data-section offset -> record index, used by the .mmdb walk) against a Dictionary.
final class OffsetTableTests: XCTestCase {
    func testAgreesWithADictionaryWhileGrowing() {
        var table = OffsetTable(capacityBits: 4)
        var reference: [UInt32: Int32] = [:]
        var rng = SplitMix64(seed: 11)
        for i in 0..<200_000 {
            // clustered and scattered offsets, as a data section's are
            let key = i % 2 == 0 ? UInt32(i * 7) : UInt32(truncatingIfNeeded: rng.next()) % (UInt32.max - 1)
            if reference[key] != nil { continue }
            XCTAssertNil(table.value(for: key))
            table.insert(key, Int32(i))
            reference[key] = Int32(i)
        }
        for (key, value) in reference { XCTAssertEqual(table.value(for: key), value) }
        var absent = 0
        for _ in 0..<10_000 {
            let key = UInt32(truncatingIfNeeded: rng.next()) % (UInt32.max - 1)
            if reference[key] == nil { XCTAssertNil(table.value(for: key)); absent += 1 }
        }
        XCTAssertGreaterThan(absent, 9_000)
    }
}
