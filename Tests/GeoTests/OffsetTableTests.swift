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

/// `RawGeoFields` (how the .mmdb walk recognises records it has already decoded, without Strings).
final class RawGeoFieldsTests: XCTestCase {
    func testPackKeepsUpToEightOctetsAndRefusesMore() {
        XCTAssertEqual("".withCString { RawGeoFields.pack($0) }, 0)
        XCTAssertEqual("EU".withCString { RawGeoFields.pack($0) }.map(RawGeoFields.unpack), "EU")
        XCTAssertEqual("ABCDEFGH".withCString { RawGeoFields.pack($0) }.map(RawGeoFields.unpack), "ABCDEFGH")
        XCTAssertNil("ABCDEFGHI".withCString { RawGeoFields.pack($0) })
        XCTAssertNotEqual("AB".withCString { RawGeoFields.pack($0) }, "BA".withCString { RawGeoFields.pack($0) })
    }

    func testRecordKeepsPresenceApartFromEmptyCodes() {
        var raw = RawGeoFields()
        raw.country = "US".withCString { RawGeoFields.pack($0) }!
        raw.subdivision = "CA".withCString { RawGeoFields.pack($0) }!
        raw.latitude = (37.5).bitPattern
        raw.present = 2 | 4 | 8
        XCTAssertEqual(raw.record, GeoRecord(country: "US", subdivision: "US-CA", latitude: 37.5))
        var empty = RawGeoFields()
        empty.present = 1 // a continent code that is present but empty
        XCTAssertEqual(empty.record, GeoRecord(continent: ""))
        XCTAssertNotEqual(empty, RawGeoFields())
    }

    /// Every record the walk keeps is distinct: records are shared, not decoded per data offset.
    func testGeoLite2RecordsAreDistinct() throws {
        let db = try GeoDatabase(path: try GeoDatabaseTests.mmdbPath())
        XCTAssertGreaterThan(db.records.count, 100_000)
        XCTAssertEqual(Set(db.records).count, db.records.count)
    }
}
