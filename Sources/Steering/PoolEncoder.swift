import DNSWire

/// A service's pools compiled for the wire: what `CompiledService` reads to write an answer.
struct EncodedPools {
    var pools: [CompiledPool] = []
    /// Cumulative address weights, per pool A then AAAA (`CompiledPool.weightOffset`).
    var weights: [UInt32] = []
    /// RR bodies with the service's TTL, and the same with the degraded TTL (same offsets).
    var data: [UInt8] = []
    var degradedData: [UInt8] = []
    /// Index of the last-resort pool (after the regions), -1 without one.
    var lastResort: Int32 = -1
    /// Endpoint id of each address (same index as `weights`) and of each pool's CNAME target; -1 for
    /// none (the last-resort pool's addresses, pools without a target).
    var addressEndpoints: [Int32] = []
    var targetEndpoints: [Int32] = []
}

/// Lays out a service's pools and addresses (control plane): the regions' pools in declared order,
/// then the last-resort pool of `all_down` when it names addresses or a CNAME.
///
/// Invariant: a service's addresses are numbered in layout order, pool by pool, A before AAAA within
/// a pool; address i has its cumulative weight at `weights[i]` and its bodies at the same offset in
/// `data` and `degradedData`, and its endpoint id at `addressEndpoints[i]`. `appendAddresses` is the
/// one place they are laid out; health (`addressUp`) and `status` read them by the same index.
enum PoolEncoder {
    /// Encodes `spec`'s pools, interning the endpoints of its regular pools in `endpoints`.
    static func encode(_ spec: ServiceSpec, endpoints: EndpointIndex) throws -> EncodedPools {
        let at = spec.declaredAt
        var allPools = spec.pools
        switch spec.allDown {
        case .failOpen: break
        case let .addresses(list): allPools.append(PoolSpec(region: "all_down", addresses: list, declaredAt: at))
        case let .cname(target): allPools.append(PoolSpec(region: "all_down", cname: target, declaredAt: at))
        }
        guard (0...1).contains(spec.upShare) else { throw SteeringError(at, "up_share must be between 0 and 1") }
        var out = EncodedPools()
        for (p, pool) in allPools.enumerated() {
            try encode(pool, of: spec, endpoints: p < spec.pools.count ? endpoints : nil, into: &out)
        }
        if allPools.count > spec.pools.count { out.lastResort = Int32(spec.pools.count) }
        return out
    }

    /// Appends one pool: its A bodies, AAAA bodies, CNAME body, its addresses' weights and endpoint
    /// ids (interned in `endpoints`; nil: the pool has no endpoints, ids -1).
    static func encode(_ pool: PoolSpec, of spec: ServiceSpec, endpoints: EndpointIndex?, into out: inout EncodedPools) throws {
        var a: [LaidOutAddress] = []
        var aaaa: [LaidOutAddress] = []
        for address in pool.addresses {
            guard let ip = IPAddress(address.text) else {
                throw SteeringError(pool.declaredAt.isEmpty ? spec.declaredAt : pool.declaredAt, "'\(address.text)' is not an IP address")
            }
            guard address.weight > 0 else { throw SteeringError(pool.declaredAt, "address weight must be positive") }
            let octets = ip.family == .v4 ? 4 : 16
            let rdata = (0..<octets).map { UInt8(truncatingIfNeeded: ip.value >> UInt128(8 * (octets - 1 - $0))) }
            let endpoint = endpoints?.id(EndpointKey(address: address.text, check: pool.check)) ?? -1
            let laidOut = LaidOutAddress(rdata: rdata, weight: address.weight, endpoint: endpoint)
            if ip.family == .v4 { a.append(laidOut) } else { aaaa.append(laidOut) }
        }
        let target = pool.cname.map { $0.hasSuffix(".") ? String($0.dropLast()) : $0 }
        out.targetEndpoints.append(target.flatMap { endpoints?.id(EndpointKey(address: $0, check: pool.check)) } ?? -1)
        var cname: [UInt8]?
        if let target = pool.cname {
            guard let wire = WireName.fromText(target) else {
                throw SteeringError(pool.declaredAt, "cname '\(target)' is not a domain name")
            }
            cname = wire
        }
        let weightOffset = Int32(out.weights.count)
        let aOffset = Int32(out.data.count)
        appendAddresses(a, type: DNSType.a, of: spec, into: &out)
        let aaaaOffset = Int32(out.data.count)
        appendAddresses(aaaa, type: DNSType.aaaa, of: spec, into: &out)
        var cnameOffset: Int32 = -1
        var cnameLength: Int32 = 0
        if let cname {
            cnameOffset = Int32(out.data.count)
            appendBody(&out.data, type: DNSType.cname, ttl: spec.ttl, rdata: cname)
            appendBody(&out.degradedData, type: DNSType.cname, ttl: spec.degradedTTL ?? spec.ttl, rdata: cname)
            cnameLength = Int32(out.data.count) - cnameOffset
        }
        out.pools.append(
            CompiledPool(
                region: pool.region, aOffset: aOffset, aCount: Int32(a.count),
                aaaaOffset: aaaaOffset, aaaaCount: Int32(aaaa.count),
                cnameOffset: cnameOffset, cnameLength: cnameLength,
                aBefore: out.pools.reduce(0) { $0 + $1.aCount }, aaaaBefore: out.pools.reduce(0) { $0 + $1.aaaaCount },
                weightOffset: weightOffset, weight: pool.weight,
                regionHash: regionHash(pool.region)))
    }

    /// One address of a pool as it is laid out: its RDATA, weight and endpoint id (-1: none).
    struct LaidOutAddress {
        let rdata: [UInt8]
        let weight: Int
        let endpoint: Int32
    }

    /// Lays out one family's addresses of a pool: an RR body each in both record areas, the running
    /// sum of their weights (restarting at each family of each pool), and their endpoint ids.
    static func appendAddresses(_ addresses: [LaidOutAddress], type: UInt16, of spec: ServiceSpec, into out: inout EncodedPools) {
        var sum: UInt32 = 0
        for x in addresses {
            appendBody(&out.data, type: type, ttl: spec.ttl, rdata: x.rdata)
            appendBody(&out.degradedData, type: type, ttl: spec.degradedTTL ?? spec.ttl, rdata: x.rdata)
            sum += UInt32(x.weight)
            out.weights.append(sum)
            out.addressEndpoints.append(x.endpoint)
        }
    }

    /// FNV-1a (64 bits) of the region name (`CompiledPool.regionHash`).
    static func regionHash(_ region: String) -> UInt64 {
        region.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }

    /// TYPE CLASS(IN) TTL RDLENGTH RDATA (RFC 1035 §4.1.3).
    static func appendBody(_ data: inout [UInt8], type: UInt16, ttl: UInt32, rdata: [UInt8]) {
        data += [
            UInt8(type >> 8), UInt8(type & 0xFF), 0, 1,
            UInt8(ttl >> 24), UInt8((ttl >> 16) & 0xFF), UInt8((ttl >> 8) & 0xFF), UInt8(ttl & 0xFF),
            UInt8(rdata.count >> 8), UInt8(rdata.count & 0xFF),
        ]
        data += rdata
    }
}
