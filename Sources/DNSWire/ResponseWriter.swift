/// Builds a response message in a caller-owned buffer (RFC 1035 §4.1) without allocating.
///
/// The question name sits at offset 12 (RFC 1035 §4.1.4 pointer 0xC00C); owner names are compressed
/// against it: the longest label-aligned suffix shared with the question name becomes a pointer.
/// Every `write...` either writes all of its bytes within `limit` and returns true, or writes nothing
/// (the position is restored) and returns false: callers never leave a partial record behind.
public struct ResponseWriter {
    public let base: UnsafeMutablePointer<UInt8>
    public private(set) var count: Int = 0
    /// Bytes that may be used for sections (the caller keeps room for OPT below this).
    public var limit: Int
    public private(set) var answerCount: UInt16 = 0
    public private(set) var authorityCount: UInt16 = 0
    public private(set) var additionalCount: UInt16 = 0
    /// Lower-cased question name for compression, and its wire length (0 when no question written).
    private let qname: UnsafePointer<UInt8>
    private let qnameLength: Int
    /// Offsets of the question name's labels; filled by the first compressed owner (most answers
    /// only point at the whole question name and never need it).
    private var labelStarts = ByteSet()
    private var labelStartsReady = false

    /// Which section a record goes to.
    public enum Section { case answer, authority, additional }

    public init(buffer: UnsafeMutablePointer<UInt8>, limit: Int, qnameLower: UnsafePointer<UInt8>, qnameLength: Int) {
        self.base = buffer
        self.limit = limit
        self.qname = qnameLower
        self.qnameLength = qnameLength
    }

    /// Writes the 12-octet header (counts are filled by `finish`).
    public mutating func writeHeader(id: UInt16, flags: UInt16) {
        count = 0
        put16(id)
        put16(flags)
        for _ in 0..<4 { put16(0) }
    }

    /// Copies the question back (name as the client sent it, keeping its letter case: RFC 4343).
    public mutating func writeQuestion(name: UnsafePointer<UInt8>, length: Int, type: UInt16, class cls: UInt16) {
        (base + count).update(from: name, count: length) // memcpy
        count += length
        put16(type)
        put16(cls)
        setWord(at: 4, 1)
    }

    /// Position after the question: where sections start. Used to roll back on truncation.
    public var mark: Int { count }

    /// Drops everything written after `mark` and clears the section counts.
    public mutating func rollback(to mark: Int) {
        count = mark
        answerCount = 0
        authorityCount = 0
        additionalCount = 0
    }

    /// Writes one RRset: `bodies` holds back-to-back RR bodies (TYPE CLASS TTL RDLENGTH RDATA, all
    /// pre-encoded at load), each preceded on the wire by `owner`. All or nothing.
    public mutating func writeRRSet(owner: Owner, bodies: UnsafeRawBufferPointer, records: Int, section: Section) -> Bool {
        let start = count
        var offset = 0
        for _ in 0..<records {
            guard writeOwner(owner) else { count = start; return false }
            guard offset + 10 <= bodies.count else { count = start; return false }
            let rdlen = Int(bodies[offset + 8]) << 8 | Int(bodies[offset + 9])
            let bodyLength = 10 + rdlen
            guard count + bodyLength <= limit, offset + bodyLength <= bodies.count else { count = start; return false }
            UnsafeMutableRawPointer(base + count).copyMemory(from: bodies.baseAddress! + offset, byteCount: bodyLength)
            count += bodyLength
            offset += bodyLength
        }
        bump(section, by: records)
        return true
    }

    /// Gives every record written since `mark` the TTL `ttl` (the RRSIGs of an RRset served with a
    /// lowered TTL: RFC 4034 §3 wants them alike). Each record's owner is a name this writer wrote:
    /// labels ending in a zero octet or a compression pointer.
    public mutating func setTTL(_ ttl: UInt32, ofRecordsSince mark: Int) {
        var at = mark
        while at < count {
            while base[at] != 0 && base[at] & 0xC0 != 0xC0 { at += Int(base[at]) + 1 }
            at += base[at] == 0 ? 1 : 2
            UnsafeMutableRawPointer(base + at + 4).storeBytes(of: ttl.bigEndian, as: UInt32.self)
            at += 10 + (Int(base[at + 8]) << 8 | Int(base[at + 9]))
        }
    }

    /// Writes one record with a TTL and RDATA given here (CHAOS TXT answers and the like).
    public mutating func writeRecord(
        owner: Owner, type: UInt16, class cls: UInt16, ttl: UInt32,
        rdata: UnsafeRawBufferPointer, section: Section
    ) -> Bool {
        let start = count
        guard writeOwner(owner), count + 10 + rdata.count <= limit else { count = start; return false }
        put16(type)
        put16(cls)
        put16(UInt16(truncatingIfNeeded: ttl >> 16))
        put16(UInt16(truncatingIfNeeded: ttl))
        put16(UInt16(rdata.count))
        if rdata.count > 0 {
            UnsafeMutableRawPointer(base + count).copyMemory(from: rdata.baseAddress!, byteCount: rdata.count)
        }
        count += rdata.count
        bump(section, by: 1)
        return true
    }

