import DNSWire

/// Checks zone data and compiles it into a `CompiledZone` (control plane: runs at load, may allocate).
///
/// Load-time rules, each reported as file:line: records must be class IN and inside the zone; exactly
/// one SOA, at the apex; NS at the apex; a CNAME owner holds no other data (RFC 1034 §3.6.2, RFC 2181
/// §10.1) and only one CNAME; DNAME is refused until it is implemented. Duplicate records are merged and
/// an RRset takes the lowest TTL of its records (RFC 2181 §5.2).
public enum ZoneCompiler {
    /// Types that may sit beside a CNAME (DNSSEC metadata, RFC 4035 §2.5).
    static let cnameCompanions: Set<UInt16> = [46, 47] // RRSIG, NSEC

    /// `extraOwners` (lower-case wire names inside the zone) become nodes even without records: GSLB
    /// service names that have no static records.
    public static func compile(
        origin originText: String, records: [ZoneRecord], file: String,
        extraOwners: [[UInt8]] = []
    ) throws -> CompiledZone {
        var batch = RecordBatch(records)
        return try compile(origin: originText, batch: &batch, file: file, extraOwners: extraOwners)
    }

    // Owners are interned once into the batch's `NameTable` (ids in first-seen order, bytes back to
    // back, the node names as they stand); records are grouped by (owner, type, file order) with a
    // counting sort on the owner id: a million-record zone compiles without a dictionary, an array or a
    // sort comparison per record, and the tables are written straight into the zone's buffers.
    static func compile(
        origin originText: String, batch: inout RecordBatch, file: String,
        extraOwners: [[UInt8]], serial newSerial: ((UInt32) -> UInt32)? = nil
    ) throws -> CompiledZone {
        guard let origin = WireName.fromText(originText) else {
            throw ZoneError(file: file, line: 0, reason: "invalid zone origin '\(originText)'")
        }
        let canonicalOrigin = WireName.toText(origin)
        let count = batch.count
        func isInside(_ name: UnsafePointer<UInt8>, _ length: Int) -> Bool {
            origin.withUnsafeBufferPointer { z in WireName.isSubdomain(name, length, of: z.baseAddress!, z.count) }
        }
        func fail(_ i: Int, _ reason: String) -> ZoneError {
            let at = batch.location(i)
            return ZoneError(file: at.file, line: at.line, reason: reason)
        }

        // 1. per-record checks, in file order (whether an owner is inside the zone: once per owner)
        let ownersWithData = batch.names.count
        var inside = [UInt8](repeating: 0, count: ownersWithData) // 0 unknown, 1 inside, 2 outside
        for i in 0..<count {
            let e = batch.entries[i]
            guard e.rrClass == DNSClass.in else { throw fail(i, "class \(e.rrClass) record; only IN is served") }
            let o = Int(e.owner)
            if inside[o] == 0 { inside[o] = batch.names.withName(o) { isInside($0, $1) } ? 1 : 2 }
            guard inside[o] == 1 else {
                throw fail(i, "out-of-zone data: \(WireName.toText(batch.names.name(o))) is not in zone \(canonicalOrigin)")
            }
            switch e.type {
            case 39: throw fail(i, "DNAME is not supported")
            case DNSType.opt, 128...255: throw fail(i, "type \(e.type) cannot appear in zone data")
            default: break
            }
        }

        // group: records ordered by (owner id, type, position) -- counting sort on the owner (stable),
        // then insertion sort by type inside the owners with several records
        var firstRecordOf = [Int32](repeating: 0, count: ownersWithData + 1)
        var order = [Int32](repeating: 0, count: count)
        batch.entries.withUnsafeBufferPointer { entries in
            for e in entries { firstRecordOf[Int(e.owner) + 1] += 1 }
            for o in 0..<ownersWithData { firstRecordOf[o + 1] += firstRecordOf[o] }
            var next = firstRecordOf
            for i in 0..<count {
                let o = Int(entries[i].owner)
                order[Int(next[o])] = Int32(i)
                next[o] += 1
            }
            for o in 0..<ownersWithData where firstRecordOf[o + 1] - firstRecordOf[o] > 1 {
                let lo = Int(firstRecordOf[o]), hi = Int(firstRecordOf[o + 1])
                var k = lo + 1
                while k < hi {
                    let item = order[k], type = entries[Int(item)].type
                    var j = k
                    while j > lo && entries[Int(order[j - 1])].type > type { order[j] = order[j - 1]; j -= 1 }
                    order[j] = item
                    k += 1
                }
            }
        }
        struct SetRange { let type: UInt16; let start: Int32; let end: Int32 }
        var sets: [SetRange] = []
        sets.reserveCapacity(ownersWithData)
        var firstSetOf = [Int32](repeating: 0, count: ownersWithData + 1)
        for owner in 0..<ownersWithData {
            firstSetOf[owner] = Int32(sets.count)
            var k = Int(firstRecordOf[owner])
            let end = Int(firstRecordOf[owner + 1])
            while k < end {
                let type = batch.entries[Int(order[k])].type
                let start = k
                while k < end && batch.entries[Int(order[k])].type == type { k += 1 }
                sets.append(SetRange(type: type, start: Int32(start), end: Int32(k)))
            }
        }
        firstSetOf[ownersWithData] = Int32(sets.count)
        firstRecordOf = []
        func setsOf(_ owner: Int) -> ArraySlice<SetRange> {
            owner < ownersWithData ? sets[Int(firstSetOf[owner])..<Int(firstSetOf[owner + 1])] : []
        }
        func indices(_ set: SetRange) -> [Int] { order[Int(set.start)..<Int(set.end)].map { Int($0) } }
        func ownerOf(_ set: SetRange) -> Int { Int(batch.entries[Int(order[Int(set.start)])].owner) }

        // 2. apex: one SOA, NS present; SOA nowhere else
        let apexFound = origin.withUnsafeBufferPointer { batch.names.find($0.baseAddress!, $0.count) }
        let apexId: Int? = apexFound >= 0 && Int(apexFound) < ownersWithData ? Int(apexFound) : nil
        guard let apexId, let soaSet = setsOf(apexId).first(where: { $0.type == DNSType.soa }) else {
            throw ZoneError(file: file, line: 0, reason: "zone \(canonicalOrigin) has no SOA record at its apex")
        }
        let soaRecords = indices(soaSet)
        guard soaRecords.count == 1 else { throw fail(soaRecords[1], "more than one SOA record at the apex") }
        guard setsOf(apexId).contains(where: { $0.type == DNSType.ns }) else {
            throw ZoneError(file: file, line: 0, reason: "zone \(canonicalOrigin) has no NS records at its apex")
        }
        for set in sets where set.type == DNSType.soa && ownerOf(set) != apexId {
            throw fail(Int(order[Int(set.start)]), "SOA record below the apex (\(WireName.toText(batch.names.name(ownerOf(set)))))")
        }
        var soa = batch.record(soaRecords[0])
        guard soa.rdata.count >= 22 else { throw ZoneError(file: soa.file, line: soa.line, reason: "malformed SOA") }
        if let newSerial {
            // the serial is the fifth-last 32-bit field of the SOA RDATA (RFC 1035 §3.3.13)
            let at = Int(batch.entries[soaRecords[0]].rdataOffset) + soa.rdata.count - 20
            let value = newSerial(batch.rdata[at..<(at + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            for i in 0..<4 { batch.rdata[at + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * i)) }
            soa = batch.record(soaRecords[0])
        }

        // 3. CNAME rules
        for set in sets where set.type == DNSType.cname {
            let owner = ownerOf(set)
            let cnames = indices(set)
            if cnames.count > 1 {
                throw fail(cnames[1], "more than one CNAME at \(WireName.toText(batch.names.name(owner)))")
            }
            if let other = setsOf(owner).first(where: { $0.type != DNSType.cname && !cnameCompanions.contains($0.type) }) {
                throw fail(cnames[0], "CNAME at \(WireName.toText(batch.names.name(owner))) beside other data (type \(other.type))")
            }
            if owner == apexId { throw fail(cnames[0], "CNAME at the zone apex") }
        }

        // 4. every ancestor between an owner and the apex is a node (empty non-terminals)
        for extra in extraOwners where extra.count >= origin.count {
            extra.withUnsafeBufferPointer { e in
                if isInside(e.baseAddress!, e.count) { _ = batch.names.intern(e.baseAddress!, e.count) }
            }
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 65536) { scratch in
            let s = scratch.baseAddress!
            var i = 0
            while i < batch.names.count {
                var length = batch.names.withName(i) { p, n in
                    s.update(from: p, count: n); return n
                }
                var start = 0
                while length > origin.count {
                    let skip = Int(s[start]) + 1
                    start += skip
                    length -= skip
                    if batch.names.find(s + start, length) >= 0 { break } // its ancestors are interned already
                    _ = batch.names.intern(s + start, length)
                }
                i += 1
            }
        }
        let nodeCount = batch.names.count

        // 5. encode, straight into the zone's buffers: each set's records (duplicates merged, the
        // lowest TTL for all, RFC 2181 §5.2) as TYPE CLASS TTL RDLENGTH RDATA
        var bodyBytes = 0
        for e in batch.entries { bodyBytes += 10 + Int(e.rdataLength) }
        bodyBytes += 10 + soa.rdata.count
        let data = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bodyBytes)
        let rrsets = UnsafeMutableBufferPointer<PreparedRRSet>.allocate(capacity: max(sets.count, 1))
        let nodes = UnsafeMutableBufferPointer<ZoneNode>.allocate(capacity: max(nodeCount, 1))
        var handedOver = false
        defer { if !handedOver { data.deallocate(); rrsets.deallocate(); nodes.deallocate() } }
        var dataCount = 0
        var rrsetCount = 0
        var firstSets = [Int32](repeating: 0, count: nodeCount)
        var setCounts = [UInt16](repeating: 0, count: nodeCount)
        var flagsList = [UInt8](repeating: 0, count: nodeCount)
        var recordCount = 0
        var unique: [Int] = []
        try batch.rdata.withUnsafeBufferPointer { rdataAll in
            func put(_ type: UInt16, _ ttl: UInt32, _ e: RecordBatch.Entry) {
                dataCount =
                    writeBody(
                        data.baseAddress! + dataCount, type: type, ttl: ttl,
                        rdata: rdataAll.baseAddress.map { $0 + Int(e.rdataOffset) }, length: Int(e.rdataLength)) + dataCount
            }
            for id in 0..<nodeCount {
                firstSets[id] = Int32(rrsetCount)
                let own = setsOf(id)
                var flags: UInt8 = id == apexId ? ZoneNode.apex : 0
                for set in own {
                    if set.type == DNSType.ns && id != apexId { flags |= ZoneNode.delegation }
                    if set.type == DNSType.cname { flags |= ZoneNode.alias }
                }
                flagsList[id] = flags
                for set in own {
                    let start = dataCount
                    if set.end - set.start == 1 {
                        let e = batch.entries[Int(order[Int(set.start)])]
                        put(set.type, e.ttl, e)
                        rrsets[rrsetCount] = PreparedRRSet(type: set.type, records: 1, offset: Int32(start), length: Int32(dataCount - start))
                        rrsetCount += 1
                        recordCount += 1
                        continue
                    }
                    unique.removeAll(keepingCapacity: true)
                    for idx in order[Int(set.start)..<Int(set.end)] where !unique.contains(where: { batch.sameRDATA($0, Int(idx)) }) {
                        unique.append(Int(idx))
                    }
                    guard unique.count <= 65535 else { throw fail(unique[0], "RRset too large") }
                    var ttl = UInt32.max
                    for idx in unique { ttl = min(ttl, batch.entries[idx].ttl) }
                    for idx in unique { put(set.type, ttl, batch.entries[idx]) }
                    rrsets[rrsetCount] = PreparedRRSet(
                        type: set.type, records: UInt16(unique.count), offset: Int32(start),
                        length: Int32(dataCount - start))
                    rrsetCount += 1
                    recordCount += unique.count
                }
                setCounts[id] = UInt16(rrsetCount - Int(firstSets[id]))
            }
        }

        // negative-answer SOA: TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §3)
        let minimum = soa.rdata.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let serial = soa.rdata.dropLast(16).suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let negStart = dataCount
        dataCount += soa.rdata.withUnsafeBufferPointer {
            writeBody(data.baseAddress! + dataCount, type: DNSType.soa, ttl: min(soa.ttl, minimum), rdata: $0.baseAddress, length: $0.count)
        }
        let negativeSOA = PreparedRRSet(type: DNSType.soa, records: 1, offset: Int32(negStart), length: Int32(dataCount - negStart))

        // 6. wildcard children and referral glue. The wildcard child of X is "*.X" (RFC 4592 §2.1.1),
        // found from the "*" names rather than looked up for every name.
        var wildcardOf = [Int32](repeating: -1, count: nodeCount)
        for id in 0..<nodeCount {
            let parent = batch.names.withName(id) { p, n -> Int32 in
                n > 2 && p[0] == 1 && p[1] == 0x2A ? batch.names.find(p + 2, n - 2) : -1
            }
            if parent >= 0 { wildcardOf[Int(parent)] = Int32(id) }
        }
        var glue: [GlueRef] = []
        for id in 0..<nodeCount {
            let glueStart = Int32(glue.count)
            if flagsList[id] & ZoneNode.delegation != 0, let nsSet = setsOf(id).first(where: { $0.type == DNSType.ns }) {
                var seen = Set<[UInt8]>()
                for idx in indices(nsSet) {
                    let ns = batch.record(idx)
                    var target = ns.rdata
                    WireName.lowercase(ns.rdata, length: ns.rdata.count, into: &target)
                    guard seen.insert(target).inserted else { continue }
                    let t = target.withUnsafeBufferPointer { batch.names.find($0.baseAddress!, $0.count) }
                    guard t >= 0 else { continue }
                    for type in [DNSType.a, DNSType.aaaa] {
                        let first = Int(firstSets[Int(t)])
                        for r in first..<(first + Int(setCounts[Int(t)])) where rrsets[r].type == type {
                            glue.append(GlueRef(node: t, rrset: Int32(r)))
                        }
                    }
                }
            }
            (nodes.baseAddress! + id).initialize(
                to: ZoneNode(
                    nameOffset: batch.names.offsets[id], nameLength: batch.names.lengths[id], firstRRSet: firstSets[id],
                    rrsetCount: setCounts[id], flags: flagsList[id], wildcardChild: wildcardOf[id],
                    glueStart: glueStart, glueCount: UInt16(glue.count - Int(glueStart))))
        }
        handedOver = true
        return CompiledZone(
            origin: origin, originText: canonicalOrigin, serial: serial, apexNode: Int32(apexId),
            negativeSOA: negativeSOA, recordCount: recordCount,
            adoptingNodes: UnsafeBufferPointer(rebasing: nodes[0..<nodeCount]),
            rrsets: UnsafeBufferPointer(rebasing: rrsets[0..<rrsetCount]), glue: glue,
            names: batch.names.bytes, data: UnsafeBufferPointer(rebasing: data[0..<dataCount]))
    }

    /// Writes TYPE CLASS(IN) TTL RDLENGTH RDATA at `out` (RFC 1035 §4.1.3); returns the bytes written.
    @inline(__always)
    static func writeBody(_ out: UnsafeMutablePointer<UInt8>, type: UInt16, ttl: UInt32, rdata: UnsafePointer<UInt8>?, length: Int) -> Int {
        out[0] = UInt8(type >> 8); out[1] = UInt8(type & 0xFF)
        out[2] = 0; out[3] = 1
        out[4] = UInt8(ttl >> 24); out[5] = UInt8((ttl >> 16) & 0xFF)
        out[6] = UInt8((ttl >> 8) & 0xFF); out[7] = UInt8(ttl & 0xFF)
        out[8] = UInt8(length >> 8); out[9] = UInt8(length & 0xFF)
        if let rdata, length > 0 { (out + 10).update(from: rdata, count: length) }
        return 10 + length
    }

    /// Reads a master file with ldns and compiles it, with `extraRecords` added (a signed zone's
    /// DNSKEY and NSEC3PARAM) and the SOA serial replaced by `serial(file's serial)` when given (a
    /// signed zone's serial policy).
    public static func load(
        path: String, origin: String, extraOwners: [[UInt8]] = [], extraRecords: [ZoneRecord] = [],
        serial: ((UInt32) -> UInt32)? = nil
    ) throws -> CompiledZone {
        var batch = try ZoneFileReader.readBatch(path: path, origin: origin)
        for record in extraRecords { precondition(batch.append(record), "record RDATA over 65535 octets") }
        return try compile(origin: origin, batch: &batch, file: path, extraOwners: extraOwners, serial: serial)
    }
}
