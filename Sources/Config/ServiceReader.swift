import Steering

/// Reads one entry of `services:` (its map, all_down and hash_prefix in `ServiceFieldReaders.swift`,
/// its pools in `PoolReader.swift`).
struct ServiceReader {
    let reader: NodeReader

    func read(name: String, node: YAMLNode) throws -> ServiceSpec {
        var spec = ServiceSpec(name: name.hasSuffix(".") ? name : name + ".")
        spec.declaredAt = "\(reader.file):\(reader.line(node))"
        var sawPools = false
        for (k, v) in try reader.mapping(node, "service \(name)") {
            switch k {
            case "policy":
                let text = try reader.string(v, k)
                guard let p = PolicyKind(rawValue: text) else {
                    throw reader.error(v, "unknown policy '\(text)' (expected \(PolicyKind.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                spec.policy = p
            case "ttl": spec.ttl = UInt32(try reader.int(v, k, in: 0...86400))
            case "map": try readMap(v, into: &spec.map)
            case "networks": spec.networks = reader.resolve(try reader.string(v, k))
            case "latency_table": spec.latencyTable = reader.resolve(try reader.string(v, k))
            case "order": spec.order = try reader.regionList(v, k)
            case "fallback": spec.fallback = try reader.regionList(v, k)
            case "bias":
                for (region, km) in try reader.mapping(v, "bias") {
                    guard let d = Double(try reader.string(km, "bias")) else { throw reader.error(km, "bias must be kilometres") }
                    spec.bias[region] = d
                }
            case "select":
                let text = try reader.string(v, k)
                guard let s = SelectKind(rawValue: text) else {
                    throw reader.error(v, "unknown select '\(text)' (expected \(SelectKind.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                spec.select = s
            case "max_answers": spec.maxAnswers = try reader.int(v, k, in: 0...64)
            case "up_share": spec.upShare = try reader.double(v, k)
            case "degraded_ttl": spec.degradedTTL = UInt32(try reader.int(v, k, in: 0...86400))
            case "all_down": try readAllDown(v, into: &spec.allDown)
            case "hash_prefix": try readHashPrefix(v, into: &spec)
            case "pools":
                sawPools = true
                for (region, p) in try reader.mapping(v, "pools") {
                    spec.pools.append(try pool(region: region, node: p))
                }
            default:
                throw reader.error(
                    v,
                    "unknown service key '\(k)' (expected policy, ttl, map, networks, latency_table, order, fallback, bias, select, max_answers, hash_prefix, up_share, all_down, degraded_ttl, pools)"
                )
            }
        }
        guard sawPools, !spec.pools.isEmpty else { throw reader.error(node, "service \(name) needs pools") }
        return spec
    }
}
