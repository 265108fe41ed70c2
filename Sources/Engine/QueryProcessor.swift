import DNSWire
import Steering
import Zones

/// Which transport a query came over: it sets the response size limit (RFC 1035 §4.2, RFC 7766).
public enum Transport: Sendable { case udp, tcp }

/// Turns one query packet into one response packet. One instance per worker thread (not shared):
/// it owns the scratch memory the parse and the lookup use, so answering allocates nothing.
///
/// RFC 1034 §4.3.2 lookup over `CompiledZone`s, RFC 2308 negative answers, RFC 4592 wildcards,
/// RFC 6891 EDNS, RFC 7871 ECS echo, RFC 8482 ANY, RFC 5001 NSID, CHAOS identity.
public final class QueryProcessor {
    /// Longest CNAME chain followed inside a zone before answering with what we have.
    public static let maxChainLength = 8

    /// This worker's counters (read by the metrics endpoint).
    public let counters: WorkerCounters
    let qname = UnsafeMutablePointer<UInt8>.allocate(capacity: WireName.lowercaseWordsCapacity)
    let qnameLower = UnsafeMutablePointer<UInt8>.allocate(capacity: WireName.lowercaseWordsCapacity)
    let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    let chase = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    let labelOffsets = UnsafeMutablePointer<Int>.allocate(capacity: 130)
    /// The denial records an answer collects (`DenialProofs`).
    let proofSlots = UnsafeMutablePointer<Int32>.allocate(capacity: DenialProofs.capacity)
    // The mutable state below is read and written only by the one thread that owns this processor
    // (`decisionRing` and `clock` are set before it starts answering), and never passed inout across
    // a call that touches it again: the dynamic exclusivity checks Swift would make on each access
    // (swift_beginAccess, ~77 instructions per query in `make microbench`) cannot fail, so they are
    // turned off for these properties.
    /// xorshift64* state for weighted and round-robin choices (per worker: no shared state).
    @exclusivity(unchecked) var randomState: UInt64
    /// Sampled GSLB decisions go here when the decision log is on (written by another thread).
    @exclusivity(unchecked) public var decisionRing: DecisionRing?
    /// Clock for decision records (wall time in nanoseconds); set with the ring.
    @exclusivity(unchecked) public var clock: (@Sendable () -> UInt64)?
    /// Seconds since 1970, set by the owner before each batch of queries: cookie timestamps
    /// (RFC 9018 §4.3) and the rate limiter's buckets read it.
    @exclusivity(unchecked) public var now: UInt32 = 0
    /// This worker's response-rate-limiting table (UDP workers only; nil: nothing is limited).
    @exclusivity(unchecked) public var rateLimiter: ResponseRateLimiter? {
        didSet { limiterRef = rateLimiter.map { Unmanaged.passUnretained($0) } }
    }
    /// `rateLimiter` without reference counting on the query path (`rateLimiter` keeps it alive).
    @exclusivity(unchecked) var limiterRef: Unmanaged<ResponseRateLimiter>?
    /// The TCP idle timeout in units of 100 ms, advertised in edns-tcp-keepalive (RFC 7828 §3.3.2) to
    /// a TCP query that sent the option; nil on UDP workers.
    @exclusivity(unchecked) public var keepaliveTimeout: UInt16?
    /// EDNS options of the response beyond ECS and NSID (COOKIE, edns-tcp-keepalive), encoded here.
    let extraOptions = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)

    public init(seed: UInt64 = 0x2545_F491_4F6C_DD1D, counters: WorkerCounters = WorkerCounters()) {
        randomState = seed | 1
        self.counters = counters
        // `WireName.lowercaseWords` reads and writes whole words of these past the name
        qname.initialize(repeating: 0, count: WireName.lowercaseWordsCapacity)
        qnameLower.initialize(repeating: 0, count: WireName.lowercaseWordsCapacity)
    }

    @inline(__always) func nextRandom() -> UInt64 {
        randomState ^= randomState >> 12
        randomState ^= randomState << 25
        randomState ^= randomState >> 27
        return randomState &* 0x2545_F491_4F6C_DD1D
    }

    deinit {
        qname.deallocate()
        qnameLower.deallocate()
        scratch.deallocate()
        chase.deallocate()
        labelOffsets.deallocate()
        proofSlots.deallocate()
        extraOptions.deallocate()
    }

    /// Answers `query` into `response` (capacity octets). Returns the response length, or 0 when the
    /// packet must not be answered (shorter than a header, or QR=1). `client` is the packet's source
    /// address (nil when unknown).
    public func process(
        query: UnsafeRawBufferPointer, response: UnsafeMutablePointer<UInt8>, capacity: Int,
        transport: Transport, client: IPAddress?, snapshot: Snapshot
    ) -> Int {
        counters.bump(WorkerCounters.Slot.queries)
        counters.bump(transport == .udp ? WorkerCounters.Slot.udp : WorkerCounters.Slot.tcp)
        var q = ParsedQuery()
        let outcome = QueryParser.parse(query, into: &q, qname: qname, qnameLower: qnameLower, scratch: scratch)
        switch outcome {
        case .drop:
            counters.bump(WorkerCounters.Slot.dropped)
            return 0
        case let .error(rcode):
            return errorResponse(q, rcode: rcode, response: response, capacity: capacity)
        case .cookieOnly:
            return cookieOnlyResponse(q, query: query, response: response, capacity: capacity, client: client, snapshot: snapshot)
        case .query:
            break
        }
        if q.clientSubnet != nil { counters.bump(WorkerCounters.Slot.clientSubnet) }
        // COOKIE and edns-tcp-keepalive, encoded into `extraOptions` now (one test when neither was sent)
        var optionsLength = 0
        var cookieValid = false
        if q.cookieLength | q.keepalive != 0 {
            // RFC 7828 §3.2.1: a client must not send a TIMEOUT; over UDP the option is ignored
            if transport == .tcp && q.keepalive & ParsedQuery.keepaliveMalformed != 0 {
                return errorResponse(q, rcode: RCode.formErr, response: response, capacity: capacity)
            }
            (optionsLength, cookieValid) = encodeResponseOptions(q, query: query, transport: transport, client: client, cookies: snapshot.cookies)
        }
        // ECS SCOPE PREFIX-LENGTH of the response (RFC 7871 §7.2.1): 0 unless a GSLB decision sets it
        var scope: UInt8 = 0

        // Response size: 512 without EDNS, else the client's size (at least 512) capped at ours
        // (RFC 6891 §6.2.3, §6.2.5); TCP up to 65535 (RFC 7766 §8).
        var maxSize: Int
        switch transport {
        case .tcp: maxSize = WireLimits.maxTCPMessage
        case .udp:
            maxSize =
                q.hasEDNS
                ? max(WireLimits.classicUDPSize, min(Int(q.ednsUDPSize), Int(snapshot.udpPayloadSize)))
                : WireLimits.classicUDPSize
        }
        maxSize = min(maxSize, capacity)
        let nsidLength = (q.hasEDNS && q.nsidRequested) ? snapshot.identity.nsid?.count : nil
        let optLength =
            q.hasEDNS ? ResponseWriter.optLength(clientSubnet: q.clientSubnet, nsidLength: nsidLength, optionsLength: optionsLength) : 0
        var w = ResponseWriter(
            buffer: response, limit: maxSize - optLength, qnameLower: qnameLower,
            qnameLength: q.qnameLength)
        w.writeHeader(id: q.id, flags: 0)
        w.writeQuestion(name: qname, length: q.qnameLength, type: q.qtype, class: q.qclass)
        let questionEnd = w.mark
        var flags = HeaderFlag.qr | (q.flags & (HeaderFlag.rd | HeaderFlag.cd))
        var rcode = RCode.noError
        // the zone and node of the answer: the rate limiter's class of the response (-1: none)
        var answerZone: Int32 = -1
        var answerNode: Int32 = -1

        counters.bumpQType(q.qtype)
        if q.hasEDNS && q.ednsVersion > 0 {
            rcode = RCode.badVers // RFC 6891 §6.1.3: BADVERS, answered with our version 0
            counters.bump(WorkerCounters.Slot.badVersion)
        } else if q.qclass == DNSClass.in {
            switch q.qtype {
            case DNSType.axfr, DNSType.ixfr: rcode = RCode.refused // over UDP (RFC 5936 §4.2); TCP hands them to ZoneTransfer first
            case DNSType.maila, DNSType.mailb: rcode = RCode.notImp
            case DNSType.opt, DNSType.tkey, DNSType.tsig: rcode = RCode.formErr // not valid as a QTYPE
            default:
                let zone = snapshot.findZone(qnameLower, length: q.qnameLength)
                if zone < 0 {
                    rcode = RCode.refused // not authoritative; no upward referral
                } else {
                    // the zone by an unmanaged reference, its signatures as plain pointers: no reference
                    // counting per query
                    let result = snapshot.zoneRefs[zone]._withUnsafeGuaranteedRef { z in
                        answer(
                            zone: z, signatures: q.ednsDO ? z.signatureTables : nil, zoneIndex: zone, snapshot: snapshot, q: q,
                            transport: transport, source: client, writer: &w)
                    }
                    rcode = result.rcode
                    scope = result.scope
                    answerZone = Int32(truncatingIfNeeded: zone)
                    answerNode = result.node
                    if result.authoritative { flags |= HeaderFlag.aa }
                    if result.truncated {
                        flags |= HeaderFlag.tc
                        counters.bump(WorkerCounters.Slot.truncated)
                    }
                }
            }
        } else if q.qclass == DNSClass.chaos {
            switch chaosAnswer(q: q, snapshot: snapshot, writer: &w) {
            case .answered: flags |= HeaderFlag.aa
            case .truncated:
                flags |= HeaderFlag.aa | HeaderFlag.tc
                counters.bump(WorkerCounters.Slot.truncated)
            case .refused: rcode = RCode.refused
            }
        } else {
            rcode = RCode.refused
        }

        // Response rate limiting over UDP (a valid server cookie proves the source: RFC 7873 §5.2.5)
        if transport == .udp && !cookieValid, let limiterRef, let client,
            !snapshot.rateLimitRef._withUnsafeGuaranteedRef({ policy in
                !policy.enabled
                    || limiterRef._withUnsafeGuaranteedRef {
                        allowed(
                            $0, policy: policy, client: client, kind: ResponseClass.of(rcode: rcode, flags: flags, zone: answerZone),
                            zone: answerZone, node: answerNode, qtype: q.qtype, subnet: q.clientSubnet, scope: scope)
                    }
            })
        {
            let (slips, badCookieSlip) = snapshot.rateLimitRef._withUnsafeGuaranteedRef { policy in
                (limiterRef._withUnsafeGuaranteedRef { $0.slips(policy.slip) }, policy.badCookieSlip)
            }
            guard slips else {
                counters.bump(WorkerCounters.Slot.rrlDropped)
                return 0
            }
            counters.bump(WorkerCounters.Slot.rrlSlipped)
            // no records: the client learns to retry over TCP (TC), or to come back with the server
            // cookie it is given (BADCOOKIE, RFC 7873 §5.2.3 option 2)
            w.rollback(to: questionEnd)
            flags &= ~HeaderFlag.aa
            if badCookieSlip && optionsLength >= ServerCookieOption.length {
                rcode = RCode.badCookie
                counters.bump(WorkerCounters.Slot.cookieBadCookie)
            } else {
                rcode = RCode.noError
                flags |= HeaderFlag.tc
            }
        }
        if q.hasEDNS {
            w.limit = maxSize
            let options = UnsafeRawBufferPointer(start: extraOptions, count: optionsLength)
            if nsidLength != nil, let nsid = snapshot.identity.nsid {
                nsid.withUnsafeBytes { bytes in
                    w.writeOPT(
                        udpSize: snapshot.udpPayloadSize, extendedRCode: UInt8(rcode >> 4), dnssecOK: q.ednsDO,
                        clientSubnet: q.clientSubnet, scope: scope, nsid: bytes, options: options)
                }
            } else {
                w.writeOPT(
                    udpSize: snapshot.udpPayloadSize, extendedRCode: UInt8(rcode >> 4), dnssecOK: q.ednsDO,
                    clientSubnet: q.clientSubnet, scope: scope, nsid: nil, options: options)
            }
        }
        count(rcode)
        return w.finish(flags: flags | (rcode & 0x000F))
    }

    /// FORMERR / NOTIMP before a full parse: the header, and the question if it was read.
    func errorResponse(_ q: ParsedQuery, rcode: UInt16, response: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int {
        count(rcode)
        guard capacity >= WireLimits.headerLength + 4 + 256 else { return 0 }
        var w = ResponseWriter(
            buffer: response, limit: capacity, qnameLower: qnameLower,
            qnameLength: q.hasQuestion ? q.qnameLength : 0)
        w.writeHeader(id: q.id, flags: 0)
        if q.hasQuestion {
            w.writeQuestion(name: qname, length: q.qnameLength, type: q.qtype, class: q.qclass)
        }
        // A NOTIMP reply to an opcode we do not implement copies RD only, as Knot and gdnsd do (ISC's
        // genreport "opcodeflg" test); FORMERR keeps CD too (RFC 4035 §3.1.6).
        let copied = rcode == RCode.notImp ? HeaderFlag.rd : HeaderFlag.rd | HeaderFlag.cd
        let flags = HeaderFlag.qr | (q.flags & (HeaderFlag.opcodeMask | copied)) | rcode
        return w.finish(flags: flags)
    }

    @inline(__always) func count(_ rcode: UInt16) { counters.bumpRCode(rcode) }

    /// Copies the facts of a sampled decision into the ring (fixed-size record: no allocation).
    func record(_ ring: DecisionRing, q: ParsedQuery, service: Int32, decision: Decision, client: SteeringClient) {
        var r = DecisionRecord()
        r.nanoseconds = clock?() ?? 0
        r.qtype = q.qtype
        r.service = service
        r.pool = decision.pool
        r.scope = decision.scope
        r.family = UInt8(client.address?.family.rawValue ?? 0)
        r.address = client.address?.value ?? 0
        r.ecsSource = q.clientSubnet.map { Int16($0.sourcePrefix) } ?? -1 // -1: no ECS option
        r.qnameLength = UInt8(q.qnameLength)
        withUnsafeMutableBytes(of: &r.qname) { bytes in
            for i in 0..<q.qnameLength { bytes[i] = qname[i] }
        }
        ring.push(r)
    }

    // MARK: CHAOS

    enum ChaosOutcome { case answered, truncated, refused }

    /// version.bind / version.server and id.server / hostname.bind TXT in class CH; REFUSED when not
    /// configured; TC when the configured text does not fit the client's size.
    func chaosAnswer(q: ParsedQuery, snapshot: Snapshot, writer w: inout ResponseWriter) -> ChaosOutcome {
        guard q.qtype == DNSType.txt || q.qtype == DNSType.any else { return .refused }
        let rdata: [UInt8]?
        if matches(ChaosNames.versionBind, q) || matches(ChaosNames.versionServer, q) {
            rdata = snapshot.versionTXT
        } else if matches(ChaosNames.idServer, q) || matches(ChaosNames.hostnameBind, q) {
            rdata = snapshot.idTXT
        } else {
            rdata = nil
        }
        guard let rdata else { return .refused }
        let fits = rdata.withUnsafeBytes { bytes in
            w.writeRecord(owner: .question, type: DNSType.txt, class: DNSClass.chaos, ttl: 0, rdata: bytes, section: .answer)
        }
        return fits ? .answered : .truncated
    }

    @inline(__always) func matches(_ name: StaticWireName, _ q: ParsedQuery) -> Bool {
        name.bytes.withUnsafeBufferPointer { WireName.equal($0.baseAddress!, $0.count, qnameLower, q.qnameLength) }
    }

    // MARK: GSLB

    /// Decides service `s` for the query's client and writes its answer (DESIGN.md §5). Health is read
    /// from the snapshot's flat tables; `source` is the packet's source address. With `signatures` (DO=1
    /// in a signed zone) the answer's RRSIGs follow it, made when the zone was signed.
    @inline(__always)
    func steer(
        service s: Int32, snapshot: Snapshot, q: ParsedQuery, source: IPAddress?, owner: ResponseWriter.Owner,
        signatures: UnsafePointer<SignatureTables>?, writer w: inout ResponseWriter
    ) -> SteerResult {
        let client = SteeringClient(subnet: q.clientSubnet, source: source)
        let qtype = q.qtype == DNSType.any ? DNSType.a : q.qtype
        let health = snapshot.health
        let up = health.upFlat.baseAddress! + health.upStart[Int(s)]
        let addressUp = health.addressUpFlat.baseAddress! + health.addressUpStart[Int(s)]
        return snapshot.serviceRefs[Int(s)]._withUnsafeGuaranteedRef { service in
            // `select: hash` starts at an address chosen by the client (sticky); others draw per query
            let random = service.spec.select == .hash ? client.hash : nextRandom()
            let decision = service.decide(client: client.address, qtype: qtype, random: random) { up[$0] }
            if let ring = decisionRing, ring.shouldSample() {
                record(ring, q: q, service: s, decision: decision, client: client)
            }
            let answer: SteerResult.Answer
            if decision.pool >= 0 {
                counters.bumpAnswer(service: Int(s), pool: Int(decision.pool))
                var written: UInt64 = 0
                let degraded = health.degradedFlat[Int(s)]
                var fits = service.writeAnswer(
                    decision, qtype: qtype, owner: owner, random: random,
                    up: { up[$0] }, addressUp: { addressUp[$0] },
                    degraded: degraded, writer: &w, written: &written)
                if fits, let signatures {
                    let mark = w.mark
                    fits = writeAnswerSignature(
                        signatures, service: service, s, decision: decision, qtype: qtype, written: written, owner: owner, writer: &w)
                    // the answer went out with the degraded TTL: its RRSIGs too (RFC 4034 §3; their
                    // original TTL field keeps the signed one, so they still verify)
                    if fits && degraded, let ttl = service.spec.degradedTTL { w.setTTL(ttl, ofRecordsSince: mark) }
                }
                answer = .written(fits: fits)
            } else {
                answer = decision.pool == Decision.noData ? .noData : .staticRecords
            }
            return SteerResult(answer: answer, decision: decision)
        }
    }

    // MARK: RFC 1034 §4.3.2

    /// Outcome of the lookup for the header.
    struct AnswerResult {
        var rcode: UInt16 = RCode.noError
        var authoritative = true
        var truncated = false
        /// ECS SCOPE PREFIX-LENGTH the answer holds for (the widest of the GSLB decisions taken; 0 without).
        var scope: UInt8 = 0
        /// The node the query name resolved to (the wildcard for a synthesised answer), -1 for none:
        /// the rate limiter's class of the response.
        var node: Int32 = -1
    }

    /// Where a name leads inside a zone. For the absent names, the closest encloser and the offset in
    /// the name of the next closer name (the closest encloser with one more label, RFC 5155 §1.3), which
    /// the NSEC3 proofs of a signed zone name.
    enum Resolution {
        case node(Int32)
        /// Synthesized from the wildcard child `node` of the closest encloser (RFC 4592 §3.3.1).
        case wildcard(Int32, closest: Int32, nextCloser: Int)
        case delegation(Int32)
        case nxdomain(closest: Int32, nextCloser: Int)
    }

    /// Writes the start offsets of `name`'s labels, from the left, to `labelOffsets`; returns how many.
    @inline(__always)
    func splitLabels(_ name: UnsafePointer<UInt8>, length: Int) -> Int {
        var labels = 0
        var pos = 0
        while pos < length, name[pos] != 0 {
            labelOffsets[labels] = pos
            labels += 1
            pos += Int(name[pos]) + 1
        }
        return labels
    }

    /// Walks down from the apex one label at a time (RFC 1034 §4.3.2 step 3). Every ancestor of a node
    /// is a node (compiler invariant), so the first missing name ends the walk at the closest encloser.
    @inline(__always)
    func resolve(_ zone: CompiledZone, name: UnsafePointer<UInt8>, length: Int, qtype: UInt16) -> Resolution {
        let labels = splitLabels(name, length: length)
        let zoneLabels = zone.originLabels
        var closest = zone.apexNode
        var nextCloser = 0
        if labels > zoneLabels {
            // k = labels to drop from the left; descend from labels-zoneLabels-1 down to 0
            var drop = labels - zoneLabels - 1
            while drop >= 0 {
                let off = labelOffsets[drop]
                let node = zone.find(name + off, length: length - off)
                if node < 0 {
                    nextCloser = off
                    break
                }
                // a zone cut; DS at the cut itself is answered from this (the parent) side (RFC 4035 §3.1.4.1)
                if zone.nodes[Int(node)].isDelegation && !(drop == 0 && qtype == DNSType.ds) {
                    return .delegation(node)
                }
                closest = node
                if drop == 0 { return .node(node) }
                drop -= 1
            }
        } else {
            return .node(zone.apexNode)
        }
        let wildcard = zone.nodes[Int(closest)].wildcardChild
        return wildcard >= 0
            ? .wildcard(wildcard, closest: closest, nextCloser: nextCloser) : .nxdomain(closest: closest, nextCloser: nextCloser)
    }

    /// Answers from the zone (RFC 1034 §4.3.2), following CNAMEs inside it. With `signatures` (DO=1 in
    /// a signed zone), every authoritative RRset comes with its RRSIGs and every absence with its NSEC3
    /// or NSEC proof (RFC 4035 §3.1, RFC 5155 §7.2).
    func answer(
        zone: CompiledZone, signatures: UnsafePointer<SignatureTables>?, zoneIndex: Int, snapshot: Snapshot, q: ParsedQuery, transport: Transport,
        source: IPAddress?, writer w: inout ResponseWriter
    ) -> AnswerResult {
        var result = AnswerResult()
        let mark = w.mark
        var current: UnsafePointer<UInt8> = UnsafePointer(qnameLower)
        var currentLength = q.qnameLength
        var owner = ResponseWriter.Owner.question
        var ok = true
        let (apexName, apexLength) = zone.name(of: zone.apexNode)
        var proofs = DenialProofs(slots: proofSlots)

        chain: for step in 0..<QueryProcessor.maxChainLength {
            let resolution = resolve(zone, name: current, length: currentLength, qtype: q.qtype)
            let node: Int32
            switch resolution {
            case let .delegation(cut):
                if step == 0 {
                    // Referral (RFC 1034 §4.3.2 3b): NS in authority, AA clear, glue in additional.
                    result.authoritative = false
                    let ns = zone.rrset(of: cut, type: DNSType.ns)
                    let (cutName, cutLength) = zone.name(of: cut)
                    ok =
                        ok
                        && w.writeRRSet(
                            owner: .name(cutName, cutLength), bodies: zone.bodies(zone.rrsets[Int(ns)]),
                            records: Int(zone.rrsets[Int(ns)].records), section: .authority)
                    if let signatures {
                        // the DS and its RRSIGs, or the NSEC3 proving there is none (RFC 4035 §3.1.4, RFC 5155 §7.2.7)
                        let ds = zone.rrset(of: cut, type: DNSType.ds)
                        if ds >= 0 {
                            let set = zone.rrsets[Int(ds)]
                            ok =
                                ok
                                && w.writeRRSet(
                                    owner: .name(cutName, cutLength), bodies: zone.bodies(set), records: Int(set.records),
                                    section: .authority)
                                && writeSignatures(signatures, of: Int(ds), owner: .name(cutName, cutLength), section: .authority, writer: &w)
                        } else {
                            proofs.add(signatures.pointee.matching[Int(cut)])
                        }
                    }
                    if ok && proofs.count > 0, let signatures { ok = writeProofs(proofs, signatures, writer: &w) }
                    proofs = DenialProofs(slots: proofSlots)
                    let n = zone.nodes[Int(cut)]
                    for g in Int(n.glueStart)..<(Int(n.glueStart) + Int(n.glueCount)) where ok {
                        let ref = zone.glue[g]
                        let (gName, gLength) = zone.name(of: ref.node)
                        let set = zone.rrsets[Int(ref.rrset)]
                        // RFC 9471: glue that does not fit sets TC
                        ok = w.writeRRSet(
                            owner: .name(gName, gLength), bodies: zone.bodies(set),
                            records: Int(set.records), section: .additional)
                    }
                }
                break chain
            case let .nxdomain(closest, nextCloser):
                result.rcode = RCode.nxDomain
                ok =
                    ok
                    && w.writeRRSet(
                        owner: .name(apexName, apexLength), bodies: zone.bodies(zone.negativeSOA),
                        records: 1, section: .authority)
                if let signatures {
                    ok = ok && writeNegativeSOASignatures(signatures, apex: (apexName, apexLength), writer: &w)
                    if signatures.pointee.usesNSEC {
                        // the name and the wildcard at the closest encloser are absent (RFC 4035 §3.1.3.2)
                        proofs.add(nsecCover(signatures, name: current, length: currentLength))
                    } else {
                        // closest encloser, next closer name, wildcard at the closest encloser (RFC 5155 §7.2.2)
                        proofs.add(signatures.pointee.matching[Int(closest)])
                        proofs.add(nextCloserCover(signatures, name: current, length: currentLength, offset: nextCloser))
                    }
                    proofs.add(signatures.pointee.wildcardCover[Int(closest)])
                }
                break chain
            case let .node(n):
                node = n
                if step == 0 { result.node = n }
            case let .wildcard(n, closest, nextCloser):
                node = n // RFC 4592 §3.3.1: synthesized with the query owner
                if step == 0 { result.node = n }
                if let signatures {
                    let noData = zone.rrset(of: n, type: q.qtype) < 0 && !zone.nodes[Int(n)].isAlias && q.qtype != DNSType.any
                    if signatures.pointee.usesNSEC {
                        // no exact match (RFC 4035 §3.1.3.3); NODATA adds the wildcard's NSEC (§3.1.3.4)
                        proofs.add(nsecCover(signatures, name: current, length: currentLength))
                        if noData { proofs.add(signatures.pointee.matching[Int(n)]) }
                    } else {
                        // no closer match exists (RFC 5155 §7.2.6); NODATA adds the encloser and the wildcard (§7.2.5)
                        proofs.add(nextCloserCover(signatures, name: current, length: currentLength, offset: nextCloser))
                        if noData {
                            proofs.add(signatures.pointee.matching[Int(closest)])
                            proofs.add(signatures.pointee.matching[Int(n)])
                        }
                    }
                }
            }

            // A GSLB service on this name answers A/AAAA (and ANY, minimally) for the client (DESIGN.md §5).
            if case .node = resolution, q.qtype == DNSType.a || q.qtype == DNSType.aaaa || q.qtype == DNSType.any {
                let s = snapshot.service(zone: zoneIndex, node: node)
                if s >= 0 {
                    let steered = steer(
                        service: s, snapshot: snapshot, q: q, source: source, owner: owner, signatures: signatures, writer: &w)
                    result.scope = max(result.scope, steered.decision.scope)
                    switch steered.answer {
                    case let .written(fits):
                        ok = ok && fits
                        break chain
                    case .noData:
                        // no region has data of the type: NODATA (RFC 2308 §2.2)
                        ok =
                            ok
                            && w.writeRRSet(
                                owner: .name(apexName, apexLength), bodies: zone.bodies(zone.negativeSOA),
                                records: 1, section: .authority)
                        if let signatures {
                            ok = ok && writeNegativeSOASignatures(signatures, apex: (apexName, apexLength), writer: &w)
                            proofs.add(signatures.pointee.matching[Int(node)])
                        }
                        break chain
                    case .staticRecords: break
                    }
                    // Decision.staticRecords: the zone's own records below, with the decision's scope
                }
            }
            let info = zone.nodes[Int(node)]
            if q.qtype == DNSType.any && info.rrsetCount > 0 {
                // RFC 8482 §4.1: over UDP one RRset stands for the node; TCP gets them all.
                let count = transport == .udp ? 1 : Int(info.rrsetCount)
                for i in Int(info.firstRRSet)..<(Int(info.firstRRSet) + count) where ok {
                    let set = zone.rrsets[i]
                    ok = w.writeRRSet(owner: owner, bodies: zone.bodies(set), records: Int(set.records), section: .answer)
                    if ok, let signatures { ok = writeSignatures(signatures, of: i, owner: owner, section: .answer, writer: &w) }
                }
                break chain
            }
            let wanted = zone.rrset(of: node, type: q.qtype)
            if wanted >= 0 {
                let set = zone.rrsets[Int(wanted)]
                ok = ok && w.writeRRSet(owner: owner, bodies: zone.bodies(set), records: Int(set.records), section: .answer)
                if ok, let signatures { ok = writeSignatures(signatures, of: Int(wanted), owner: owner, section: .answer, writer: &w) }
                break chain
            }
            if info.isAlias {
                // RFC 1034 §3.6.2 / §4.3.2 3a: answer the CNAME and restart at its target inside the zone.
                let cnameIndex = Int(zone.rrset(of: node, type: DNSType.cname))
                let cname = zone.rrsets[cnameIndex]
                ok = ok && w.writeRRSet(owner: owner, bodies: zone.bodies(cname), records: 1, section: .answer)
                if ok, let signatures { ok = writeSignatures(signatures, of: cnameIndex, owner: owner, section: .answer, writer: &w) }
                guard ok else { break chain }
                let target = zone.firstRDATA(cname)
                let targetLength = target.count
                guard targetLength <= 255 else { break chain }
                WireName.lowercase(target.baseAddress!.assumingMemoryBound(to: UInt8.self), length: targetLength, into: chase)
                let inZone = zone.origin.withUnsafeBufferPointer {
                    WireName.isSubdomain(chase, targetLength, of: $0.baseAddress!, $0.count)
                }
                guard inZone else { break chain }
                current = UnsafePointer(chase)
                currentLength = targetLength
                owner = .name(UnsafePointer(chase), targetLength)
                continue chain
            }
            // NODATA (RFC 2308 §2.2): NOERROR, SOA in authority
            ok =
                ok
                && w.writeRRSet(
                    owner: .name(apexName, apexLength), bodies: zone.bodies(zone.negativeSOA),
                    records: 1, section: .authority)
            if let signatures {
                ok = ok && writeNegativeSOASignatures(signatures, apex: (apexName, apexLength), writer: &w)
                if case .node = resolution { proofs.add(signatures.pointee.matching[Int(node)]) }
            }
            break chain
        }
        if ok && proofs.count > 0, let signatures { ok = writeProofs(proofs, signatures, writer: &w) }
        if !ok {
            // No partial RRsets: keep the question (and OPT, written later) and set TC (RFC 2181 §9).
            w.rollback(to: mark)
            result.truncated = true
        }
        return result
    }
}

/// A lower-case wire name known at compile time.
struct StaticWireName: Sendable {
    let bytes: [UInt8]
}

/// CHAOS-class names answered about the server itself.
/// (Literal wire bytes: no lazy initialisation on the first CHAOS query.)
enum ChaosNames {
    static let versionBind = StaticWireName(bytes: [7, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6F, 0x6E, 4, 0x62, 0x69, 0x6E, 0x64, 0])
    static let versionServer = StaticWireName(bytes: [7, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6F, 0x6E, 6, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0])
    static let idServer = StaticWireName(bytes: [2, 0x69, 0x64, 6, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0])
    static let hostnameBind = StaticWireName(bytes: [8, 0x68, 0x6F, 0x73, 0x74, 0x6E, 0x61, 0x6D, 0x65, 4, 0x62, 0x69, 0x6E, 0x64, 0])
}
