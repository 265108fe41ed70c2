import CFileCopy
import CMaxMindDB
import Glibc
import SourceFiles

/// What a geo database says about a network: the fields the steering policies use.
public struct GeoRecord: Hashable, Sendable {
    public var continent: String?
    public var country: String?
    /// ISO 3166-2 form, "US-CA".
    public var subdivision: String?
    public var latitude: Double?
    public var longitude: Double?

    public init(
        continent: String? = nil, country: String? = nil, subdivision: String? = nil,
        latitude: Double? = nil, longitude: Double? = nil
    ) {
        self.continent = continent
        self.country = country
        self.subdivision = subdivision
        self.latitude = latitude
        self.longitude = longitude
    }

    public var summary: String {
        var parts: [String] = []
        if let continent { parts.append("continent \(continent)") }
        if let country { parts.append("country \(country)") }
        if let subdivision { parts.append("subdivision \(subdivision)") }
        if let latitude, let longitude { parts.append("location \(latitude),\(longitude)") }
        return parts.isEmpty ? "no geo fields" : parts.joined(separator: ", ")
    }
}

/// The record fields a load decodes. Only what the configured policies read is decoded, so records
/// that differ only in fields nobody reads are one record, and their neighbouring networks one range
/// (GeoLite2-City for continent maps: 8 records instead of 133,652). `subdivision` is kept as
/// "US-CA", so it brings `country` with it.
public struct GeoFields: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let continent = GeoFields(rawValue: 1)
    public static let country = GeoFields(rawValue: 2)
    public static let subdivision = GeoFields(rawValue: 4 | 2)
    /// Latitude and longitude.
    public static let location = GeoFields(rawValue: 8)
    public static let all: GeoFields = [.continent, .country, .subdivision, .location]
}

/// A geo data problem (database, CIDR or latency table) at file:line (see `SourceProblem`).
public typealias GeoError = SourceProblem

/// A MaxMind-format database (GeoLite2/GeoIP2 City or Country, DB-IP lite) compiled at load into
/// one prefix partition per family whose keys index `records`.
///
/// The load reads the file once into a sealed in-memory copy (`meridian_sealed_copy`) and maps that:
/// the file on disk may be rewritten, truncated or removed at any moment, during the load or after,
/// and no mapping of it can fault. The search tree is walked once with `MMDB_read_node` (DFS, left
/// before right, so ranges come out sorted and complete); each distinct data record is decoded once
/// with `MMDB_aget_value`; then the copy is closed. Invariant: nothing of libmaxminddb, and no mapped
/// memory, outlives `init`: services compile their decision tables from the partitions, and
/// `lookup` (explain) reads the partitions and records, the data this load compiled.
public final class GeoDatabase: @unchecked Sendable {
    /// The largest database a load copies (GeoLite2-City: ~60 MB; GeoIP2-City: ~120 MB).
    public static let maxFileSize: Int64 = 1 << 30
    public let path: String
    public let databaseType: String
    public let buildEpoch: UInt64
    /// The fields `records` hold: the union of what the configured policies read.
    public let fields: GeoFields
    /// The distinct data records the partitions' keys index, with `fields` only (GeoLite2-City:
    /// 133,652 with every field, ~10 MB; 8 with continents only).
    public let records: [GeoRecord]
    /// The database's IPv4 / IPv6 partitions.
    public let v4: PrefixPartition
    public let v6: PrefixPartition

