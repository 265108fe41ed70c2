import DNSWire
import Zones

extension ZoneSigner {
    /// Builds a signed zone's chain of denial records and, per name, the entries that prove what the
    /// name lacks: the NSEC3 chain (RFC 5155 §7.1) or the NSEC chain (RFC 4034 §4, RFC 4035 §2.3).
    /// Control plane: runs while the zone is signed.
    struct DenialChain {
        let zone: CompiledZone
        /// Per node: below a zone cut (no denial record, no proofs).
        let occluded: [Bool]
        /// Per RRset of the zone: it has RRSIGs.
        let signed: [Bool]
        /// The types each GSLB name answers (lower-case wire name -> types).
        let gslbTypes: [[UInt8]: [UInt16]]
        /// TTL of every denial record: the SOA's negative TTL (RFC 9077 §3).
        let negativeTTL: UInt32
        let signers: [ZoneKey]

        private(set) var chain: [DenialEntry] = []
        /// Parallel to the zone's nodes (see `SignatureTables.matching`, `.wildcardCover`).
        private(set) var matching: [Int32]
        private(set) var wildcardCover: [Int32]

        init(zone: CompiledZone, occluded: [Bool], signed: [Bool], gslbTypes: [[UInt8]: [UInt16]], negativeTTL: UInt32, signers: [ZoneKey]) {
            self.zone = zone
            self.occluded = occluded
            self.signed = signed
            self.gslbTypes = gslbTypes
            self.negativeTTL = negativeTTL
            self.signers = signers
            matching = [Int32](repeating: -1, count: zone.nodes.count)
            wildcardCover = [Int32](repeating: -1, count: zone.nodes.count)
        }

        /// The lower-case wire name of node `id`.
        func owner(_ id: Int) -> [UInt8] {
            let (name, length) = zone.name(of: Int32(id))
            return Array(UnsafeBufferPointer(start: name, count: length))
        }

        /// The types at node `id` for its bitmap, RRSIG when something there is signed, without the
        /// chain's own type; at a zone cut only NS and DS (the rest is glue-like data). Empty for an
        /// empty non-terminal.
        func types(_ id: Int) -> Set<UInt16> {
            let node = zone.nodes[id]
            var types = Set<UInt16>()
            for r in Int(node.firstRRSet)..<(Int(node.firstRRSet) + Int(node.rrsetCount)) {
                let type = zone.rrsets[r].type
                if node.isDelegation && type != DNSType.ns && type != DNSType.ds { continue }
                types.insert(type)
                if signed[r] { types.insert(DNSType.rrsig) }
            }
            if let gslb = gslbTypes[owner(id)], !gslb.isEmpty {
                types.formUnion(gslb)
                types.insert(DNSType.rrsig)
            }
            return types
        }

        /// "*.<node id>", or nil when that name would be too long.
        func wildcard(_ id: Int) -> [UInt8]? {
            let name = [1, 0x2A] + owner(id)
            return name.count <= WireLimits.maxNameLength ? name : nil
        }

        /// Appends one denial record at `owner` with its RRSIGs.
        mutating func append(owner: [UInt8], type: UInt16, rdata: [UInt8], hash: NSEC3Hash, key: [UInt8]?, _ builder: inout Builder) throws {
            let record = builder.encode(type: type, ttl: negativeTTL, rdata: rdata)
            let body = Array(builder.data[Int(record.offset)..<Int(record.offset + record.length)])
            let signature = try builder.sign(owner: owner, bodies: body, records: 1, keys: signers)
            let nameOffset = Int32(builder.names.count)
            builder.names += owner
            var keyOffset: Int32 = -1
            if let key {
                keyOffset = Int32(builder.names.count)
                builder.names += key
            }
            chain.append(
                DenialEntry(
                    hash: hash, nameOffset: nameOffset, nameLength: UInt16(owner.count), keyOffset: keyOffset, record: record,
                    signature: signature))
        }

