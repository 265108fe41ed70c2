import CLDNS
import DNSWire

/// One record of a signed zone's denial chain: an NSEC3 record (RFC 5155 §3), kept in hash order, or
/// an NSEC record (RFC 4034 §4), kept in canonical order.
public struct DenialEntry: Sendable {
    /// NSEC3: the owner's hash (SHA-1, 20 octets) as big-endian words, for ordering: octets 0-7, 8-15,
    /// 16-19. NSEC: zero.
    public let hash: NSEC3Hash
    /// The owner name (NSEC3: base32hex of the hash, then the zone) in `ZoneSignatures.names`.
    public let nameOffset: Int32
    public let nameLength: UInt16
    /// NSEC: the owner's `CanonicalOrder` key in `ZoneSignatures.names`; NSEC3: -1.
    public let keyOffset: Int32
    /// The NSEC3 record and its RRSIGs, in `ZoneSignatures.data`.
    public let record: PreparedRRSet
    public let signature: PreparedRRSet

    /// The entry of `chain` (NSEC3, sorted by hash, not empty) that covers `hash`: the last owner hash
    /// below it, the chain wrapping round, or the one that matches it.
    @inline(__always)
    public static func covering(_ hash: NSEC3Hash, in chain: UnsafeBufferPointer<DenialEntry>) -> Int32 {
        var lo = 0, hi = chain.count // first entry with hash > target
        while lo < hi {
            let mid = (lo + hi) >> 1
            if hash < chain[mid].hash { hi = mid } else { lo = mid + 1 }
        }
        return Int32(lo == 0 ? chain.count - 1 : lo - 1)
    }

    public init(
        hash: NSEC3Hash, nameOffset: Int32, nameLength: UInt16, keyOffset: Int32 = -1, record: PreparedRRSet, signature: PreparedRRSet
    ) {
        self.hash = hash
        self.nameOffset = nameOffset
        self.nameLength = nameLength
        self.keyOffset = keyOffset
        self.record = record
        self.signature = signature
    }
}

/// An NSEC3 owner hash: SHA-1 of the lower-case wire name, no salt, no extra iterations (RFC 9276
/// §3.1), compared as three big-endian words.
public struct NSEC3Hash: Sendable, Comparable {
    public let high: UInt64
    public let middle: UInt64
    public let low: UInt32