    /// Walks the whole search tree when `fields` is not empty (nothing to walk for otherwise: every
    /// network is then "not in the database").
    public init(path: String, fields: GeoFields = .all) throws {
        let copy = meridian_sealed_copy(path, GeoDatabase.maxFileSize)
        guard copy >= 0 else {
            let reason = -copy == EFBIG ? "larger than \(GeoDatabase.maxFileSize) octets" : String(cString: strerror(-copy))
            throw GeoError(file: path, reason: "cannot open MaxMind database: \(reason)")
        }
        defer { close(copy) } // the mapping made below holds the copy's pages until meridian_mmdb_close
        var status: Int32 = 0
        guard let mmdb = meridian_mmdb_open("/proc/self/fd/\(copy)", &status) else {
            throw GeoError(file: path, reason: "cannot open MaxMind database: \(String(cString: MMDB_strerror(status)))")
        }
        defer { meridian_mmdb_close(mmdb) }
        self.path = path
        databaseType = String(cString: meridian_mmdb_type(mmdb))
        buildEpoch = meridian_mmdb_build_epoch(mmdb)
        let ipVersion = Int32(meridian_mmdb_ip_version(mmdb))
        self.fields = fields
        var walker = TreeWalker(mmdb: mmdb, path: path, fields: fields)
        var v4 = PrefixPartition(width: 32, key: -1)
        var v6 = PrefixPartition(width: 128, key: -1)
        if fields.isEmpty {
            // no policy reads the database: nothing to compile from it
        } else if ipVersion == 6 {
            switch try walker.followZeros(96) {
            case let .node(v4Start):
                v4 = try walker.partition(root: v4Start, width: 32, ipv4Node: nil)
                v6 = try walker.partition(root: 0, width: 128, ipv4Node: v4Start)
            case let .leaf(key):
                // a network of ::/96 or wider holds all of IPv4 (libmaxminddb's IPv4 lookups stop there too)
                v4 = PrefixPartition(width: 32, key: key)
                v6 = try walker.partition(root: 0, width: 128, ipv4Node: nil)
            }
        } else {
            v4 = try walker.partition(root: 0, width: 32, ipv4Node: nil)
        }
        self.v4 = v4
        self.v6 = v6
        records = walker.records
    }

    /// The record for an address, and the range of the partition holding it (networks whose records
    /// agree on `fields` are one range), from the data compiled at load (for `explain`).
    public func lookup(family: Int, address: UInt128) -> (record: GeoRecord?, first: UInt128, last: UInt128) {
        let r = (family == 4 ? v4 : v6).resolve(address, ipv4: v4)
        return (r.key >= 0 ? records[Int(r.key)] : nil, r.first, r.last)
    }
}

/// libmaxminddb's own lookup on a database file (`MMDB_lookup_string`, every field decoded): an
/// independent reading for tests and fuzzing to check `GeoDatabase`'s compiled partitions against.
/// The server never uses it (it maps the file for as long as it lives).
public final class MaxMindReference {
    private let mmdb: UnsafeMutablePointer<MMDB_s>
    private let ipVersion: Int32

    public init(path: String) throws {
        var status: Int32 = 0
        guard let mmdb = meridian_mmdb_open(path, &status) else {
            throw GeoError(file: path, reason: "cannot open MaxMind database: \(String(cString: MMDB_strerror(status)))")
        }
        self.mmdb = mmdb
        ipVersion = Int32(meridian_mmdb_ip_version(mmdb))
    }

    deinit { meridian_mmdb_close(mmdb) }

    /// The record libmaxminddb finds for an address, and the database network containing it.
    public func lookup(family: Int, address: UInt128) -> (record: GeoRecord?, first: UInt128, last: UInt128) {
        var gaiError: Int32 = 0
        var mmdbError: Int32 = 0
        let result = MMDB_lookup_string(mmdb, IPPrefix.formatAddress(family: family, address), &gaiError, &mmdbError)
        let width = family == 4 ? 32 : 128
        var length = Int(result.netmask)
        if family == 4 && ipVersion == 6 { length = max(0, length - 96) }
        let mask = IPPrefix.mask(length, width: width)
        let first = address & mask
        let last = first | (~mask & IPPrefix.all(width))
        guard gaiError == 0, mmdbError == MMDB_SUCCESS, result.found_entry else { return (nil, first, last) }
        return (TreeWalker.decode(result.entry), first, last)
    }
}

/// Data-section offset -> record index, looked up once per leaf of the search tree (millions per
/// load): open addressing with linear probing and a multiplicative hash, where a `Dictionary`
/// (SipHash per lookup) was a tenth of GeoLite2-City's load time. Key and value share one 64-bit slot
/// (key in the high half), so a probe that misses cache misses once, not once per array.
/// Invariant: at most half full.
struct OffsetTable {
    private var slots: [UInt64]
    private var count = 0
    private var shift: UInt64
    /// No entry offset: a record (at most 32 bits) minus the node count and the 16-octet separator.
    private static let emptyKey = UInt32.max
    private static let empty = UInt64.max

    init(capacityBits: Int = 16) {
        slots = [UInt64](repeating: OffsetTable.empty, count: 1 << capacityBits)
        shift = UInt64(64 - capacityBits)
    }

