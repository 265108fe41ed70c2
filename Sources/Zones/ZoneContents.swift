import DNSWire

extension CompiledZone {
    /// Every record of the zone as (owner, body: TYPE CLASS TTL RDLENGTH RDATA), the SOA first: the
    /// RRsets of every name, their RRSIGs when the zone is signed, then the NSEC3 chain with its RRSIGs.
    /// Control plane (zone transfers, checks, tests): allocates.
    /// With `onlySOA`, the SOA record alone (a transfer's closing record, an up-to-date IXFR).
    public func contents(onlySOA: Bool = false) -> [(owner: [UInt8], body: [UInt8])] {
        var out: [(owner: [UInt8], body: [UInt8])] = []
        func add(_ owner: [UInt8], _ set: PreparedRRSet, _ bytes: UnsafeRawBufferPointer) {
            var pos = Int(set.offset)
            for _ in 0..<set.records {
                let rdlength = Int(bytes[pos + 8]) << 8 | Int(bytes[pos + 9])
                out.append((owner, Array(bytes[pos..<(pos + 10 + rdlength)])))
                pos += 10 + rdlength
            }
        }
        let soa = rrset(of: apexNode, type: DNSType.soa)
        add(origin, rrsets[Int(soa)], data)
        if onlySOA { return out }
        for id in 0..<nodes.count {
            let (name, length) = name(of: Int32(id))
            let owner = Array(UnsafeBufferPointer(start: name, count: length))
            let node = nodes[id]
            for r in Int(node.firstRRSet)..<(Int(node.firstRRSet) + Int(node.rrsetCount)) {
                if r != Int(soa) { add(owner, rrsets[r], data) }
                if let signatures { add(owner, signatures.tables.rrsetSignatures[r], signatures.tables.data) }
            }
        }
        if let signatures = signatures?.tables {
            for i in 0..<signatures.chain.count {
                let (name, length) = signatures.name(of: Int32(i))
                let owner = Array(UnsafeBufferPointer(start: name, count: length))
                add(owner, signatures.chain[i].record, signatures.data)
                add(owner, signatures.chain[i].signature, signatures.data)
            }
        }
        return out
    }
}
