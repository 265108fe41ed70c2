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
    public static func compile(origin originText: String, records: [ZoneRecord], file: String,
                               extraOwners: [[UInt8]] = []) throws -> CompiledZone {
        guard let origin = WireName.fromText(originText) else {
            throw ZoneError(file: file, line: 0, reason: "invalid zone origin '\(originText)'")
        }
        let canonicalOrigin = WireName.toText(origin)

        // Names are interned once (a 64-bit FNV hash feeds the dictionary, not every byte), records
        // are ordered by (owner, type, file order) with integer comparisons: a million-record zone
        // compiles without a dictionary per owner.
        var nameIds: [NameKey: Int32] = [:]
        nameIds.reserveCapacity(records.count + extraOwners.count + 16)
        var names: [[UInt8]] = []
        func intern(_ name: [UInt8]) -> Int32 {
            let key = NameKey(name)
            if let id = nameIds[key] { return id }
            let id = Int32(names.count)
            nameIds[key] = id
            names.append(name)
            return id
        }
        func isInside(_ name: [UInt8]) -> Bool {
            name.withUnsafeBufferPointer { o in
                origin.withUnsafeBufferPointer { z in WireName.isSubdomain(o.baseAddress!, o.count, of: z.baseAddress!, z.count) }
            }
        }

        // 1. per-record checks, in file order
        var ownerOf = [Int32](repeating: 0, count: records.count)
        for (i, r) in records.enumerated() {
            guard r.rrClass == DNSClass.in else {
                throw ZoneError(file: r.file, line: r.line, reason: "class \(r.rrClass) record; only IN is served")
            }
            guard isInside(r.owner) else {
                throw ZoneError(file: r.file, line: r.line,
                                reason: "out-of-zone data: \(WireName.toText(r.owner)) is not in zone \(canonicalOrigin)")
            }
            switch r.type {
            case 39: throw ZoneError(file: r.file, line: r.line, reason: "DNAME is not supported")
            case DNSType.opt, 128...255:
                throw ZoneError(file: r.file, line: r.line, reason: "type \(r.type) cannot appear in zone data")
            default: break
            }
            ownerOf[i] = intern(r.owner)
        }
        let ownersWithData = names.count

        // group: records sorted by (owner id, type, position); sets as ranges of that order
        var order = Array(0..<records.count)
        order.sort { a, b in
            let oa = ownerOf[a], ob = ownerOf[b]
            if oa != ob { return oa < ob }
            let ta = records[a].type, tb = records[b].type
            return ta != tb ? ta < tb : a < b
        }
        struct SetRange { let type: UInt16; let start: Int; let end: Int }
        var sets: [SetRange] = []
        var firstSetOf = [Int](repeating: 0, count: ownersWithData)
        var setCountOf = [Int](repeating: 0, count: ownersWithData)
        var k = 0
        while k < order.count {
            let owner = Int(ownerOf[order[k]])
            firstSetOf[owner] = sets.count
            while k < order.count && Int(ownerOf[order[k]]) == owner {
                let type = records[order[k]].type
                let start = k
                while k < order.count && Int(ownerOf[order[k]]) == owner && records[order[k]].type == type { k += 1 }
                sets.append(SetRange(type: type, start: start, end: k))
            }
            setCountOf[owner] = sets.count - firstSetOf[owner]
        }
        func setsOf(_ owner: Int) -> ArraySlice<SetRange> {
            owner < ownersWithData ? sets[firstSetOf[owner]..<(firstSetOf[owner] + setCountOf[owner])] : []
        }
        func recordsOf(_ set: SetRange) -> [ZoneRecord] { order[set.start..<set.end].map { records[$0] } }

        // 2. apex: one SOA, NS present; SOA nowhere else
        let apexId = nameIds[NameKey(origin)].map(Int.init)
        guard let apexId, let soaSet = setsOf(apexId).first(where: { $0.type == DNSType.soa }) else {
            throw ZoneError(file: file, line: 0, reason: "zone \(canonicalOrigin) has no SOA record at its apex")
        }
        let soaRecords = recordsOf(soaSet)
        guard soaRecords.count == 1 else {
            throw ZoneError(file: soaRecords[1].file, line: soaRecords[1].line, reason: "more than one SOA record at the apex")
        }
        guard setsOf(apexId).contains(where: { $0.type == DNSType.ns }) else {
            throw ZoneError(file: file, line: 0, reason: "zone \(canonicalOrigin) has no NS records at its apex")
        }
        for set in sets where set.type == DNSType.soa && Int(ownerOf[order[set.start]]) != apexId {
            let soa = records[order[set.start]]
            throw ZoneError(file: soa.file, line: soa.line, reason: "SOA record below the apex (\(WireName.toText(soa.owner)))")
        }
        let soa = soaRecords[0]
        guard soa.rdata.count >= 22 else { throw ZoneError(file: soa.file, line: soa.line, reason: "malformed SOA") }

        // 3. CNAME rules
        for set in sets where set.type == DNSType.cname {
            let owner = Int(ownerOf[order[set.start]])
            let cnames = recordsOf(set)
            if cnames.count > 1 {
                throw ZoneError(file: cnames[1].file, line: cnames[1].line,
                                reason: "more than one CNAME at \(WireName.toText(names[owner]))")
            }
            if let other = setsOf(owner).first(where: { $0.type != DNSType.cname && !cnameCompanions.contains($0.type) }) {
                let c = cnames[0]
                throw ZoneError(file: c.file, line: c.line,
                                reason: "CNAME at \(WireName.toText(names[owner])) beside other data (type \(other.type))")
            }
            if owner == apexId {
                throw ZoneError(file: cnames[0].file, line: cnames[0].line, reason: "CNAME at the zone apex")
            }
        }

        // 4. every ancestor between an owner and the apex is a node (empty non-terminals)
        for extra in extraOwners where extra.count >= origin.count && isInside(extra) { _ = intern(extra) }
        var i = 0
        while i < names.count {
            var name = names[i]
            while name.count > origin.count {
                name = Array(name[(Int(name[0]) + 1)...])
                if nameIds[NameKey(name)] != nil { break } // its ancestors are interned already
                _ = intern(name)
            }
            i += 1
        }

        // 5. encode
        var nameBytes: [UInt8] = []
        var data: [UInt8] = []
        var rrsets: [PreparedRRSet] = []
        var nameOffsets: [Int32] = []
        var firstSets: [Int32] = []
        var setCounts: [UInt16] = []
        var flagsList: [UInt8] = []
        var recordCount = 0
        nameOffsets.reserveCapacity(names.count)
        for (id, name) in names.enumerated() {
            nameOffsets.append(Int32(nameBytes.count))
            nameBytes.append(contentsOf: name)
            firstSets.append(Int32(rrsets.count))
            let own = setsOf(id)
            var flags: UInt8 = id == apexId ? ZoneNode.apex : 0
            if id != apexId, own.contains(where: { $0.type == DNSType.ns }) { flags |= ZoneNode.delegation }
            if own.contains(where: { $0.type == DNSType.cname }) { flags |= ZoneNode.alias }
            flagsList.append(flags)
            for set in own {
                var unique: [Int] = []
                for idx in order[set.start..<set.end] where !unique.contains(where: { records[$0].rdata == records[idx].rdata }) {
                    unique.append(idx)
                }
                guard unique.count <= 65535 else {
                    throw ZoneError(file: records[unique[0]].file, line: records[unique[0]].line, reason: "RRset too large")
                }
                let ttl = unique.map { records[$0].ttl }.min()!
                let start = data.count
                for idx in unique { appendBody(&data, type: set.type, ttl: ttl, rdata: records[idx].rdata) }
                rrsets.append(PreparedRRSet(type: set.type, records: UInt16(unique.count), offset: Int32(start),
                                            length: Int32(data.count - start)))
                recordCount += unique.count
            }
            setCounts.append(UInt16(rrsets.count - Int(firstSets.last!)))
        }

        // negative-answer SOA: TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §3)
        let minimum = soa.rdata.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let serial = soa.rdata.dropLast(16).suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let negStart = data.count
        appendBody(&data, type: DNSType.soa, ttl: min(soa.ttl, minimum), rdata: soa.rdata)
        let negativeSOA = PreparedRRSet(type: DNSType.soa, records: 1, offset: Int32(negStart), length: Int32(data.count - negStart))

        // 6. wildcard children and referral glue
        var nodes: [ZoneNode] = []
        nodes.reserveCapacity(names.count)
        var glue: [GlueRef] = []
        for (id, name) in names.enumerated() {
            let wildcard = nameIds[NameKey([1, 0x2A] + name)] ?? -1
            let glueStart = Int32(glue.count)
            if flagsList[id] & ZoneNode.delegation != 0, let nsSet = setsOf(id).first(where: { $0.type == DNSType.ns }) {
                var seen = Set<[UInt8]>()
                for ns in recordsOf(nsSet) {
                    var target = ns.rdata
                    WireName.lowercase(ns.rdata, length: ns.rdata.count, into: &target)
                    guard seen.insert(target).inserted, let t = nameIds[NameKey(target)] else { continue }
                    for type in [DNSType.a, DNSType.aaaa] {
                        let first = Int(firstSets[Int(t)])
                        for s in first..<(first + Int(setCounts[Int(t)])) where rrsets[s].type == type {
                            glue.append(GlueRef(node: t, rrset: Int32(s)))
                        }
                    }
                }
            }
            nodes.append(ZoneNode(nameOffset: nameOffsets[id], nameLength: UInt16(name.count), firstRRSet: firstSets[id],
                                  rrsetCount: setCounts[id], flags: flagsList[id], wildcardChild: wildcard,
                                  glueStart: glueStart, glueCount: UInt16(glue.count - Int(glueStart))))
        }
        return CompiledZone(origin: origin, originText: canonicalOrigin, serial: serial, apexNode: Int32(apexId),
                            negativeSOA: negativeSOA, recordCount: recordCount, nodes: nodes, rrsets: rrsets, glue: glue,
                            names: nameBytes, data: data)
    }

    /// TYPE CLASS TTL RDLENGTH RDATA (RFC 1035 §4.1.3).
    static func appendBody(_ data: inout [UInt8], type: UInt16, ttl: UInt32, rdata: [UInt8]) {
        data.append(UInt8(type >> 8)); data.append(UInt8(type & 0xFF))
        data.append(0); data.append(1)
        data.append(UInt8(ttl >> 24)); data.append(UInt8((ttl >> 16) & 0xFF))
        data.append(UInt8((ttl >> 8) & 0xFF)); data.append(UInt8(ttl & 0xFF))
        data.append(UInt8(rdata.count >> 8)); data.append(UInt8(rdata.count & 0xFF))
        data.append(contentsOf: rdata)
    }

    /// Reads a master file with ldns and compiles it.
    public static func load(path: String, origin: String, extraOwners: [[UInt8]] = []) throws -> CompiledZone {
        let records = try ZoneFileReader.read(path: path, origin: origin)
        return try compile(origin: origin, records: records, file: path, extraOwners: extraOwners)
    }
}

/// A wire name as a dictionary key: hashed once with FNV-1a (64-bit) instead of byte by byte.
struct NameKey: Hashable {
    let bytes: [UInt8]
    let fingerprint: UInt64

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        fingerprint = bytes.withUnsafeBufferPointer { WireName.hash($0.baseAddress!, length: $0.count) }
    }

    func hash(into hasher: inout Hasher) { hasher.combine(fingerprint) }
    static func == (a: NameKey, b: NameKey) -> Bool { a.fingerprint == b.fingerprint && a.bytes == b.bytes }
}