    @inline(__always) private func slot(_ key: UInt32) -> Int {
        Int(truncatingIfNeeded: (UInt64(key) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    func value(for key: UInt32) -> Int32? {
        let mask = slots.count - 1
        var i = slot(key)
        while true {
            let s = slots[i]
            let k = UInt32(truncatingIfNeeded: s >> 32)
            if k == key { return Int32(bitPattern: UInt32(truncatingIfNeeded: s)) }
            if k == OffsetTable.emptyKey { return nil }
            i = (i + 1) & mask
        }
    }

    /// Adds `key` (not present; not `UInt32.max`).
    mutating func insert(_ key: UInt32, _ value: Int32) {
        precondition(key != OffsetTable.emptyKey)
        if (count + 1) * 2 > slots.count { grow() }
        let mask = slots.count - 1
        var i = slot(key)
        while slots[i] != OffsetTable.empty { i = (i + 1) & mask }
        slots[i] = UInt64(key) << 32 | UInt64(UInt32(bitPattern: value))
        count += 1
    }

    private mutating func grow() {
        var bigger = OffsetTable(capacityBits: slots.count.trailingZeroBitCount + 1)
        for s in slots where s != OffsetTable.empty {
            bigger.insert(UInt32(truncatingIfNeeded: s >> 32), Int32(bitPattern: UInt32(truncatingIfNeeded: s)))
        }
        self = bigger
    }
}

/// A data record's policy fields as fixed-size values, so that records already seen are recognised
/// without building Strings (GeoLite2-City: 458,435 distinct data offsets hold 133,652 distinct
/// records). Codes are ASCII packed into a word, zero-padded, with a presence bit each, so two values
/// are equal exactly when the decoded `GeoRecord`s are. A code longer than 8 octets does not fit:
/// `TreeWalker.rawFields` then returns nil and the record is decoded as Strings and not shared.
struct RawGeoFields: Hashable {
    var continent: UInt64 = 0, country: UInt64 = 0, subdivision: UInt64 = 0
    var latitude: UInt64 = 0, longitude: UInt64 = 0
    /// Bit 0 continent, 1 country, 2 subdivision, 3 latitude, 4 longitude present.
    var present: UInt8 = 0

    /// The octets of a NUL-terminated string of at most 8 octets, or nil.
    static func pack(_ s: UnsafePointer<CChar>) -> UInt64? {
        var word: UInt64 = 0
        for i in 0..<9 {
            let c = UInt8(bitPattern: s[i])
            if c == 0 { return word }
            if i == 8 { return nil }
            word |= UInt64(c) << UInt64(8 * i)
        }
        return nil
    }

    static func unpack(_ word: UInt64) -> String {
        withUnsafeBytes(of: word.littleEndian) { bytes in
            String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    var record: GeoRecord {
        var r = GeoRecord()
        if present & 1 != 0 { r.continent = RawGeoFields.unpack(continent) }
        if present & 2 != 0 { r.country = RawGeoFields.unpack(country) }
        if present & 4 != 0 {
            let sub = RawGeoFields.unpack(subdivision)
            r.subdivision = r.country.map { "\($0)-\(sub)" } ?? sub
        }
        if present & 8 != 0 { r.latitude = Double(bitPattern: latitude) }
        if present & 16 != 0 { r.longitude = Double(bitPattern: longitude) }
        return r
    }
}

/// Depth-first walk of the MMDB search tree into a `PrefixPartition`.
struct TreeWalker {
    let mmdb: UnsafeMutablePointer<MMDB_s>
    /// The database file's name, for errors (the map is of its sealed copy).
    let path: String
    let nodeCount: UInt32
    let dataSectionSize: UInt32
    let fields: GeoFields
    var records: [GeoRecord] = []
    var recordIndex = OffsetTable() // data-section offset -> record index
    var interned: [RawGeoFields: Int32] = [:]
    var lastOffset = UInt32.max // no entry's offset (see OffsetTable)
    var visited = 0 // search nodes walked (bounded: see `walk`)
    var lastKey: Int32 = -1

    init(mmdb: UnsafeMutablePointer<MMDB_s>, path: String, fields: GeoFields) {
        self.mmdb = mmdb
        self.path = path
        self.fields = fields
        nodeCount = meridian_mmdb_node_count(mmdb)
        dataSectionSize = meridian_mmdb_data_section_size(mmdb)
    }

    func read(_ node: UInt32) throws -> MMDB_search_node_s {
        var n = MMDB_search_node_s()
        let status = MMDB_read_node(mmdb, node, &n)
        guard status == MMDB_SUCCESS else {
            throw GeoError(file: path, reason: "corrupt search tree: \(String(cString: MMDB_strerror(status)))")
        }
        return n
    }

    /// Where `count` left branches from the root lead: the IPv4 subtree of an IPv6 database (::/96),
    /// or the network (a record key, -1 for none) that holds ::/96 when the tree ends above it.
    enum ZerosEnd { case node(UInt32), leaf(Int32) }

    mutating func followZeros(_ count: Int) throws -> ZerosEnd {
        var node: UInt32 = 0
        for depth in 0..<count {
            let n = try read(node)
            switch Int32(n.left_record_type) {
            case MMDB_RECORD_TYPE_SEARCH_NODE: node = UInt32(n.left_record)
            case MMDB_RECORD_TYPE_DATA: return .leaf(try recordKey(n.left_record_entry))
            case MMDB_RECORD_TYPE_EMPTY: return .leaf(-1)
            default:
                throw GeoError(
                    file: path,
                    reason: "corrupt search tree: an invalid record (\(n.left_record)) below ::/\(depth + 1)")
            }
        }
        return .node(node)
    }

    /// `ipv4Node`: in an IPv6 tree, the IPv4 subtree's node (reached at ::/96). Where the walk reaches
    /// it (::/96 itself, and the places MaxMind's writer points at it: ::ffff:0:0/96 IPv4-mapped,
    /// 2001::/32 Teredo, 2002::/16 6to4) the next 32 address bits are an IPv4 address and the rest do
    /// not matter, as in libmaxminddb's own lookups (and so `explain`): the range gets an alias key.
    mutating func partition(root: UInt32, width: Int, ipv4Node: UInt32?) throws -> PrefixPartition {
        var out = PrefixPartition(width: width, key: -1)
        try walk(root, depth: 0, prefix: 0, width: width, ipv4Node: ipv4Node, into: &out)
        return out
    }

    /// Visits the left subtree, then the right one, so ranges are appended in ascending order.
    /// Recursion depth is bounded by the address width (<= 128).
    private mutating func walk(
        _ node: UInt32, depth: Int, prefix: UInt128, width: Int, ipv4Node: UInt32?,
        into out: inout PrefixPartition
    ) throws {
        // A search tree visits each node once (the IPv4 subtree's aliases are not followed). Nodes that
        // point back up (a zero-filled tree: every record is node 0) would make the walk exponential in
        // the depth, so more visits than twice the node count mean a corrupt file.
        visited += 1
        guard visited <= 2 * Int(nodeCount) + 256 else {
            throw GeoError(
                file: path,
                reason: "corrupt search tree: nodes are reached more than once (\(nodeCount) nodes)")
        }
        let n = try read(node)
        let bit = UInt128(1) << UInt128(width - depth - 1)
        try visit(
            n.left_record_type, n.left_record, n.left_record_entry, depth: depth + 1, start: prefix,
            width: width, ipv4Node: ipv4Node, into: &out)
        try visit(
            n.right_record_type, n.right_record, n.right_record_entry, depth: depth + 1, start: prefix | bit,
            width: width, ipv4Node: ipv4Node, into: &out)
    }

    private mutating func visit(
        _ type: UInt8, _ record: UInt64, _ entry: MMDB_entry_s, depth: Int, start: UInt128,
        width: Int, ipv4Node: UInt32?, into out: inout PrefixPartition
    ) throws {
        switch Int32(type) {
        case MMDB_RECORD_TYPE_SEARCH_NODE:
            if UInt32(record) == ipv4Node, depth <= width - 32 {
                out.append(start: start, key: PrefixPartition.aliasKey(shift: width - 32 - depth))
            } else if depth >= width {
                // a node below the last address bit: libmaxminddb's lookup runs out of bits there and
                // returns the node number as if it were a data offset (garbage), so refuse the file
                throw GeoError(
                    file: path,
                    reason: "corrupt search tree: deeper than \(width) bits below \(IPPrefix.formatAddress(family: width == 32 ? 4 : 6, start))")
            } else {
                try walk(UInt32(record), depth: depth, prefix: start, width: width, ipv4Node: ipv4Node, into: &out)
            }
        case MMDB_RECORD_TYPE_DATA:
            out.append(start: start, key: try recordKey(entry))
        case MMDB_RECORD_TYPE_EMPTY: // not in the database
            out.append(start: start, key: -1)
        default: // INVALID: a pointer to node 0 or into the separator (a zero-filled or cut tree)
            throw GeoError(
                file: path,
                reason: "corrupt search tree: an invalid record (\(record)) below \(IPPrefix.formatAddress(family: width == 32 ? 4 : 6, start))/\(depth)")
        }
    }

    /// The record index for a data entry, decoding each distinct data offset once. Neighbouring
    /// leaves often share an entry (31 % of GeoLite2-City's 3.4 million), so the last one is kept.
    mutating func recordKey(_ entry: MMDB_entry_s) throws -> Int32 {
        // libmaxminddb calls a record that points into the 16-octet separator a data record too, with
        // an offset below the data section (as UInt32: 2^32 - 16 and up); its lookups then decode
        // garbage. Invariant below: offsets lie within the data section (so never `UInt32.max`).
        guard entry.offset < dataSectionSize else {
            throw GeoError(
                file: path,
                reason: "corrupt search tree: a record points outside the data section (offset \(Int32(bitPattern: entry.offset)))")
        }
        if entry.offset == lastOffset { return lastKey }
        let key: Int32
        if let k = recordIndex.value(for: entry.offset) {
            key = k
        } else {
            let raw = TreeWalker.rawFields(entry, fields)
            if let raw, let existing = interned[raw] {
                key = existing
            } else {
                key = Int32(records.count)
                records.append(raw?.record ?? TreeWalker.decode(entry, fields))
                if let raw { interned[raw] = key }
            }
            recordIndex.insert(entry.offset, key)
        }
        lastOffset = entry.offset
        lastKey = key
        return key
    }

    /// The `fields` of a data entry as `RawGeoFields` (no Strings), or nil when a code is longer than
    /// 8 octets. Reads the same paths as `decode`.
    static func rawFields(_ entry: MMDB_entry_s, _ fields: GeoFields) -> RawGeoFields? {
        var raw = RawGeoFields()
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0)) // 32 octets: longer codes do not fit anyway
        return withUnsafeMutableBytes(of: &buffer) { bytes -> RawGeoFields? in
            let out = bytes.baseAddress!.assumingMemoryBound(to: CChar.self)
            func code(_ a: StaticString, _ b: StaticString, _ third: StaticString?, bit: UInt8) -> UInt64?? {
                guard fields.rawValue & bit != 0,
                    meridian_mmdb_string(entry, cString(a), cString(b), third.map(cString), out, bytes.count) == 1
                else { return .some(nil) }
                raw.present |= bit
                guard let word = RawGeoFields.pack(out) else { return nil } // does not fit
                return .some(word)
            }
            guard let continent = code("continent", "code", nil, bit: 1),
                let country = code("country", "iso_code", nil, bit: 2),
                let subdivision = code("subdivisions", "0", "iso_code", bit: 4)
            else { return nil }
            raw.continent = continent ?? 0
            raw.country = country ?? 0
            raw.subdivision = subdivision ?? 0
            var value = 0.0
            guard fields.contains(.location) else { return raw }
            if meridian_mmdb_double(entry, cString("location"), cString("latitude"), &value) == 1 {
                raw.present |= 8
                raw.latitude = value.bitPattern
            }
            if meridian_mmdb_double(entry, cString("location"), cString("longitude"), &value) == 1 {
                raw.present |= 16
                raw.longitude = value.bitPattern
            }
            return raw
        }
    }

    /// A static string's bytes as a C string (string literals: NUL-terminated, checked).
    static func cString(_ s: StaticString) -> UnsafePointer<CChar> {
        precondition(s.hasPointerRepresentation)
        return UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    /// The fields the policies use, read with MMDB_aget_value.
    /// (Once per distinct data record, hundreds of thousands per load: the path names are static C
    /// strings, where Swift strings were converted to C strings on every call.)
    static func decode(_ entry: MMDB_entry_s, _ fields: GeoFields = .all) -> GeoRecord {
        var record = GeoRecord()
        var buffer = [CChar](repeating: 0, count: 64)
        let c = cString
        func text(_ a: StaticString, _ b: StaticString, _ third: StaticString?) -> String? {
            let ok = meridian_mmdb_string(entry, c(a), c(b), third.map(c), &buffer, buffer.count)
            guard ok == 1 else { return nil }
            return String(cString: buffer) // NUL-terminated by the shim
        }
        if fields.contains(.continent) { record.continent = text("continent", "code", nil) }
        if fields.contains(.country) { record.country = text("country", "iso_code", nil) }
        if fields.contains(.subdivision), let sub = text("subdivisions", "0", "iso_code") {
            record.subdivision = record.country.map { "\($0)-\(sub)" } ?? sub
        }
        var value = 0.0
        guard fields.contains(.location) else { return record }
        if meridian_mmdb_double(entry, c("location"), c("latitude"), &value) == 1 { record.latitude = value }
        if meridian_mmdb_double(entry, c("location"), c("longitude"), &value) == 1 { record.longitude = value }
        return record
    }
}
