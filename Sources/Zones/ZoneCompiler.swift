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

        // 1. per-record checks, grouping by owner then type
        var byOwner: [[UInt8]: [UInt16: [ZoneRecord]]] = [:]
        for r in records {
            guard r.rrClass == DNSClass.in else {
                throw ZoneError(file: r.file, line: r.line, reason: "class \(r.rrClass) record; only IN is served")
            }
            let inside = r.owner.withUnsafeBufferPointer { o in
                origin.withUnsafeBufferPointer { z in WireName.isSubdomain(o.baseAddress!, o.count, of: z.baseAddress!, z.count) }
            }
            guard inside else {
                throw ZoneError(file: r.file, line: r.line,
                                reason: "out-of-zone data: \(WireName.toText(r.owner)) is not in zone \(canonicalOrigin)")
            }
            switch r.type {
            case 39: throw ZoneError(file: r.file, line: r.line, reason: "DNAME is not supported")
            case DNSType.opt, 128...255:
                throw ZoneError(file: r.file, line: r.line, reason: "type \(r.type) cannot appear in zone data")
            default: break
            }
            byOwner[r.owner, default: [:]][r.type, default: []].append(r)
        }

        // 2. apex: one SOA, NS present; SOA nowhere else
        guard let apexSets = byOwner[origin], let soaRecords = apexSets[DNSType.soa] else {
            throw ZoneError(file: file, line: 0, reason: "zone \(canonicalOrigin) has no SOA record at its apex")
        }
        guard soaRecords.count == 1 else {
            throw ZoneError(file: soaRecords[1].file, line: soaRecords[1].line, reason: "more than one SOA record at the apex")
        }
        guard apexSets[DNSType.ns] != nil else {
            throw ZoneError(file: file, line: 0, reason: "zone \(canonicalOrigin) has no NS records at its apex")
        }
        for (owner, sets) in byOwner where owner != origin {
            if let soa = sets[DNSType.soa]?.first {
                throw ZoneError(file: soa.file, line: soa.line, reason: "SOA record below the apex (\(WireName.toText(owner)))")
            }
        }
        let soa = soaRecords[0]
        guard soa.rdata.count >= 22 else { throw ZoneError(file: soa.file, line: soa.line, reason: "malformed SOA") }

        // 3. CNAME rules
        for (owner, sets) in byOwner {
            guard let cnames = sets[DNSType.cname] else { continue }
            if cnames.count > 1 {
                throw ZoneError(file: cnames[1].file, line: cnames[1].line,
                                reason: "more than one CNAME at \(WireName.toText(owner))")
            }
            if let other = sets.first(where: { $0.key != DNSType.cname && !cnameCompanions.contains($0.key) }) {
                let c = cnames[0]
                throw ZoneError(file: c.file, line: c.line,
                                reason: "CNAME at \(WireName.toText(owner)) beside other data (type \(other.key))")
            }
            if owner == origin {
                throw ZoneError(file: cnames[0].file, line: cnames[0].line, reason: "CNAME at the zone apex")
            }
        }

        // 4. every ancestor between an owner and the apex is a node (empty non-terminals)
        var allNames = Set(byOwner.keys)
        for extra in extraOwners where extra.count >= origin.count && Array(extra.suffix(origin.count)) == origin {
            allNames.insert(extra)
        }
        for owner in allNames {
            var name = owner
            while name.count > origin.count {
                name = Array(name[(Int(name[0]) + 1)...])
                allNames.insert(name)
            }
        }
        let ordered = allNames.sorted { a, b in a.count != b.count ? a.count < b.count : a.lexicographicallyPrecedes(b) }
        var nodeIndex: [[UInt8]: Int32] = [:]
        for (i, n) in ordered.enumerated() { nodeIndex[n] = Int32(i) }

        // 5. encode
        var names: [UInt8] = []
        var data: [UInt8] = []
        var rrsets: [PreparedRRSet] = []
        var nameOffsets: [Int32] = []
        var firstSets: [Int32] = []
        var setCounts: [UInt16] = []
        var flagsList: [UInt8] = []
        var recordCount = 0
        for name in ordered {
            nameOffsets.append(Int32(names.count))
            names.append(contentsOf: name)
            firstSets.append(Int32(rrsets.count))
            let sets = byOwner[name] ?? [:]
            var flags: UInt8 = name == origin ? ZoneNode.apex : 0
            if name != origin, sets[DNSType.ns] != nil { flags |= ZoneNode.delegation }
            if sets[DNSType.cname] != nil { flags |= ZoneNode.alias }
            flagsList.append(flags)
            for type in sets.keys.sorted() {
                var unique: [ZoneRecord] = []
                for r in sets[type]! where !unique.contains(where: { $0.rdata == r.rdata }) { unique.append(r) }
                guard unique.count <= 65535 else {
                    throw ZoneError(file: unique[0].file, line: unique[0].line, reason: "RRset too large")
                }
                let ttl = unique.map(\.ttl).min()!
                let start = data.count
                for r in unique { appendBody(&data, type: type, ttl: ttl, rdata: r.rdata) }
                rrsets.append(PreparedRRSet(type: type, records: UInt16(unique.count), offset: Int32(start),
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
        var glue: [GlueRef] = []
        for (i, name) in ordered.enumerated() {
            let wildcard = nodeIndex[[1, 0x2A] + name] ?? -1
            let glueStart = Int32(glue.count)
            if flagsList[i] & ZoneNode.delegation != 0, let nsSet = byOwner[name]?[DNSType.ns] {
                var seen = Set<[UInt8]>()
                for ns in nsSet {
                    var target = ns.rdata
                    WireName.lowercase(ns.rdata, length: ns.rdata.count, into: &target)
                    guard seen.insert(target).inserted, let t = nodeIndex[target] else { continue }
                    for type in [DNSType.a, DNSType.aaaa] {
                        let first = Int(firstSets[Int(t)])
                        for s in first..<(first + Int(setCounts[Int(t)])) where rrsets[s].type == type {
                            glue.append(GlueRef(node: t, rrset: Int32(s)))
                        }
                    }
                }
            }
            nodes.append(ZoneNode(nameOffset: nameOffsets[i], nameLength: UInt16(name.count), firstRRSet: firstSets[i],
                                  rrsetCount: setCounts[i], flags: flagsList[i], wildcardChild: wildcard,
                                  glueStart: glueStart, glueCount: UInt16(glue.count - Int(glueStart))))
        }
        return CompiledZone(origin: origin, originText: canonicalOrigin, serial: serial, apexNode: nodeIndex[origin]!,
                            negativeSOA: negativeSOA, recordCount: recordCount, nodes: nodes, rrsets: rrsets, glue: glue,
                            names: names, data: data)
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
