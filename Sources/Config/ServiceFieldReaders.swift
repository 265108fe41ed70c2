import Steering

extension ServiceReader {
    /// `map:` continent / country / subdivision (codes upper-cased) -> region list, and `default`.
    func readMap(_ node: YAMLNode, into map: inout GeoMapSpec) throws {
        for (level, table) in try reader.mapping(node, "map") {
            switch level {
            case "default": map.defaultRegions = try reader.regionList(table, "map default")
            case "continent", "country", "subdivision":
                var entries: [String: RegionList] = [:]
                for (code, list) in try reader.mapping(table, "map \(level)") {
                    entries[code.uppercased()] = try reader.regionList(list, "map \(level) \(code)")
                }
                switch level {
                case "continent": map.continent = entries
                case "country": map.country = entries
                default: map.subdivision = entries
                }
            default: throw reader.error(table, "unknown map level '\(level)' (expected continent, country, subdivision, default)")
            }
        }
    }

    /// `all_down:` `fail_open`, `{ addresses: [...] }` or `{ cname: NAME }` (in a mapping the last key wins).
    func readAllDown(_ node: YAMLNode, into allDown: inout AllDown) throws {
        if case .mapping = node.kind {
            for (ak, av) in try reader.mapping(node, "all_down") {
                switch ak {
                case "addresses": allDown = .addresses(try reader.sequence(av, "addresses").map { PoolAddress(text: try reader.string($0, "address")) })
                case "cname": allDown = .cname(try reader.string(av, "cname"))
                default: throw reader.error(av, "all_down takes addresses or cname")
                }
            }
        } else {
            let text = try reader.string(node, "all_down")
            guard text == "fail_open" else { throw reader.error(node, "all_down must be fail_open, { addresses: [...] } or { cname: NAME }") }
            allDown = .failOpen
        }
    }

    /// `hash_prefix:` `v4` (0-32) and `v6` (0-128) prefix lengths hashed by `policy: hash`.
    func readHashPrefix(_ node: YAMLNode, into spec: inout ServiceSpec) throws {
        for (family, len) in try reader.mapping(node, "hash_prefix") {
            switch family {
            case "v4": spec.hashPrefixV4 = try reader.int(len, "hash_prefix v4", in: 0...32)
            case "v6": spec.hashPrefixV6 = try reader.int(len, "hash_prefix v6", in: 0...128)
            default: throw reader.error(len, "hash_prefix keys are v4 and v6")
            }
        }
    }
}
