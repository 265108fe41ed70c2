import CLDNS
import DNSWire
import Zones

/// How a zone is signed (Knot's policy settings are the model; defaults as Knot's).
public struct SigningPolicy: Sendable, Equatable {
    /// How long a new signature is valid.
    public var signatureValidity: Int64 = 14 * 86400
    /// Signatures are made again when less than this remains of their validity.
    public var refresh: Int64 = 7 * 86400
    /// Inception is backdated by this much, for resolvers whose clocks run slow.
    public var inceptionOffset: Int64 = 3600
    /// TTL of the DNSKEY RRset (and CDS, CDNSKEY).
    public var dnskeyTTL: UInt32 = 3600
    /// How absence is proved.
    public var denial: Denial = .nsec3

    /// How a signed zone proves that a name or type is absent.
    public enum Denial: String, Sendable {
        /// Hashed names (RFC 5155): the zone's names cannot be listed by walking the chain.
        case nsec3
        /// The names themselves (RFC 4034 §4): smaller answers, no hashing; the zone can be walked.
        case nsec
    }

    public init() {}
}

/// Signs a compiled zone ahead of time (RFC 4035 §2): an RRSIG for every authoritative RRset, the
/// NSEC3 chain over every authoritative name (RFC 5155; no salt, no extra iterations, no opt-out, as
/// RFC 9276 §3.1 asks) or the NSEC chain (RFC 4034 §4), and the proofs the query path hands out. Control plane only: runs at load and
/// reload, allocates, calls ldns.
///
/// Which key signs what: keys with the SEP flag (KSK, CSK) sign the DNSKEY, CDS and CDNSKEY RRsets;
/// the zone's other RRsets are signed by the active ZSKs, or by the SEP keys when no ZSK is active (a
/// combined signing key, CSK).
public enum ZoneSigner {
    /// The records to add at the apex before the zone is compiled: DNSKEY for the keys published at
    /// `now`, NSEC3PARAM (with NSEC3 denial), and CDS/CDNSKEY (RFC 7344) for the keys whose sync publication runs at
    /// `now`, or, with `cdsDelete`, the delete CDS and CDNSKEY that ask the parent to remove the DS
    /// (RFC 8078 §4).
    public static func apexRecords(zone: String, keys: [ZoneKey], policy: SigningPolicy, now: Int64, cdsDelete: Bool = false) throws -> [ZoneRecord] {
        guard let owner = WireName.fromText(zone) else { throw DNSSECError("'\(zone)' is not a domain name") }
        let published = keys.filter { $0.timing.isPublished(at: now) }
        guard !published.isEmpty else { throw DNSSECError("no key of \(zone) is published now") }
        func record(_ type: UInt16, _ ttl: UInt32, _ rdata: [UInt8]) -> ZoneRecord {
            ZoneRecord(owner: owner, type: type, ttl: ttl, rdata: rdata, file: "dnssec", line: 0)
        }
        var records = published.map { record(DNSType.dnskey, policy.dnskeyTTL, $0.dnskeyRDATA) }
        if policy.denial == .nsec3 {
            // NSEC3PARAM: SHA-1, flags 0, 0 extra iterations, no salt (RFC 9276 §3.1); TTL 0 as Knot and BIND
            records.append(record(DNSType.nsec3param, 0, [1, 0, 0, 0, 0]))
        }
        if cdsDelete {
            records.append(record(DNSType.cds, policy.dnskeyTTL, [0, 0, 0, 0, 0])) // CDS 0 0 0 00
            records.append(record(DNSType.cdnskey, policy.dnskeyTTL, [0, 0, 3, 0, 0])) // CDNSKEY 0 3 0 AA==
        } else {
            for key in published where key.isSecureEntryPoint && key.timing.isSyncPublished(at: now) {
                guard let ds = key.dsRDATA else { throw DNSSECError("ldns cannot make the CDS of key \(key.tag)") }
                records.append(record(DNSType.cds, policy.dnskeyTTL, ds))
                records.append(record(DNSType.cdnskey, policy.dnskeyTTL, key.dnskeyRDATA))
            }
        }
        return records
    }

    /// A GSLB answer to sign: its key, owner (the service's name) and records.
    public struct Answer: Sendable {
        public let key: AnswerKey
        public let owner: [UInt8]
        public let bodies: [UInt8]
        public let records: Int

        public init(key: AnswerKey, owner: [UInt8], bodies: [UInt8], records: Int) {
            self.key = key
            self.owner = owner
            self.bodies = bodies
            self.records = records
        }
    }

