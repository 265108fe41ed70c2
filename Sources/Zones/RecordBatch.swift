import DNSWire

/// The records of one zone load in flat storage: owners interned in a `NameTable` (lower-case wire
/// form, ids in first-seen order), RDATA back to back, file names by index. A million records take a
/// few flat arrays instead of two arrays and a String reference each (`ZoneRecord`).
struct RecordBatch {
    /// One record; `owner` is a `names` id, the RDATA is `rdata[rdataOffset ..< rdataOffset + rdataLength]`.
    struct Entry {
        var owner: Int32
        var type: UInt16
        var rrClass: UInt16
        var ttl: UInt32
        var rdataOffset: UInt32
        var rdataLength: UInt16
        var file: Int32
        var line: Int32
    }

    var names: NameTable
    var rdata: [UInt8] = []
    var entries: [Entry] = []
    var files: [String] = []
    /// The last owner appended (consecutive records of one owner skip the table lookup).
    private var lastOwner: Int32 = -1

    init(expectedRecords: Int = 16) {
        names = NameTable(expectedCount: expectedRecords + 16, expectedBytes: expectedRecords * 20)
        entries.reserveCapacity(expectedRecords)
        rdata.reserveCapacity(expectedRecords * 16)
    }

    var count: Int { entries.count }

    /// Index of `path` in `files`, added when new.
    mutating func fileIndex(_ path: String) -> Int32 {
        if let last = files.last, last == path { return Int32(files.count - 1) }
        if let i = files.firstIndex(of: path) { return Int32(i) }
        files.append(path)
        return Int32(files.count - 1)
    }

    /// Appends a record; `owner` (any case, wire form) is lower-cased here. False when the RDATA does
    /// not fit the flat layout (over 65535 octets, or 4 GiB of RDATA in all).
    mutating func append(
        owner: UnsafePointer<UInt8>, ownerLength: Int, type: UInt16, rrClass: UInt16, ttl: UInt32,
        rdata data: UnsafePointer<UInt8>?, rdataLength: Int, file: Int32, line: Int
    ) -> Bool {
        guard rdataLength <= 65535, rdata.count + rdataLength <= Int(UInt32.max), ownerLength <= 65535 else { return false }
        let ownerId = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(ownerLength, 1)) { lower -> Int32 in
            WireName.lowercase(owner, length: ownerLength, into: lower.baseAddress!)
            if lastOwner >= 0
                && names.withName(
                    Int(lastOwner),
                    { p, n in
                        WireName.equal(p, n, lower.baseAddress!, ownerLength)
                    })
            {
                return lastOwner
            }
            return names.intern(lower.baseAddress!, ownerLength)
        }
        lastOwner = ownerId
        let offset = UInt32(rdata.count)
        if let data, rdataLength > 0 { rdata.append(contentsOf: UnsafeBufferPointer(start: data, count: rdataLength)) }
        entries.append(
            Entry(
                owner: ownerId, type: type, rrClass: rrClass, ttl: ttl, rdataOffset: offset,
                rdataLength: UInt16(rdataLength), file: file, line: Int32(clamping: line)))
        return true
    }

    /// A batch holding `records` (what `ZoneCompiler.compile(records:)` receives from its callers).
    init(_ records: [ZoneRecord]) {
        self.init(expectedRecords: records.count)
        for r in records { precondition(append(r), "record RDATA over 65535 octets") }
    }

    /// Appends a `ZoneRecord`; false as `append(owner:...)`.
    mutating func append(_ r: ZoneRecord) -> Bool {
        let file = fileIndex(r.file)
        return r.owner.withUnsafeBufferPointer { o in
            r.rdata.withUnsafeBufferPointer { d in
                append(
                    owner: o.baseAddress!, ownerLength: o.count, type: r.type, rrClass: r.rrClass, ttl: r.ttl,
                    rdata: d.baseAddress, rdataLength: d.count, file: file, line: r.line)
            }
        }
    }

    /// Record `i` as a `ZoneRecord`.
    func record(_ i: Int) -> ZoneRecord {
        let e = entries[i]
        return ZoneRecord(
            owner: names.name(Int(e.owner)), type: e.type, rrClass: e.rrClass, ttl: e.ttl,
            rdata: Array(rdata[Int(e.rdataOffset)..<(Int(e.rdataOffset) + Int(e.rdataLength))]),
            file: files[Int(e.file)], line: Int(e.line))
    }

    /// All records as `ZoneRecord`s, in file order.
    func records() -> [ZoneRecord] { (0..<count).map(record) }

    /// Where record `i` came from, for errors.
    func location(_ i: Int) -> (file: String, line: Int) { (files[Int(entries[i].file)], Int(entries[i].line)) }

    /// Whether the RDATA of records `a` and `b` are equal.
    func sameRDATA(_ a: Int, _ b: Int) -> Bool {
        let ea = entries[a], eb = entries[b]
        guard ea.rdataLength == eb.rdataLength else { return false }
        if ea.rdataLength == 0 { return true }
        return rdata.withUnsafeBufferPointer { all in
            memcmp(all.baseAddress! + Int(ea.rdataOffset), all.baseAddress! + Int(eb.rdataOffset), Int(ea.rdataLength)) == 0
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
