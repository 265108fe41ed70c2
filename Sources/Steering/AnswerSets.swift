import DNSWire

/// One RRset a GSLB service can answer (what `CompiledService.writeAnswer` writes), so that a signed
/// zone can sign it ahead of time.
public struct AnswerSet: Sendable, Equatable {
    /// The pool, or -1 for the `all` policy's answers (over every pool).
    public let pool: Int32
    /// A, AAAA or CNAME.
    public let type: UInt16
    /// Which addresses it holds, as `writeAnswer`'s `written` reports them.
    public let mask: UInt64
    /// The records' bodies, TYPE CLASS TTL RDLENGTH RDATA, with the service's TTL.
    public let bodies: [UInt8]
    public let records: Int
}

extension CompiledService {
    /// Every RRset `writeAnswer` can write, whatever the health: down addresses are left out of an up
    /// region, so any non-empty subset of a pool's addresses of a type, up to the answer's size, can be
    /// an answer; the `all` policy answers the addresses of any set of pools from any starting pool, up
    /// to `max_answers`. Nil when there are more than `limit` (the caller refuses to sign the service).
    public func answerSets(limit: Int) -> [AnswerSet]? {
        var sets: [AnswerSet] = []
        func slot(_ pool: CompiledPool, _ type: UInt16) -> (offset: Int, count: Int, size: Int) {
            type == DNSType.a ? (Int(pool.aOffset), Int(pool.aCount), 14) : (Int(pool.aaaaOffset), Int(pool.aaaaCount), 26)
        }
        if case .all = kind {
            let regular = Array(pools.prefix(regularPools))
            guard regular.count <= 16 else { return nil }
            let cap = spec.maxAnswers > 0 ? spec.maxAnswers : Int.max
            for type in [DNSType.a, DNSType.aaaa] {
                // every address of the type, numbered over the pools in order (writeAll's `written`)
                var addresses: [(pool: Int, index: Int)] = []
                for (p, pool) in regular.enumerated() where pool.cnameOffset < 0 {
                    for i in 0..<slot(pool, type).count { addresses.append((p, i)) }
                }
                guard !addresses.isEmpty else { continue }
                guard addresses.count <= 64 else { return nil }
                var masks = Set<UInt64>()
                for subset in 1..<(1 << regular.count) {
                    for start in 0..<regular.count {
                        var mask: UInt64 = 0, written = 0
                        for k in 0..<regular.count {
                            let p = (start + k) % regular.count
                            guard subset & (1 << p) != 0 else { continue }
                            for (bit, a) in addresses.enumerated() where a.pool == p && written < cap {
                                mask |= 1 << UInt64(bit)
                                written += 1
                            }
                        }
                        if mask != 0 { masks.insert(mask) }
                    }
                    if masks.count > limit { return nil }
                }
                for mask in masks.sorted() {
                    var bodies: [UInt8] = []
                    for (bit, a) in addresses.enumerated() where mask & (1 << UInt64(bit)) != 0 {
                        let (offset, _, size) = slot(regular[a.pool], type)
                        bodies += data[(offset + a.index * size)..<(offset + (a.index + 1) * size)]
                    }
                    sets.append(AnswerSet(pool: -1, type: type, mask: mask, bodies: bodies, records: mask.nonzeroBitCount))
                }
            }
            return sets.count <= limit ? sets : nil
        }
        for (p, pool) in pools.enumerated() {
            if pool.cnameOffset >= 0 {
                let body = Array(data[Int(pool.cnameOffset)..<Int(pool.cnameOffset + pool.cnameLength)])
                sets.append(AnswerSet(pool: Int32(p), type: DNSType.cname, mask: 1, bodies: body, records: 1))
                continue
            }
            for type in [DNSType.a, DNSType.aaaa] {
                let (offset, count, size) = slot(pool, type)
                guard count > 0 else { continue }
                guard count <= 20 else { return nil }
                let most = min(spec.maxAnswers > 0 ? spec.maxAnswers : (spec.select == .first ? 1 : count), count)
                for mask in UInt64(1)..<(UInt64(1) << UInt64(count)) where mask.nonzeroBitCount <= most {
                    var bodies: [UInt8] = []
                    for i in 0..<count where mask & (1 << UInt64(i)) != 0 {
                        bodies += data[(offset + i * size)..<(offset + (i + 1) * size)]
                    }
                    sets.append(AnswerSet(pool: Int32(p), type: type, mask: mask, bodies: bodies, records: mask.nonzeroBitCount))
                    if sets.count > limit { return nil }
                }
            }
        }
        return sets
    }
}