    /// Hashes a lower-case wire name (no allocation: OpenSSL's SHA-1 with its context on the stack).
    @inline(__always)
    public init(name: UnsafePointer<UInt8>, length: Int) {
        var digest: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 octets, the first 20 used
        withUnsafeMutableBytes(of: &digest) { out in
            meridian_sha1(name, length, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        high = UInt64(bigEndian: digest.0)
        middle = UInt64(bigEndian: digest.1)
        low = UInt32(truncatingIfNeeded: UInt64(bigEndian: digest.2) >> 32)
    }

    /// From the 20 octets of a hash.
    public init(octets: [UInt8]) {
        precondition(octets.count == 20)
        high = octets[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        middle = octets[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
        low = octets[16..<20].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// No hash (an NSEC entry's).
    public static let zero = NSEC3Hash(high: 0, middle: 0, low: 0)

    init(high: UInt64, middle: UInt64, low: UInt32) {
        self.high = high
        self.middle = middle
        self.low = low
    }

    /// The 20 octets.
    public var octets: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: middle >> (56 - 8 * UInt64($0))) }
            + (0..<4).map { UInt8(truncatingIfNeeded: low >> (24 - 8 * UInt32($0))) }
    }

    @inline(__always)
    public static func < (a: NSEC3Hash, b: NSEC3Hash) -> Bool {
        if a.high != b.high { return a.high < b.high }
        if a.middle != b.middle { return a.middle < b.middle }
        return a.low < b.low
    }
}

/// Names the signature of one GSLB answer: the service (its index in the snapshot), the pool (-1:
/// the `all` policy), the type and which addresses (`CompiledService.writeAnswer`'s `written`).
public struct AnswerKey: Sendable, Comparable {
    public let service: Int32
    public let pool: Int32
    public let type: UInt16
    public let mask: UInt64

    public init(service: Int32, pool: Int32, type: UInt16, mask: UInt64) {
        self.service = service
        self.pool = pool
        self.type = type
        self.mask = mask
    }

    @inline(__always)
    public static func < (a: AnswerKey, b: AnswerKey) -> Bool {
        if a.service != b.service { return a.service < b.service }
        if a.pool != b.pool { return a.pool < b.pool }
        if a.type != b.type { return a.type < b.type }
        return a.mask < b.mask
    }
}

/// The DNSSEC material of a signed zone, made at load by the signer and read by the query path: the
/// RRSIGs of every authoritative RRset and of every GSLB answer, and the NSEC3 or NSEC chain with, per
/// node, the records that prove what it does not hold (RFC 4035 §3.1, RFC 5155 §7.2). Everything is
/// pre-encoded; for a name it must prove absent the query path only hashes it (`NSEC3Hash`) or
/// compares it in canonical order (NSEC), and searches. Owns the memory `tables` points into.
public final class ZoneSignatures: @unchecked Sendable {
    /// What the query path reads: plain pointers, so that no reference is counted per query.
    public var tables: SignatureTables { tablesPointer.pointee }
    /// `tables` at a fixed place: the query path passes this one word around.
    public let tablesPointer: UnsafePointer<SignatureTables>
    /// When the earliest signature expires (UNIX time).
    public let expires: Int64
    /// When the zone is to be signed again (UNIX time): `refresh` before the earliest expiry.
    public let resignAt: Int64

    public init(
        rrsetSignatures: [PreparedRRSet], negativeSOASignature: PreparedRRSet, usesNSEC: Bool = false, chain: [DenialEntry], matching: [Int32],
        wildcardCover: [Int32], answers: [(AnswerKey, PreparedRRSet)] = [], names: [UInt8], data: [UInt8], expires: Int64,
        resignAt: Int64 = .max
    ) {
        let sorted = answers.sorted { $0.0 < $1.0 }
        let tables = SignatureTables(
            rrsetSignatures: .frozenCopy(of: rrsetSignatures), negativeSOASignature: negativeSOASignature, usesNSEC: usesNSEC,
            chain: .frozenCopy(of: chain), matching: .frozenCopy(of: matching), wildcardCover: .frozenCopy(of: wildcardCover),
            names: UnsafeRawBufferPointer(UnsafeBufferPointer.frozenCopy(of: names)),
            data: UnsafeRawBufferPointer(UnsafeBufferPointer.frozenCopy(of: data)),
            answerKeys: .frozenCopy(of: sorted.map(\.0)), answerSignatures: .frozenCopy(of: sorted.map(\.1)))
        let pointer = UnsafeMutablePointer<SignatureTables>.allocate(capacity: 1)
        pointer.initialize(to: tables)
        tablesPointer = UnsafePointer(pointer)
        self.expires = expires
        self.resignAt = resignAt
    }

    deinit {
        tables.rrsetSignatures.deallocate()
        tables.chain.deallocate()
        tables.matching.deallocate()
        tables.wildcardCover.deallocate()
        tables.answerKeys.deallocate()
        tables.answerSignatures.deallocate()
        tables.names.deallocate()
        tables.data.deallocate()
        tablesPointer.deallocate()
    }
}

/// The tables of a zone's `ZoneSignatures`, as the query path reads them.
///
/// Invariants: `rrsetSignatures` is parallel to the zone's `rrsets` (records 0: not signed: a
/// delegation's NS, glue); `matching` and `wildcardCover` are parallel to its `nodes` (-1: none, for
/// names below a zone cut); `chain` is not empty, sorted by hash (NSEC3) or in canonical order with
/// a key per entry (NSEC); `answerKeys` is sorted and
/// parallel to `answerSignatures`. Valid while the `ZoneSignatures` that made them lives (the zone
/// holds it).
public struct SignatureTables: @unchecked Sendable {
    public let rrsetSignatures: UnsafeBufferPointer<PreparedRRSet>
    /// RRSIGs of the negative-answer SOA (the SOA RRset with its negative TTL).
    public let negativeSOASignature: PreparedRRSet
    /// The chain is of NSEC records (RFC 4034 §4), not NSEC3.
    public let usesNSEC: Bool
    public let chain: UnsafeBufferPointer<DenialEntry>
    /// Per node: the NSEC3 whose owner is the hash of the node's name; NSEC: the node's NSEC, or for an
    /// empty non-terminal (which has none) the NSEC that covers it (RFC 4035 §3.1.3.2's NODATA proof).
    public let matching: UnsafeBufferPointer<Int32>
    /// Per node: the NSEC3 covering (or matching) the hash of "*.<node>", or the NSEC covering
    /// "*.<node>", for NXDOMAIN proofs.
    public let wildcardCover: UnsafeBufferPointer<Int32>
    public let names: UnsafeRawBufferPointer
    public let data: UnsafeRawBufferPointer
    /// The RRSIGs of every answer the zone's GSLB services can give, by key.
    public let answerKeys: UnsafeBufferPointer<AnswerKey>
    public let answerSignatures: UnsafeBufferPointer<PreparedRRSet>

    // MARK: hot path (no allocation)

    /// The NSEC3 that covers `hash` (the last owner hash below it, the chain wrapping round), or the one
    /// that matches it.
    @inline(__always)
    public func covering(_ hash: NSEC3Hash) -> Int32 { DenialEntry.covering(hash, in: chain) }

    /// The NSEC that covers (or matches) the lower-case wire name `name`, whose `labels` labels start
    /// at `offsets`: the last owner at or before it in canonical order, the chain wrapping round
    /// (the apex is first, so only names outside the zone would wrap).
    @inline(__always)
    public func nsecCovering(name: UnsafePointer<UInt8>, offsets: UnsafePointer<Int>, labels: Int) -> Int32 {
        let keys = names.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var lo = 0, hi = chain.count // first entry after the name
        while lo < hi {
            let mid = (lo + hi) >> 1
            if CanonicalOrder.compare(name: name, offsets: offsets, labels: labels, key: keys + Int(chain[mid].keyOffset)) < 0 {
                hi = mid
            } else {
                lo = mid + 1
            }
        }
        return Int32(lo == 0 ? chain.count - 1 : lo - 1)
    }

    /// The RRSIGs of a GSLB answer, or an empty set when it has none.
    @inline(__always)
    public func answerSignature(_ key: AnswerKey) -> PreparedRRSet {
        var lo = 0, hi = answerKeys.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if answerKeys[mid] < key { lo = mid + 1 } else { hi = mid }
        }
        guard lo < answerKeys.count, !(key < answerKeys[lo]) else { return .empty }
        return answerSignatures[lo]
    }

    /// The owner name of chain entry `i`.
    @inline(__always)
    public func name(of i: Int32) -> (UnsafePointer<UInt8>, Int) {
        let e = chain[Int(i)]
        return (names.baseAddress!.assumingMemoryBound(to: UInt8.self) + Int(e.nameOffset), Int(e.nameLength))
    }

    @inline(__always)
    public func bodies(_ set: PreparedRRSet) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: data[Int(set.offset)..<Int(set.offset + set.length)])
    }
}