    /// Signs `zone` (compiled with `apexRecords`) with the keys active at `now`, the time the
    /// signatures are dated from (a `SigningEpoch`'s start). `gslbTypes` gives the types each GSLB name
    /// answers (lower-case wire name -> types), for the NSEC/NSEC3 type bitmaps; `answers` are every RRset
    /// the GSLB services can answer. `policy.denial` chooses the chain. The zone is due to be signed again at `resignAt` (the next
    /// epoch: its signatures then have at least three quarters of `refresh` left, since expiry is
    /// spread over the first quarter of `refresh` before `now + signatureValidity`), or `refresh`
    /// before its earliest signature expires when not given.
    public static func sign(
        _ zone: CompiledZone, keys: [ZoneKey], policy: SigningPolicy, now: Int64, gslbTypes: [[UInt8]: [UInt16]] = [:],
        answers: [Answer] = [], resignAt: Int64? = nil
    ) throws -> CompiledZone {
        let active = keys.filter { $0.timing.isActive(at: now) }
        let keySigners = active.filter(\.isSecureEntryPoint)
        let zoneSigners = active.contains { !$0.isSecureEntryPoint } ? active.filter { !$0.isSecureEntryPoint } : keySigners
        guard !keySigners.isEmpty else { throw DNSSECError("no key-signing key of \(zone.originText) is active now") }
        for set in zone.rrsets where [DNSType.rrsig, DNSType.nsec, DNSType.nsec3].contains(set.type) {
            throw DNSSECError(
                "the zone file holds \(set.type == DNSType.rrsig ? "RRSIG" : "NSEC or NSEC3") records; Meridian signs the zone itself: remove them")
        }
        var builder = Builder(zone: zone, policy: policy, now: now)

        // 1. which names are authoritative: not below a zone cut (RFC 4035 §2.2)
        let nodeCount = zone.nodes.count
        var occluded = [Bool](repeating: false, count: nodeCount)
        for id in 0..<nodeCount {
            let (name, length) = zone.name(of: Int32(id))
            var offset = Int(name[0]) + 1 // proper ancestors only
            while length - offset > zone.origin.count {
                let ancestor = zone.find(name + offset, length: length - offset)
                if ancestor >= 0 && zone.nodes[Int(ancestor)].isDelegation {
                    occluded[id] = true
                    break
                }
                offset += Int(name[offset]) + 1
            }
        }

        // 2. RRSIGs over every authoritative RRset; at a cut only the DS (RFC 4035 §2.2)
        var rrsetSignatures = [PreparedRRSet](repeating: .empty, count: zone.rrsets.count)
        for id in 0..<nodeCount where !occluded[id] {
            let node = zone.nodes[id]
            let (name, length) = zone.name(of: Int32(id))
            let owner = Array(UnsafeBufferPointer(start: name, count: length))
            for r in Int(node.firstRRSet)..<(Int(node.firstRRSet) + Int(node.rrsetCount)) {
                let set = zone.rrsets[r]
                if node.isDelegation && set.type != DNSType.ds { continue }
                let isKeySet = set.type == DNSType.dnskey || set.type == DNSType.cds || set.type == DNSType.cdnskey
                rrsetSignatures[r] = try builder.sign(
                    owner: owner, bodies: Array(zone.bodies(set)), records: Int(set.records), keys: isKeySet ? keySigners : zoneSigners)
            }
        }
        let soaIndex = Int(zone.rrset(of: zone.apexNode, type: DNSType.soa))
        let negativeTTL = zone.bodies(zone.negativeSOA).loadUnaligned(fromByteOffset: 4, as: UInt32.self).bigEndian
        let negativeSOASignature = builder.retitled(rrsetSignatures[soaIndex], ttl: negativeTTL)

        // 3. the denial chain and, per name, the records that prove what it lacks
        var denial = DenialChain(
            zone: zone, occluded: occluded, signed: rrsetSignatures.map { $0.records > 0 }, gslbTypes: gslbTypes, negativeTTL: negativeTTL,
            signers: zoneSigners)
        switch policy.denial {
        case .nsec3: try denial.buildNSEC3(&builder)
        case .nsec: try denial.buildNSEC(&builder)
        }
        // 5. every GSLB answer
        var answerSignatures: [(AnswerKey, PreparedRRSet)] = []
        for answer in answers {
            let signature = try builder.sign(owner: answer.owner, bodies: answer.bodies, records: answer.records, keys: zoneSigners)
            answerSignatures.append((answer.key, signature))
        }
        let signatures = ZoneSignatures(
            rrsetSignatures: rrsetSignatures, negativeSOASignature: negativeSOASignature, usesNSEC: policy.denial == .nsec,
            chain: denial.chain, matching: denial.matching, wildcardCover: denial.wildcardCover, answers: answerSignatures,
            names: builder.names, data: builder.data, expires: builder.expires, resignAt: resignAt ?? builder.expires - policy.refresh)
        return zone.signed(signatures)
    }

    /// The owner of an NSEC3 record: the base32hex of the hash (RFC 4648 §7, lower case; ldns), then
    /// the zone.
    static func hashedOwner(_ hash: NSEC3Hash, zone: [UInt8]) -> [UInt8] {
        var text = [CChar](repeating: 0, count: 64)
        let n = hash.octets.withUnsafeBufferPointer { ldns_b32_ntop_extended_hex($0.baseAddress, 20, &text, text.count) }
        let label = text.prefix(max(Int(n), 0)).map { UInt8(bitPattern: $0) | 0x20 } // lower case (digits keep 0x20)
        return [UInt8(label.count)] + label + zone
    }

