import Steering

extension ServiceReader {
    /// Reads one entry of a service's `pools:` (keyed by region): addresses (plain or `{ address, weight }`),
    /// or a CNAME target, the pool's weight and its check.
    func pool(region: String, node: YAMLNode) throws -> PoolSpec {
        var pool = PoolSpec(region: region, declaredAt: "\(reader.file):\(reader.line(node))")
        for (k, v) in try reader.mapping(node, "pool \(region)") {
            switch k {
            case "addresses":
                for item in try reader.sequence(v, "addresses") {
                    if case .mapping = item.kind {
                        var address: String?
                        var weight = 1
                        for (ak, av) in try reader.mapping(item, "address") {
                            switch ak {
                            case "address": address = try reader.string(av, ak)
                            case "weight": weight = try reader.int(av, ak, in: 1...1_000_000)
                            default: throw reader.error(av, "unknown address key '\(ak)' (expected address, weight)")
                            }
                        }
                        guard let address else { throw reader.error(item, "address entry needs 'address'") }
                        pool.addresses.append(PoolAddress(text: address, weight: weight))
                    } else {
                        pool.addresses.append(PoolAddress(text: try reader.string(item, "address")))
                    }
                }
            case "cname": pool.cname = try reader.string(v, k)
            case "weight": pool.weight = try reader.int(v, k, in: 1...1_000_000)
            case "check": pool.check = try reader.string(v, k)
            default: throw reader.error(v, "unknown pool key '\(k)' (expected addresses, cname, weight, check)")
            }
        }
        return pool
    }
}