    /// The OPT pseudo-record (RFC 6891 §6.1.2) with optional ECS echo (RFC 7871 §6) and NSID (RFC 5001),
    /// then `options`: further options already encoded (code, length, body), such as COOKIE (RFC 7873)
    /// and edns-tcp-keepalive (RFC 7828).
    /// Written past `limit` on purpose: callers reserve `optLength` below the real buffer size.
    public mutating func writeOPT(
        udpSize: UInt16, extendedRCode: UInt8, dnssecOK: Bool,
        clientSubnet: ClientSubnet?, scope: UInt8,
        nsid: UnsafeRawBufferPointer?, options: UnsafeRawBufferPointer? = nil
    ) {
        base[count] = 0
        count += 1
        put16(DNSType.opt)
        put16(udpSize)
        base[count] = extendedRCode
        base[count + 1] = 0 // version 0
        count += 2
        put16(dnssecOK ? 0x8000 : 0)
        let rdlenAt = count
        put16(0)
        if let ecs = clientSubnet {
            put16(EDNSOption.clientSubnet)
            put16(UInt16(ecs.bodyLength))
            put16(ecs.family)
            base[count] = ecs.sourcePrefix
            base[count + 1] = scope
            count += 2
            // ADDRESS: the first ceil(SOURCE/8) octets of the big-endian address (RFC 7871 §6)
            let (high, low) = ecs.address.leftAlignedWords
            withUnsafeBytes(of: (high.bigEndian, low.bigEndian)) {
                UnsafeMutableRawPointer(base + count).copyMemory(from: $0.baseAddress!, byteCount: ecs.addressOctets)
            }
            count += ecs.addressOctets
        }
        if let nsid {
            put16(EDNSOption.nsid)
            put16(UInt16(nsid.count))
            if nsid.count > 0 { UnsafeMutableRawPointer(base + count).copyMemory(from: nsid.baseAddress!, byteCount: nsid.count) }
            count += nsid.count
        }
        if let options, options.count > 0 {
            UnsafeMutableRawPointer(base + count).copyMemory(from: options.baseAddress!, byteCount: options.count)
            count += options.count
        }
        setWord(at: rdlenAt, UInt16(count - rdlenAt - 2))
        additionalCount += 1
    }

    /// Octets the OPT record will take.
    public static func optLength(clientSubnet: ClientSubnet?, nsidLength: Int?, optionsLength: Int = 0) -> Int {
        var n = 11 + optionsLength
        if let ecs = clientSubnet { n += 4 + ecs.bodyLength }
        if let nsidLength { n += 4 + nsidLength }
        return n
    }

    /// Fills in the flags word and section counts; returns the message length.
    public mutating func finish(flags: UInt16) -> Int {
        setWord(at: 2, flags)
        setWord(at: 6, answerCount)
        setWord(at: 8, authorityCount)
        setWord(at: 10, additionalCount)
        return count
    }

    // MARK: owners and compression

    /// An owner name to write: the question name itself, or a (lower-case) wire name compressed
    /// against the question name.
    public enum Owner {
        case question
        case name(UnsafePointer<UInt8>, Int)
        /// The root name (OPT and the like).
        case root
    }

    @inline(__always)
    mutating func writeOwner(_ owner: Owner) -> Bool {
        switch owner {
        case .question:
            guard count + 2 <= limit else { return false }
            put16(0xC00C)
            return true
        case .root:
            guard count + 1 <= limit else { return false }
            base[count] = 0
            count += 1
            return true
        case let .name(name, length):
            return writeCompressed(name, length)
        }
    }

    /// RFC 1035 §4.1.4: writes the labels not shared with the question name, then a pointer to the
    /// shared suffix inside the question at offset 12.
    mutating func writeCompressed(_ name: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        if !labelStartsReady {
            var at = 0
            while at < qnameLength {
                labelStarts.insert(at)
                if qname[at] == 0 { break }
                at += Int(qname[at]) + 1
            }
            labelStartsReady = true
        }
        var pos = 0
        while pos < length, name[pos] != 0 {
            let suffix = length - pos
            let qpos = qnameLength - suffix
            if qpos >= 0, labelStarts.contains(qpos), WireName.equal(name + pos, suffix, qname + qpos, suffix) {
                guard count + pos + 2 <= limit else { return false }
                (base + count).update(from: name, count: pos)
                count += pos
                put16(0xC000 | UInt16(WireLimits.headerLength + qpos))
                return true
            }
            pos += Int(name[pos]) + 1
        }
        guard count + length <= limit else { return false }
        (base + count).update(from: name, count: length)
        count += length
        return true
    }

    // MARK: raw helpers

    @inline(__always) mutating func put16(_ v: UInt16) {
        base[count] = UInt8(v >> 8)
        base[count + 1] = UInt8(truncatingIfNeeded: v)
        count += 2
    }

    @inline(__always) func setWord(at offset: Int, _ v: UInt16) {
        base[offset] = UInt8(v >> 8)
        base[offset + 1] = UInt8(truncatingIfNeeded: v)
    }

    @inline(__always) mutating func bump(_ section: Section, by n: Int) {
        switch section {
        case .answer: answerCount &+= UInt16(n)
        case .authority: authorityCount &+= UInt16(n)
        case .additional: additionalCount &+= UInt16(n)
        }
    }
}

/// A set of values 0..<256 in four words (label offsets of the question name, name lengths, ...).
public struct ByteSet: Sendable {
    @usableFromInline var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0
    public init() {}
    @inlinable public mutating func insert(_ i: Int) {
        let bit = UInt64(1) << UInt64(i & 63)
        switch i >> 6 {
        case 0: w0 |= bit
        case 1: w1 |= bit
        case 2: w2 |= bit
        default: w3 |= bit
        }
    }
    /// Whether `i` (0..<256) is in the set.
    @inlinable public func contains(_ i: Int) -> Bool {
        let bit = UInt64(1) << UInt64(i & 63)
        switch i >> 6 {
        case 0: return w0 & bit != 0
        case 1: return w1 & bit != 0
        case 2: return w2 & bit != 0
        default: return w3 & bit != 0
        }
    }
}
