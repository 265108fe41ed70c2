import DNSWire
import Steering
import Zones

/// The NSEC3 records an answer must carry to prove what is absent (RFC 5155 §7.2), collected while
/// the answer is written and put in the authority section at its end: at most three per answer
/// (closest encloser, next closer name, wildcard), no repeats. Fixed size: no allocation.
struct NSEC3Proofs {
    private var slots: (Int32, Int32, Int32, Int32) = (-1, -1, -1, -1)
    private(set) var count = 0

    /// Adds chain entry `i` unless it is there already (or -1, none).
    @inline(__always)
    mutating func add(_ i: Int32) {
        guard i >= 0, count < 4 else { return }
        for k in 0..<count where self[k] == i { return }
        withUnsafeMutableBytes(of: &slots) { $0.storeBytes(of: i, toByteOffset: count * 4, as: Int32.self) }
        count += 1
    }

    @inline(__always)
    subscript(k: Int) -> Int32 {
        withUnsafeBytes(of: slots) { $0.load(fromByteOffset: k * 4, as: Int32.self) }
    }
}

extension QueryProcessor {
    /// The RRSIGs of RRset `index` of the zone, after the RRset itself (RFC 4035 §3.1.1).
    @inline(__always)
    func writeSignatures(
        _ signatures: ZoneSignatures, of index: Int, owner: ResponseWriter.Owner, section: ResponseWriter.Section,
        writer w: inout ResponseWriter
    ) -> Bool {
        let set = signatures.rrsetSignatures[index]
        return set.records == 0 || w.writeRRSet(owner: owner, bodies: signatures.bodies(set), records: Int(set.records), section: section)
    }

    /// The NSEC3 that covers the next closer name: `name` from `offset` on (hashed per query: it is a
    /// name the zone does not have).
    @inline(__always)
    func nextCloserCover(_ signatures: ZoneSignatures, name: UnsafePointer<UInt8>, length: Int, offset: Int) -> Int32 {
        signatures.covering(NSEC3Hash(name: name + offset, length: length - offset))
    }

    /// Writes the collected NSEC3 records and their RRSIGs in the authority section.
    func writeProofs(_ proofs: NSEC3Proofs, _ signatures: ZoneSignatures, writer w: inout ResponseWriter) -> Bool {
        for k in 0..<proofs.count {
            let i = proofs[k]
            let (name, length) = signatures.name(of: i)
            let entry = signatures.chain[Int(i)]
            guard
                w.writeRRSet(owner: .name(name, length), bodies: signatures.bodies(entry.record), records: 1, section: .authority),
                w.writeRRSet(
                    owner: .name(name, length), bodies: signatures.bodies(entry.signature), records: Int(entry.signature.records),
                    section: .authority)
            else { return false }
        }
        return true
    }

    /// The RRSIGs of a GSLB answer that `writeAnswer` wrote (`written`: which addresses), signed with
    /// the zone (every answer a service can give is, `AnswerSet`). False when they do not fit.
    @inline(__always)
    func writeAnswerSignature(
        _ signatures: ZoneSignatures, service: CompiledService, _ s: Int32, decision: Decision, qtype: UInt16, written: UInt64,
        owner: ResponseWriter.Owner, writer w: inout ResponseWriter
    ) -> Bool {
        let pool: Int32
        if case .all = service.kind { pool = -1 } else { pool = decision.pool }
        let type = pool >= 0 && service.pools[Int(pool)].cnameOffset >= 0 ? DNSType.cname : qtype
        let set = signatures.answerSignature(AnswerKey(service: s, pool: pool, type: type, mask: written))
        return set.records == 0 || w.writeRRSet(owner: owner, bodies: signatures.bodies(set), records: Int(set.records), section: .answer)
    }

    /// The negative-answer SOA's RRSIGs (NXDOMAIN and NODATA, RFC 4035 §3.1.3).
    @inline(__always)
    func writeNegativeSOASignatures(
        _ signatures: ZoneSignatures, apex: (UnsafePointer<UInt8>, Int), writer w: inout ResponseWriter
    ) -> Bool {
        let set = signatures.negativeSOASignature
        return w.writeRRSet(owner: .name(apex.0, apex.1), bodies: signatures.bodies(set), records: Int(set.records), section: .authority)
    }
}