    /// The type bitmap of NSEC and NSEC3 (RFC 4034 §4.1.2), as ldns encodes it.
    static func typeBitmap(_ types: [UInt16], for chainType: UInt16 = DNSType.nsec3) -> [UInt8] {
        var list = types.map { ldns_rr_type(rawValue: UInt32($0)) }
        guard let rdf = ldns_dnssec_create_nsec_bitmap(&list, list.count, ldns_rr_type(rawValue: UInt32(chainType))) else { return [] }
        defer { ldns_rdf_deep_free(rdf) }
        return Array(UnsafeBufferPointer(start: ldns_rdf_data(rdf), count: ldns_rdf_size(rdf)))
    }

    /// Accumulates the signatures' and NSEC3 records' wire bodies and owner names.
    struct Builder {
        let zone: CompiledZone
        let policy: SigningPolicy
        let now: Int64
        var data: [UInt8] = []
        var names: [UInt8] = []
        var expires = Int64.max

        init(zone: CompiledZone, policy: SigningPolicy, now: Int64) {
            self.zone = zone
            self.policy = policy
            self.now = now
        }

        /// Appends TYPE CLASS TTL RDLENGTH RDATA (the writer puts the owner) and returns it as a one-record set.
        @discardableResult
        mutating func encode(type: UInt16, ttl: UInt32, rdata: [UInt8]) -> PreparedRRSet {
            let start = data.count
            data += [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
            data += [UInt8(ttl >> 24), UInt8(ttl >> 16 & 0xFF), UInt8(ttl >> 8 & 0xFF), UInt8(ttl & 0xFF)]
            data += [UInt8(rdata.count >> 8), UInt8(rdata.count & 0xFF)] + rdata
            return PreparedRRSet(type: type, records: 1, offset: Int32(start), length: Int32(data.count - start))
        }

        /// The RRSIGs (one per key) over the RRset `records` bodies at `owner`, appended as one set.
        mutating func sign(owner: [UInt8], bodies: [UInt8], records: Int, keys: [ZoneKey]) throws -> PreparedRRSet {
            // the RRset as ldns records: owner + each body
            let list = ldns_rr_list_new()!
            defer { ldns_rr_list_deep_free(list) }
            var pos = 0
            var ttl: UInt32 = 0
            for _ in 0..<records {
                let rdlength = Int(bodies[pos + 8]) << 8 | Int(bodies[pos + 9])
                ttl = UInt32(bodies[pos + 4]) << 24 | UInt32(bodies[pos + 5]) << 16 | UInt32(bodies[pos + 6]) << 8 | UInt32(bodies[pos + 7])
                let wire = owner + Array(bodies[pos..<(pos + 10 + rdlength)])
                var rr: UnsafeMutablePointer<ldns_rr>?
                var at = 0
                let status = wire.withUnsafeBufferPointer { ldns_wire2rr(&rr, $0.baseAddress, $0.count, &at, LDNS_SECTION_ANSWER) }
                guard status == LDNS_STATUS_OK, let rr else {
                    throw DNSSECError("ldns cannot read a record at \(WireName.toText(owner)) to sign it")
                }
                _ = ldns_rr_list_push_rr(list, rr)
                pos += 10 + rdlength
            }
            // expiry spread over the last quarter of the refresh period, the same for one RRset on every instance
            let spread = max(policy.refresh / 4, 1)
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for b in owner + bodies.prefix(2) { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
            let expiration = now + policy.signatureValidity - Int64(h % UInt64(spread))
            expires = min(expires, expiration)
            let start = data.count
            for key in keys {
                let rdata = try key.sign(list, inception: now - policy.inceptionOffset, expiration: expiration)
                encode(type: DNSType.rrsig, ttl: ttl, rdata: rdata)
            }
            return PreparedRRSet(type: DNSType.rrsig, records: UInt16(keys.count), offset: Int32(start), length: Int32(data.count - start))
        }

        /// A copy of `set`'s RRSIG bodies with another TTL (same RDATA: the negative SOA's RRSIGs).
        mutating func retitled(_ set: PreparedRRSet, ttl: UInt32) -> PreparedRRSet {
            let start = data.count
            var pos = Int(set.offset)
            for _ in 0..<set.records {
                let rdlength = Int(data[pos + 8]) << 8 | Int(data[pos + 9])
                let rdata = Array(data[(pos + 10)..<(pos + 10 + rdlength)])
                encode(type: DNSType.rrsig, ttl: ttl, rdata: rdata)
                pos += 10 + rdlength
            }
            return PreparedRRSet(type: DNSType.rrsig, records: set.records, offset: Int32(start), length: Int32(data.count - start))
        }
    }
}
