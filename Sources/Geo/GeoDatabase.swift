import SourceFiles
import CMaxMindDB

/// What a geo database says about a network: the fields the steering policies use.
public struct GeoRecord: Hashable, Sendable {
    public var continent: String?
    public var country: String?
    /// ISO 3166-2 form, "US-CA".
    public var subdivision: String?
    public var latitude: Double?
    public var longitude: Double?

    public init(continent: String? = nil, country: String? = nil, subdivision: String? = nil,
                latitude: Double? = nil, longitude: Double? = nil) {
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

/// A geo data problem (database, CIDR or latency table) at file:line (see `SourceProblem`).
public typealias GeoError = SourceProblem

/// A MaxMind-format database (GeoLite2/GeoIP2 City or Country, DB-IP lite) compiled at load into
/// one prefix partition per family whose keys index `records`.
///
/// The search tree is walked once with `MMDB_read_node` (DFS, left before right, so ranges come out
/// sorted and complete); each distinct data record is decoded once with `MMDB_aget_value`. Nothing
/// of libmaxminddb is used after load, so the query path never touches it.
public final class GeoDatabase: @unchecked Sendable {
    public let path: String
    public let databaseType: String
    public let buildEpoch: UInt64
    /// The distinct data records the partitions' keys index (133,652 for GeoLite2-City, ~10 MB).
    /// Needed only while services compile; emptied by `releaseCompileInputs()`.
    public private(set) var records: [GeoRecord]
    /// The open database (memory-mapped; pages are resident only when read): `lookup` uses it once the
    /// partitions are released.
    private(set) var mmdb: UnsafeMutablePointer<MMDB_s>
    let ipVersion: Int32
    /// The compiled partitions, needed only while services compile. Invariant: released (set to nil)
    /// only by `releaseCompileInputs()` before the database is shared with any other thread.
    private var partitions: (v4: PrefixPartition, v6: PrefixPartition)?

    public init(path: String) throws {
        var status: Int32 = 0
        guard let mmdb = meridian_mmdb_open(path, &status) else {
            throw GeoError(file: path, reason: "cannot open MaxMind database: \(String(cString: MMDB_strerror(status)))")
        }
        self.mmdb = mmdb
        self.path = path
        databaseType = String(cString: meridian_mmdb_type(mmdb))
        buildEpoch = meridian_mmdb_build_epoch(mmdb)
        ipVersion = Int32(meridian_mmdb_ip_version(mmdb))
        var walker = TreeWalker(mmdb: mmdb)
        let v4: PrefixPartition
        let v6: PrefixPartition
        do {
            if ipVersion == 6 {
                let v4Start = try walker.followZeros(96)
                v4 = try v4Start.map { try walker.partition(root: $0, width: 32, ipv4Node: nil) }
                    ?? PrefixPartition(width: 32, key: -1)
                v6 = try walker.partition(root: 0, width: 128, ipv4Node: v4Start)
            } else {
                v4 = try walker.partition(root: 0, width: 32, ipv4Node: nil)
                v6 = PrefixPartition(width: 128, key: -1)
            }
        } catch {
            meridian_mmdb_close(mmdb)
            throw error
        }
        partitions = (v4, v6)
        records = walker.records
    }

    deinit { meridian_mmdb_close(mmdb) }

    /// The database's IPv4 / IPv6 partitions (empty after `releaseCompileInputs()`).
    public var v4: PrefixPartition { partitions?.v4 ?? PrefixPartition(width: 32, key: -1) }
    public var v6: PrefixPartition { partitions?.v6 ?? PrefixPartition(width: 128, key: -1) }

    /// Frees the partitions and the decoded records once every service is compiled (they are the
    /// bulk of the memory: each service keeps its own merged decision tables, and a reload walks
    /// the database afresh). `lookup` then reads the mapped file.
    /// The walk touched every page of the mapped file, and resident file pages count in RSS: the file
    /// is mapped afresh so that only the pages later lookups read become resident.
    public func releaseCompileInputs() {
        partitions = nil
        records = []
        var status: Int32 = 0
        if let fresh = meridian_mmdb_open(path, &status) {
            meridian_mmdb_close(mmdb)
            mmdb = fresh
        }
    }

    /// The record for an address, and the database network containing it (for `explain`).
    public func lookup(family: Int, address: UInt128) -> (record: GeoRecord?, first: UInt128, last: UInt128) {
        if let partitions {
            let r = (family == 4 ? partitions.v4 : partitions.v6).resolve(address, ipv4: partitions.v4)
            return (r.key >= 0 ? records[Int(r.key)] : nil, r.first, r.last)
        }
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
/// (SipHash per lookup) was a tenth of GeoLite2-City's load time. Invariant: at most half full.
struct OffsetTable {
    private var keys: [UInt32]
    private var values: [Int32]
    private var count = 0
    private var shift: UInt64
    /// No entry offset: a record (at most 32 bits) minus the node count and the 16-octet separator.
    private static let empty = UInt32.max

    init(capacityBits: Int = 16) {
        keys = [UInt32](repeating: OffsetTable.empty, count: 1 << capacityBits)
        values = [Int32](repeating: 0, count: 1 << capacityBits)
        shift = UInt64(64 - capacityBits)
    }

    @inline(__always) private func slot(_ key: UInt32) -> Int {
        Int(truncatingIfNeeded: (UInt64(key) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    func value(for key: UInt32) -> Int32? {
        let mask = keys.count - 1
        var i = slot(key)
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == OffsetTable.empty { return nil }
            i = (i + 1) & mask
        }
    }

    /// Adds `key` (not present; not `UInt32.max`).
    mutating func insert(_ key: UInt32, _ value: Int32) {
        precondition(key != OffsetTable.empty)
        if (count + 1) * 2 > keys.count { grow() }
        let mask = keys.count - 1
        var i = slot(key)
        while keys[i] != OffsetTable.empty { i = (i + 1) & mask }
        keys[i] = key
        values[i] = value
        count += 1
    }

    private mutating func grow() {
        var bigger = OffsetTable(capacityBits: keys.count.trailingZeroBitCount + 1)
        for i in keys.indices where keys[i] != OffsetTable.empty { bigger.insert(keys[i], values[i]) }
        self = bigger
    }
}

/// Depth-first walk of the MMDB search tree into a `PrefixPartition`.
struct TreeWalker {
    let mmdb: UnsafeMutablePointer<MMDB_s>
    let nodeCount: UInt32
    var records: [GeoRecord] = []
    var recordIndex = OffsetTable() // data-section offset -> record index
    var interned: [GeoRecord: Int32] = [:]

    init(mmdb: UnsafeMutablePointer<MMDB_s>) {
        self.mmdb = mmdb
        nodeCount = meridian_mmdb_node_count(mmdb)
    }

    func read(_ node: UInt32) throws -> MMDB_search_node_s {
        var n = MMDB_search_node_s()
        let status = MMDB_read_node(mmdb, node, &n)
        guard status == MMDB_SUCCESS else {
            throw GeoError(file: String(cString: mmdb.pointee.filename), reason: "corrupt search tree: \(String(cString: MMDB_strerror(status)))")
        }
        return n
    }

    /// Follows `count` left branches from the root: the IPv4 subtree of an IPv6 database (::/96).
    func followZeros(_ count: Int) throws -> UInt32? {
        var node: UInt32 = 0
        for _ in 0..<count {
            let n = try read(node)
            guard Int32(n.left_record_type) == MMDB_RECORD_TYPE_SEARCH_NODE else { return nil }
            node = UInt32(n.left_record)
        }
        return node
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
    private mutating func walk(_ node: UInt32, depth: Int, prefix: UInt128, width: Int, ipv4Node: UInt32?,
                               into out: inout PrefixPartition) throws {
        let n = try read(node)
        let bit = UInt128(1) << UInt128(width - depth - 1)
        try visit(n.left_record_type, n.left_record, n.left_record_entry, depth: depth + 1, start: prefix,
                  width: width, ipv4Node: ipv4Node, into: &out)
        try visit(n.right_record_type, n.right_record, n.right_record_entry, depth: depth + 1, start: prefix | bit,
                  width: width, ipv4Node: ipv4Node, into: &out)
    }

    private mutating func visit(_ type: UInt8, _ record: UInt64, _ entry: MMDB_entry_s, depth: Int, start: UInt128,
                                width: Int, ipv4Node: UInt32?, into out: inout PrefixPartition) throws {
        switch Int32(type) {
        case MMDB_RECORD_TYPE_SEARCH_NODE:
            if UInt32(record) == ipv4Node, depth <= width - 32 {
                out.append(start: start, key: PrefixPartition.aliasKey(shift: width - 32 - depth))
            } else if depth >= width {
                out.append(start: start, key: -1)
            } else {
                try walk(UInt32(record), depth: depth, prefix: start, width: width, ipv4Node: ipv4Node, into: &out)
            }
        case MMDB_RECORD_TYPE_DATA:
            out.append(start: start, key: try recordKey(entry))
        default: // EMPTY: not in the database
            out.append(start: start, key: -1)
        }
    }

    /// The record index for a data entry, decoding each distinct record once.
    mutating func recordKey(_ entry: MMDB_entry_s) throws -> Int32 {
        if let k = recordIndex.value(for: entry.offset) { return k }
        let record = TreeWalker.decode(entry)
        let key: Int32
        if let existing = interned[record] {
            key = existing
        } else {
            key = Int32(records.count)
            records.append(record)
            interned[record] = key
        }
        recordIndex.insert(entry.offset, key)
        return key
    }

    /// The fields the policies use, read with MMDB_aget_value.
    /// (Once per distinct data record, hundreds of thousands per load: the path names are static C
    /// strings, where Swift strings were converted to C strings on every call.)
    static func decode(_ entry: MMDB_entry_s) -> GeoRecord {
        var record = GeoRecord()
        var buffer = [CChar](repeating: 0, count: 64)
        func c(_ s: StaticString) -> UnsafePointer<CChar> {
            precondition(s.hasPointerRepresentation) // string literals (a single-scalar one too, checked)
            return UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
        }
        func text(_ a: StaticString, _ b: StaticString, _ third: StaticString?) -> String? {
            let ok = meridian_mmdb_string(entry, c(a), c(b), third.map(c), &buffer, buffer.count)
            guard ok == 1 else { return nil }
            return String(cString: buffer) // NUL-terminated by the shim
        }
        record.continent = text("continent", "code", nil)
        record.country = text("country", "iso_code", nil)
        if let sub = text("subdivisions", "0", "iso_code") {
            record.subdivision = record.country.map { "\($0)-\(sub)" } ?? sub
        }
        var value = 0.0
        if meridian_mmdb_double(entry, c("location"), c("latitude"), &value) == 1 { record.latitude = value }
        if meridian_mmdb_double(entry, c("location"), c("longitude"), &value) == 1 { record.longitude = value }
        return record
    }
}