        /// The NSEC3 chain: one record per authoritative name, empty non-terminals included (RFC 5155
        /// §7.1), SHA-1 with no salt and no extra iterations (RFC 9276 §3.1); per name the NSEC3
        /// covering its wildcard (NXDOMAIN proofs, RFC 5155 §7.2.2).
        mutating func buildNSEC3(_ builder: inout Builder) throws {
            struct Link {
                let hash: NSEC3Hash
                let node: Int
                let types: [UInt16]
            }
            var links: [Link] = []
            for id in 0..<zone.nodes.count where !occluded[id] {
                let hash = owner(id).withUnsafeBufferPointer { NSEC3Hash(name: $0.baseAddress!, length: $0.count) }
                links.append(Link(hash: hash, node: id, types: types(id).sorted()))
            }
            links.sort { $0.hash < $1.hash }
            for i in 1..<max(links.count, 1) where links[i].hash == links[i - 1].hash {
                throw DNSSECError("two names of \(zone.originText) have the same NSEC3 hash; the zone cannot be signed")
            }
            for (i, link) in links.enumerated() {
                let next = links[(i + 1) % links.count].hash
                let rdata: [UInt8] = [1, 0, 0, 0, 0, 20] + next.octets + typeBitmap(link.types)
                try append(owner: hashedOwner(link.hash, zone: zone.origin), type: DNSType.nsec3, rdata: rdata, hash: link.hash, key: nil, &builder)
                matching[link.node] = Int32(i)
            }
            for id in 0..<zone.nodes.count where !occluded[id] && !zone.nodes[id].isDelegation {
                guard let name = wildcard(id) else { continue }
                let hash = name.withUnsafeBufferPointer { NSEC3Hash(name: $0.baseAddress!, length: $0.count) }
                wildcardCover[id] = chain.withUnsafeBufferPointer { DenialEntry.covering(hash, in: $0) }
            }
        }

        /// The NSEC chain: one record per name that holds data or is a zone cut, in canonical order
        /// (RFC 4034 §6.1), each listing its types, RRSIG and NSEC (RFC 4035 §2.3); empty
        /// non-terminals have none, and are proved empty by the NSEC that covers them. Per name the
        /// NSEC covering its wildcard (NXDOMAIN proofs, RFC 4035 §3.1.3.2).
        mutating func buildNSEC(_ builder: inout Builder) throws {
            var members: [(node: Int, key: [UInt8], types: Set<UInt16>)] = []
            var empty: [(node: Int, key: [UInt8])] = []
            for id in 0..<zone.nodes.count where !occluded[id] {
                let key = CanonicalOrder.key(owner(id))
                let types = types(id)
                if types.isEmpty { empty.append((id, key)) } else { members.append((id, key, types)) }
            }
            members.sort { CanonicalOrder.precedes($0.key, $1.key) }
            for (i, member) in members.enumerated() {
                let next = owner(members[(i + 1) % members.count].node)
                let rdata = next + typeBitmap(member.types.union([DNSType.rrsig, DNSType.nsec]).sorted(), for: DNSType.nsec)
                try append(owner: owner(member.node), type: DNSType.nsec, rdata: rdata, hash: .zero, key: member.key, &builder)
                matching[member.node] = Int32(i)
            }
            let keys = members.map(\.key)
            // the last member at or before `key` (the apex is first: nothing in the zone wraps round)
            func covering(_ key: [UInt8]) -> Int32 {
                var lo = 0, hi = keys.count
                while lo < hi {
                    let mid = (lo + hi) >> 1
                    if CanonicalOrder.precedes(key, keys[mid]) { hi = mid } else { lo = mid + 1 }
                }
                return Int32(lo == 0 ? keys.count - 1 : lo - 1)
            }
            for (node, key) in empty { matching[node] = covering(key) }
            for id in 0..<zone.nodes.count where !occluded[id] && !zone.nodes[id].isDelegation {
                guard let name = wildcard(id) else { continue }
                wildcardCover[id] = covering(CanonicalOrder.key(name))
            }
        }
    }
}
