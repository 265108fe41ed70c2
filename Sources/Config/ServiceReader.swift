import Steering

/// Reads one entry of `services:`.
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
            case "map":
                for (level, table) in try reader.mapping(v, "map") {
                    switch level {
                    case "default": spec.map.defaultRegions = try reader.regionList(table, "map default")
                    case "continent", "country", "subdivision":
                        var entries: [String: RegionList] = [:]
                        for (code, list) in try reader.mapping(table, "map \(level)") {
                            entries[code.uppercased()] = try reader.regionList(list, "map \(level) \(code)")
                        }
                        switch level {
                        case "continent": spec.map.continent = entries
                        case "country": spec.map.country = entries
                        default: spec.map.subdivision = entries
                        }
                    default: throw reader.error(table, "unknown map level '\(level)' (expected continent, country, subdivision, default)")
                    }
                }
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
            case "all_down":
                if case .mapping = v.kind {
                    for (ak, av) in try reader.mapping(v, "all_down") {
                        switch ak {
                        case "addresses": spec.allDown = .addresses(try reader.sequence(av, "addresses").map { PoolAddress(text: try reader.string($0, "address")) })
                        case "cname": spec.allDown = .cname(try reader.string(av, "cname"))
                        default: throw reader.error(av, "all_down takes addresses or cname")
                        }
                    }
                } else {
                    let text = try reader.string(v, k)
                    guard text == "fail_open" else { throw reader.error(v, "all_down must be fail_open, { addresses: [...] } or { cname: NAME }") }
                    spec.allDown = .failOpen
                }
            case "hash_prefix":
                for (family, len) in try reader.mapping(v, "hash_prefix") {
                    switch family {
                    case "v4": spec.hashPrefixV4 = try reader.int(len, "hash_prefix v4", in: 0...32)
                    case "v6": spec.hashPrefixV6 = try reader.int(len, "hash_prefix v6", in: 0...128)
                    default: throw reader.error(len, "hash_prefix keys are v4 and v6")
                    }
                }
            case "pools":
                sawPools = true
                for (region, p) in try reader.mapping(v, "pools") {
                    spec.pools.append(try pool(region: region, node: p))
                }
            default:
                throw reader.error(v, "unknown service key '\(k)' (expected policy, ttl, map, networks, latency_table, order, fallback, bias, select, max_answers, hash_prefix, up_share, all_down, degraded_ttl, pools)")
            }
        }
        guard sawPools, !spec.pools.isEmpty else { throw reader.error(node, "service \(name) needs pools") }
        return spec
    }
}
