import DNSWire
import Steering
import Zones

/// The NSEC3 or NSEC records an answer must carry to prove what is absent (RFC 5155 §7.2, RFC 4035
/// §3.1.3), collected while the answer is written and put in the authority section at its end, no
/// repeats: one for each wildcard a CNAME chain passes through, and at most three where it ends
/// (NSEC3: closest encloser, next closer name, wildcard; NSEC: the name, the wildcard). Kept in the
/// processor's `proofSlots` (room for `capacity`: every answer's proofs fit): no allocation.
struct DenialProofs {
    /// The most proofs one answer can need: a wildcard step for each CNAME followed, three at the end.
    static let capacity = QueryProcessor.maxChainLength + 3
    private let slots: UnsafeMutablePointer<Int32>
    private(set) var count = 0

    init(slots: UnsafeMutablePointer<Int32>) { self.slots = slots }

    /// Adds chain entry `i` unless it is there already (or -1, none).
    @inline(__always)
    mutating func add(_ i: Int32) {
        guard i >= 0, count < DenialProofs.capacity else { return }
        for k in 0..<count where slots[k] == i { return }
        slots[count] = i
        count += 1
    }

    @inline(__always)
    subscript(k: Int) -> Int32 { slots[k] }
}

extension QueryProcessor {
    /// The RRSIGs of RRset `index` of the zone, after the RRset itself (RFC 4035 §3.1.1).
    @inline(__always)
    func writeSignatures(
        _ signatures: UnsafePointer<SignatureTables>, of index: Int, owner: ResponseWriter.Owner, section: ResponseWriter.Section,
        writer w: inout ResponseWriter
    ) -> Bool {
        let set = signatures.pointee.rrsetSignatures[index]
        return set.records == 0 || w.writeRRSet(owner: owner, bodies: signatures.pointee.bodies(set), records: Int(set.records), section: section)
    }

    /// The NSEC3 that covers the next closer name: `name` from `offset` on (hashed per query: it is a
    /// name the zone does not have).
    @inline(__always)
    func nextCloserCover(_ signatures: UnsafePointer<SignatureTables>, name: UnsafePointer<UInt8>, length: Int, offset: Int) -> Int32 {
        signatures.pointee.covering(NSEC3Hash(name: name + offset, length: length - offset))
    }

    /// The NSEC that covers `name` (a name the zone does not have) or matches it, found in canonical
    /// order (RFC 4034 §6.1).
    @inline(__always)
    func nsecCover(_ signatures: UnsafePointer<SignatureTables>, name: UnsafePointer<UInt8>, length: Int) -> Int32 {
        signatures.pointee.nsecCovering(name: name, offsets: labelOffsets, labels: splitLabels(name, length: length))
    }

    /// Writes the collected NSEC3 or NSEC records and their RRSIGs in the authority section.
    @inline(__always)
    func writeProofs(_ proofs: DenialProofs, _ signatures: UnsafePointer<SignatureTables>, writer w: inout ResponseWriter) -> Bool {
        for k in 0..<proofs.count {
            let i = proofs[k]
            let (name, length) = signatures.pointee.name(of: i)
            let entry = signatures.pointee.chain[Int(i)]
            guard
                w.writeRRSet(owner: .name(name, length), bodies: signatures.pointee.bodies(entry.record), records: 1, section: .authority),
                w.writeRRSet(
                    owner: .name(name, length), bodies: signatures.pointee.bodies(entry.signature), records: Int(entry.signature.records),
                    section: .authority)
            else { return false }
        }
        return true
    }

    /// The RRSIGs of a GSLB answer that `writeAnswer` wrote (`written`: which addresses), signed with
    /// the zone (every answer a service can give is, `AnswerSet`). False when they do not fit.
    @inline(__always)
    func writeAnswerSignature(
        _ signatures: UnsafePointer<SignatureTables>, service: CompiledService, _ s: Int32, decision: Decision, qtype: UInt16, written: UInt64,
        owner: ResponseWriter.Owner, writer w: inout ResponseWriter
    ) -> Bool {
        let pool: Int32
        if case .all = service.kind { pool = -1 } else { pool = decision.pool }
        let type = pool >= 0 && service.pools[Int(pool)].cnameOffset >= 0 ? DNSType.cname : qtype
        let set = signatures.pointee.answerSignature(AnswerKey(service: s, pool: pool, type: type, mask: written))
        return set.records == 0 || w.writeRRSet(owner: owner, bodies: signatures.pointee.bodies(set), records: Int(set.records), section: .answer)
    }

    /// The negative-answer SOA's RRSIGs (NXDOMAIN and NODATA, RFC 4035 §3.1.3).
    @inline(__always)
    func writeNegativeSOASignatures(
        _ signatures: UnsafePointer<SignatureTables>, apex: (UnsafePointer<UInt8>, Int), writer w: inout ResponseWriter
    ) -> Bool {
        let set = signatures.pointee.negativeSOASignature
        return w.writeRRSet(owner: .name(apex.0, apex.1), bodies: signatures.pointee.bodies(set), records: Int(set.records), section: .authority)
    }
}
