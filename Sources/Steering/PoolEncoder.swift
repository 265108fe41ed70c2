import DNSWire
import Geo

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
    /// The pools laid out, in layout order (the regions' pools, then the last-resort pool).
    var specs: [PoolSpec] = []
}

/// Lays out a service's pools and addresses (control plane): the regions' pools in declared order,
/// then the last-resort pool of `all_down` when it names addresses or a CNAME.
///
/// Invariant: a service's addresses are numbered in layout order, pool by pool, A before AAAA within
/// a pool; address i has its cumulative weight at `weights[i]` and its bodies at the same offset in
/// `data` and `degradedData`. `appendAddresses` is the one place they are laid out; health
/// (`addressUp`) and `status` count addresses the same way.
enum PoolEncoder {
    static func encode(_ spec: ServiceSpec) throws -> EncodedPools {
        let at = spec.declaredAt
        var allPools = spec.pools
        switch spec.allDown {
        case .failOpen: break
        case let .addresses(list): allPools.append(PoolSpec(region: "all_down", addresses: list, declaredAt: at))
        case let .cname(target): allPools.append(PoolSpec(region: "all_down", cname: target, declaredAt: at))
        }
        guard (0...1).contains(spec.upShare) else { throw SteeringError(at, "up_share must be between 0 and 1") }
        var out = EncodedPools()
        for pool in allPools { try encode(pool, of: spec, into: &out) }
        if allPools.count > spec.pools.count { out.lastResort = Int32(spec.pools.count) }
        out.specs = allPools
        return out
    }

    /// Appends one pool: its A bodies, AAAA bodies, CNAME body, and its addresses' weights.
    static func encode(_ pool: PoolSpec, of spec: ServiceSpec, into out: inout EncodedPools) throws {
        var a: [(rdata: [UInt8], weight: Int)] = []
        var aaaa: [(rdata: [UInt8], weight: Int)] = []
        for address in pool.addresses {
            guard let (family, value) = IPPrefix.parseAddress(address.text) else {
                throw SteeringError(pool.declaredAt.isEmpty ? spec.declaredAt : pool.declaredAt, "'\(address.text)' is not an IP address")
            }
            guard address.weight > 0 else { throw SteeringError(pool.declaredAt, "address weight must be positive") }
            let octets = family == 4 ? 4 : 16
            let rdata = (0..<octets).map { UInt8(truncatingIfNeeded: value >> UInt128(8 * (octets - 1 - $0))) }
            if family == 4 { a.append((rdata, address.weight)) } else { aaaa.append((rdata, address.weight)) }
        }
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
                weightOffset: weightOffset, weight: pool.weight,
                regionHash: regionHash(pool.region)))
    }

    /// Lays out one family's addresses of a pool: an RR body each in both record areas, and the
    /// running sum of their weights (restarting at each family of each pool).
    static func appendAddresses(
        _ addresses: [(rdata: [UInt8], weight: Int)], type: UInt16, of spec: ServiceSpec,
        into out: inout EncodedPools
    ) {
        var sum: UInt32 = 0
        for x in addresses {
            appendBody(&out.data, type: type, ttl: spec.ttl, rdata: x.rdata)
            appendBody(&out.degradedData, type: type, ttl: spec.degradedTTL ?? spec.ttl, rdata: x.rdata)
            sum += UInt32(x.weight)
            out.weights.append(sum)
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
