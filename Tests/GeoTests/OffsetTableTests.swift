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

/// A corrupt search tree is a load error, not a walk without end nor networks silently missing: a
/// tree whose nodes point back up or are shared would otherwise be walked up to 2^32 times, a record
/// libmaxminddb calls invalid (a pointer to node 0, as in a zero-filled tree) was read as "not in the
/// database", and so was a path deeper than the address.
final class CorruptSearchTreeTests: XCTestCase {
    /// The MaxMind DB data format (spec §"Output Data Section"): control byte type << 5 | size;
    /// types above 7 are "extended" (type 0, then type - 7 in the next byte).
    static func field(_ type: UInt8, _ size: Int, _ payload: [UInt8] = []) -> [UInt8] {
        type <= 7 ? [type << 5 | UInt8(size)] + payload : [UInt8(size), type - 7] + payload
    }
    static func string(_ s: String) -> [UInt8] { field(2, s.utf8.count, Array(s.utf8)) }
    static func uint(_ type: UInt8, _ v: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        var x = v
        while x > 0 { bytes.insert(UInt8(x & 0xFF), at: 0); x >>= 8 }
        return field(type, bytes.count, bytes)
    }

    /// A database whose tree is `tree` (24-bit records, 6 octets a node) and data section `data`.
    static func database(tree: [UInt8], nodeCount: UInt64, ipVersion: UInt64 = 4, data: [UInt8] = []) -> String {
        var metadata: [UInt8] = field(7, 9) // map of 9 pairs
        metadata += string("node_count") + uint(6, nodeCount)
        metadata += string("record_size") + uint(5, 24)
        metadata += string("ip_version") + uint(5, ipVersion)
        metadata += string("database_type") + string("Corrupt-Test")
        metadata += string("languages") + field(11, 0)
        metadata += string("binary_format_major_version") + uint(5, 2)
        metadata += string("binary_format_minor_version") + uint(5, 0)
        metadata += string("build_epoch") + uint(9, 1)
        metadata += string("description") + field(7, 0)
        let file = tree + [UInt8](repeating: 0, count: 16) + data + [0xAB, 0xCD, 0xEF] + Array("MaxMind.com".utf8) + metadata
        let path = NSTemporaryDirectory() + "/meridian-corrupt-\(getpid())-\(tree.hashValue).mmdb"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(file)))
        return path
    }

    /// A search tree of 24-bit records, node i being `nodes[i]` (6 octets a node).
    static func tree(_ nodes: [(left: Int, right: Int)]) -> [UInt8] {
        func record(_ v: Int) -> [UInt8] { [UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        return nodes.flatMap { record($0.left) + record($0.right) }
    }

    /// A data section holding one record, {"continent": {"code": "EU"}}, at offset 0 (31 octets).
    static let continentEU = field(7, 1) + string("continent") + field(7, 1) + string("code") + string("EU")

    /// Loading the database at `path` fails with an error that names `reason`; the file is removed.
    func assertRefused(_ path: String, _ reason: String, line: UInt = #line) {
        defer { unlink(path) }
        XCTAssertThrowsError(try GeoDatabase(path: path, fields: [.continent]), line: line) { error in
            XCTAssertTrue("\(error)".contains(reason), "\(error)", line: line)
        }
    }

    func testTreeThatPointsBackUpIsRefused() throws {
        // every record points at node 1: the leftmost path runs past the 32nd bit at once
        assertRefused(
            Self.database(tree: Self.tree(Array(repeating: (1, 1), count: 4)), nodeCount: 4),
            "corrupt search tree: deeper than 32 bits")
    }

    /// Node i's two records both point at node i + 1 (12 nodes, no cycle, no path deeper than 12
    /// bits): a walk would visit 2^12 nodes, and 2^32 with 32 of them; more than twice the node count
    /// is refused.
    func testTreeWhoseNodesAreSharedIsRefused() throws {
        let nodes = 12
        let tree = Self.tree((0..<nodes).map { i in i < nodes - 1 ? (i + 1, i + 1) : (nodes, nodes) })
        assertRefused(Self.database(tree: tree, nodeCount: UInt64(nodes)), "corrupt search tree: nodes are reached more than once")
    }

    /// A chain of 34 nodes down the left edge: the 33rd address bit still meets a search node, where
    /// libmaxminddb would hand out node 33 as a data offset. (Before, 0.0.0.0/32 was "not found".)
    func testTreeDeeperThanTheAddressIsRefused() throws {
        // node i's left record is node i + 1, the last node's and every right record empty (= the node count)
        func chain(_ nodes: Int) -> [UInt8] { Self.tree((0..<nodes).map { i in (i < nodes - 1 ? i + 1 : nodes, nodes) }) }
        assertRefused(Self.database(tree: chain(34), nodeCount: 34), "corrupt search tree: deeper than 32 bits below 0.0.0.0")
        // 32 nodes are a sound tree: 0.0.0.0/32 is the last left leaf
        let soundPath = Self.database(tree: chain(32), nodeCount: 32)
        defer { unlink(soundPath) }
        XCTAssertNoThrow(try GeoDatabase(path: soundPath, fields: [.continent]))
    }

    /// An IPv6 tree whose root's left record is a network (::/1): IPv4 lookups reach it before the
    /// 96th bit, and libmaxminddb answers every IPv4 address with it. (Before, IPv4 was "not found".)
    func testNetworkAboveTheIPv4SubtreeHoldsAllOfIPv4() throws {
        // one node: left = data at offset 0 (node count + 16), right = empty (the node count)
        let path = Self.database(tree: Self.tree([(17, 1)]), nodeCount: 1, ipVersion: 6, data: Self.continentEU)
        defer { unlink(path) }
        let db = try GeoDatabase(path: path, fields: .all)
        for text in ["8.8.8.8", "0.0.0.0", "255.255.255.255", "::1.2.3.4", "2001:db8::1"] {
            let (family, address) = try XCTUnwrap(IPPrefix.parseAddress(text))
            XCTAssertEqual(db.lookup(family: family, address: address).record?.continent, "EU", text)
        }
        let (family, address) = try XCTUnwrap(IPPrefix.parseAddress("8000::1"))
        XCTAssertNil(db.lookup(family: family, address: address).record)
        // and libmaxminddb agrees
        XCTAssertEqual(try MaxMindReference(path: path).lookup(family: 4, address: 0x0808_0808).record?.continent, "EU")
    }

    /// A record that points into the 16-octet separator (here node count + 15): libmaxminddb calls it
    /// a data record at offset -1 and its lookups decode garbage. (Before, it read as the walk's
    /// "no entry" sentinel: "not in the database".)
    func testRecordIntoTheSeparatorIsRefused() throws {
        XCTAssertGreaterThan(Self.continentEU.count, 16) // so that libmaxminddb does not call the record invalid itself
        assertRefused(
            Self.database(tree: Self.tree([(16, 1)]), nodeCount: 1, data: Self.continentEU),
            "corrupt search tree: a record points outside the data section (offset -1)")
    }

    func testZeroFilledTreeIsRefused() throws {
        assertRefused(Self.database(tree: [UInt8](repeating: 0, count: 4 * 6), nodeCount: 4), "corrupt search tree: an invalid record")
    }
}
