import FoundationEssentials
import Health
import SourceFiles
import Steering

/// Reads the YAML configuration (control plane). Every error names file:line; unknown keys are errors
/// (a typo must not silently fall back to a default). `${VAR}` and `${VAR:-default}` in scalar values
/// expand from the environment; relative paths are taken from the config file's directory.
public enum ConfigLoader {
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MeridianConfig {
        let bytes: [UInt8]
        do { bytes = try SourceFile.readAll(path) } catch let problem as SourceProblem {
            throw ConfigError(file: path, line: 0, reason: problem.reason)
        }
        return try parse(String(decoding: bytes, as: UTF8.self), file: path, environment: environment)
    }

    public static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws -> MeridianConfig {
        let root: YAMLNode
        do {
            guard let node = try YAMLDocumentParser.parse(text) else {
                throw ConfigError(file: file, line: 0, reason: "the file is empty")
            }
            root = node
        } catch let error as YAMLSyntaxError {
            throw ConfigError(file: file, line: error.line, reason: "YAML: \(error.description)")
        }
        let reader = NodeReader(file: file, environment: environment)
        var config = MeridianConfig()
        config.sourceFile = file
        let baseDir = NodeReader.directory(of: file)
        let top = try reader.mapping(root, "the configuration")
        var controlNode: YAMLNode? // where control: is, for errors about it
        var controlSocket: String?? // control.socket as written (nil: not written; .some(nil): off)
        var stateFile: String?? // health.state_file as written (nil: not written; .some(nil): ~, memory only)
        for (key, value) in top {
            switch key {
            case "listen":
                config.listen = try reader.sequence(value, "listen").map { item in
                    let text = try reader.string(item, "listen address")
                    guard let address = MeridianConfig.ListenAddress.parse(text) else {
                        throw reader.error(item, "'\(text)' is not HOST:PORT or [IPv6]:PORT")
                    }
                    return address
                }
            case "zones":
                config.zones = try reader.sequence(value, "zones").map { item in
                    let fields = try reader.mapping(item, "a zone")
                    var origin: String?
                    var zoneFile: String?
                    for (k, v) in fields {
                        switch k {
                        case "origin": origin = try reader.string(v, "origin")
                        case "file": zoneFile = try reader.string(v, "file")
                        default: throw reader.error(v, "unknown zone key '\(k)' (expected origin, file)")
                        }
                    }
                    guard let origin, !origin.isEmpty else { throw reader.error(item, "zone needs 'origin'") }
                    guard var zoneFile else { throw reader.error(item, "zone \(origin) needs 'file'") }
                    if !zoneFile.hasPrefix("/") && !baseDir.isEmpty { zoneFile = baseDir + "/" + zoneFile }
                    let fqdn = origin.hasSuffix(".") ? origin : origin + "."
                    return MeridianConfig.Zone(origin: fqdn, file: zoneFile, declaredAt: "\(file):\(reader.line(item))")
                }
            case "identity":
                for (k, v) in try reader.mapping(value, "identity") {
                    let text = try reader.optionalString(v, k)
                    switch k {
                    case "version": config.identity.version = text
                    case "id": config.identity.id = text
                    case "nsid": config.identity.nsid = text
                    default: throw reader.error(v, "unknown identity key '\(k)' (expected version, id, nsid)")
                    }
                }
            case "server":
                for (k, v) in try reader.mapping(value, "server") {
                    switch k {
                    case "udp_payload_size": config.udpPayloadSize = try reader.int(v, k, in: 512...4096)
                    case "workers": config.workers = try reader.int(v, k, in: 0...256)
                    case "tcp_idle_timeout": config.tcpIdleTimeout = try reader.duration(v, k)
                    case "tcp_max_connections": config.tcpMaxConnections = try reader.int(v, k, in: 1...1_000_000)
                    case "tcp_message_timeout": config.tcpMessageTimeout = try reader.duration(v, k)
                    case "tcp_max_connections_per_client": config.tcpMaxConnectionsPerClient = try reader.int(v, k, in: 1...1_000_000)
                    default:
                        throw reader.error(v, "unknown server key '\(k)' (expected udp_payload_size, workers, tcp_idle_timeout, tcp_max_connections, tcp_message_timeout, tcp_max_connections_per_client)")
                    }
                }
            case "geo":
                config.geoDeclaredAt = "\(file):\(reader.line(value))"
                for (k, v) in try reader.mapping(value, "geo") {
                    switch k {
                    case "database": config.geoDatabase = try reader.optionalString(v, k).map { reader.resolve($0, baseDir) }
                    case "networks": config.geoNetworks = try reader.optionalString(v, k).map { reader.resolve($0, baseDir) }
                    default: throw reader.error(v, "unknown geo key '\(k)' (expected database, networks)")
                    }
                }
            case "regions":
                for (name, v) in try reader.mapping(value, "regions") {
                    var region = RegionSpec(name: name)
                    if case .mapping = v.kind {
                        for (k, field) in try reader.mapping(v, "region \(name)") {
                            switch k {
                            case "location":
                                let items = try reader.sequence(field, "location")
                                guard items.count == 2, let lat = Double(try reader.string(items[0], "latitude")),
                                      let lon = Double(try reader.string(items[1], "longitude")),
                                      (-90...90).contains(lat), (-180...180).contains(lon) else {
                                    throw reader.error(field, "location must be [latitude, longitude] in degrees")
                                }
                                region.latitude = lat
                                region.longitude = lon
                            default: throw reader.error(field, "unknown region key '\(k)' (expected location)")
                            }
                        }
                    } else if try reader.optionalString(v, "region \(name)") != nil {
                        throw reader.error(v, "region \(name) must be a mapping such as { location: [lat, lon] }")
                    }
                    config.regions.append(region)
                }
            case "checks":
                for (name, v) in try reader.mapping(value, "checks") {
                    config.checks.append(try CheckReader(reader: reader, baseDir: baseDir).read(name: name, node: v))
                }
            case "health":
                for (k, v) in try reader.mapping(value, "health") {
                    switch k {
                    case "state_file":
                        stateFile = .some(try reader.optionalString(v, k).map { reader.resolve($0, baseDir) })
                    case "strict_state_file": config.strictStateFile = try reader.bool(v, k)
                    case "wait_first_round": config.waitForFirstRound = try reader.bool(v, k)
                    case "initial":
                        // wait: GSLB answers wait for one round of checks (bounded); up / down: start so
                        let text = try reader.string(v, k)
                        switch text {
                        case "wait": config.waitForFirstRound = true
                        case "up", "down": config.waitForFirstRound = false; config.initialState = text
                        default: throw reader.error(v, "initial must be wait, up or down")
                        }
                    default: throw reader.error(v, "unknown health key '\(k)' (expected state_file, strict_state_file, wait_first_round, initial)")
                    }
                }
            case "control":
                controlNode = value
                for (k, v) in try reader.mapping(value, "control") {
                    switch k {
                    case "listen":
                        if let text = try reader.optionalString(v, k) {
                            guard let a = MeridianConfig.ListenAddress.parse(text) else { throw reader.error(v, "'\(text)' is not HOST:PORT") }
                            config.controlListen = a
                        } else {
                            config.controlListen = nil
                        }
                    case "token": config.controlToken = try reader.optionalString(v, k)
                    case "socket": controlSocket = .some(try reader.optionalString(v, k).map { reader.resolve($0, baseDir) })
                    case "max_connections": config.controlMaxConnections = try reader.int(v, k, in: 1...100_000)
                    case "idle_timeout": config.controlIdleTimeout = try reader.duration(v, k)
                    default: throw reader.error(v, "unknown control key '\(k)' (expected listen, token, socket, max_connections, idle_timeout)")
                    }
                }
            case "decision_log":
                for (k, v) in try reader.mapping(value, "decision_log") {
                    switch k {
                    case "file": config.decisionLog = try reader.optionalString(v, k).map { reader.resolve($0, baseDir) }
                    case "sample": config.decisionLogSample = try reader.int(v, k, in: 1...1_000_000)
                    default: throw reader.error(v, "unknown decision_log key '\(k)' (expected file, sample)")
                    }
                }
            case "state_dir":
                let text = try reader.string(value, key)
                guard !text.isEmpty, !text.utf8.contains(0) else { throw reader.error(value, "state_dir must be a directory path") }
                config.stateDir = reader.resolve(text, baseDir)
            case "services":
                for (name, v) in try reader.mapping(value, "services") {
                    config.services.append(try ServiceReader(reader: reader, baseDir: baseDir).read(name: name, node: v))
                }
            default:
                throw reader.error(value, "unknown key '\(key)' (expected listen, zones, identity, server, geo, regions, checks, health, control, decision_log, state_dir, services)")
            }
        }
        guard !config.zones.isEmpty else { throw ConfigError(file: file, line: 0, reason: "no zones configured") }
        config.stateFile = stateFile ?? config.stateDir + "/overrides.json"
        config.controlSocket = controlSocket ?? config.stateDir + "/control.sock"
        // writes open to the network are refused (a token is required off loopback); on loopback,
        // serve warns that any local user may write
        if let listen = config.controlListen, config.controlToken == nil, !listen.isLoopback, let node = controlNode {
            throw reader.error(node, "control.listen \(listen) is not a loopback address and no control.token is set: writes would be open to the network")
        }
        let checkNames = Set(config.checks.map(\.name))
        for service in config.services {
            for pool in service.pools {
                if let check = pool.check, !checkNames.contains(check) {
                    throw ConfigError(file: file, line: Int(pool.declaredAt.split(separator: ":").last ?? "0") ?? 0,
                                      reason: "pool \(pool.region) of \(service.name) uses check '\(check)', which is not defined under checks")
                }
            }
        }
        var seen: [String: String] = [:]
        for zone in config.zones {
            let key = zone.origin.lowercased()
            if let first = seen[key] {
                throw ConfigError(file: file, line: Int(zone.declaredAt.split(separator: ":").last ?? "0") ?? 0,
                                  reason: "zone \(zone.origin) declared twice (first at \(first))")
            }
            seen[key] = zone.declaredAt
        }
        return config
    }

}

/// Typed access to YAML nodes with file:line errors and environment expansion.
struct NodeReader {
    let file: String
    let environment: [String: String]

    func line(_ node: YAMLNode) -> Int { node.line }

    /// The directory part of a path ("" for a bare file name, "/" for a file in the root).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Relative paths are taken from the config file's directory.
    func resolve(_ path: String, _ baseDir: String) -> String {
        path.hasPrefix("/") || baseDir.isEmpty ? path : baseDir + "/" + path
    }

    /// A region or a list of regions; `static` (or an empty list) = the zone's static records.
    func regionList(_ node: YAMLNode, _ what: String) throws -> RegionList {
        if case .sequence = node.kind { return try sequence(node, what).map { try string($0, what) } }
        let text = try string(node, what)
        if text == "static" { return [] }
        return text.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
    }

    func error(_ node: YAMLNode, _ reason: String) -> ConfigError {
        ConfigError(file: file, line: line(node), reason: reason)
    }

    func mapping(_ node: YAMLNode, _ what: String) throws -> [(String, YAMLNode)] {
        guard case let .mapping(m) = node.kind else { throw error(node, "\(what) must be a mapping") }
        var out: [(String, YAMLNode)] = []
        for (k, v) in m {
            guard let key = k.scalarText else { throw error(k, "keys must be strings") }
            if out.contains(where: { $0.0 == key }) { throw error(k, "duplicate key '\(key)'") }
            out.append((key, v))
        }
        return out
    }

    func sequence(_ node: YAMLNode, _ what: String) throws -> [YAMLNode] {
        guard case let .sequence(s) = node.kind else { throw error(node, "\(what) must be a list") }
        return s
    }

    func string(_ node: YAMLNode, _ what: String) throws -> String {
        guard case let .scalar(text, _) = node.kind else { throw error(node, "\(what) must be a single value") }
        return try expand(text, at: node)
    }

    /// A string, or nil for `false`, `null` or an empty value (the feature is then disabled).
    func optionalString(_ node: YAMLNode, _ what: String) throws -> String? {
        guard case let .scalar(text, plain) = node.kind else { throw error(node, "\(what) must be a single value") }
        if plain, ["false", "null", "~", "", "no", "off"].contains(text.lowercased()) { return nil }
        let value = try expand(text, at: node)
        return value.isEmpty ? nil : value
    }

    func bool(_ node: YAMLNode, _ what: String) throws -> Bool {
        switch try string(node, what).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(node, "\(what) must be true or false")
        }
    }

    func double(_ node: YAMLNode, _ what: String) throws -> Double {
        let text = try string(node, what)
        if text.hasSuffix("%"), let v = Double(text.dropLast()) { return v / 100 }
        guard let v = Double(text) else { throw error(node, "\(what) must be a number") }
        return v
    }

    func int(_ node: YAMLNode, _ what: String, in range: ClosedRange<Int>) throws -> Int {
        let text = try string(node, what)
        guard let v = Int(text), range.contains(v) else {
            throw error(node, "\(what) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return v
    }

    /// "10s", "500ms", "2m", "1h" or a number of seconds.
    func duration(_ node: YAMLNode, _ what: String) throws -> Double {
        let text = String(try string(node, what).trimmingWhitespace())
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            if let v = Double(text.dropLast(suffix.count)), v > 0 { return v * factor }
        }
        if let v = Double(text), v > 0 { return v }
        throw error(node, "\(what) must be a positive duration such as 10s or 500ms, got '\(text)'")
    }

    /// `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`.
    func expand(_ text: String, at node: YAMLNode) throws -> String {
        guard text.contains("$") else { return text }
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if c == "$", text.index(after: i) < text.endIndex {
                let n = text.index(after: i)
                if text[n] == "$" { out.append("$"); i = text.index(after: n); continue }
                if text[n] == "{" {
                    guard let close = text[n...].firstIndex(of: "}") else { throw error(node, "unterminated ${ in '\(text)'") }
                    let body = String(text[text.index(after: n)..<close])
                    let name: String
                    var fallback: String?
                    // ":-" found by hand: String.firstRange(of:) runs _StringProcessing's searcher,
                    // code the server otherwise never touches (resident pages, docs/PERFORMANCE.md)
                    if let colon = body.indices.first(where: { body[$0] == ":" && body[body.index(after: $0)...].first == "-" }) {
                        name = String(body[..<colon])
                        fallback = String(body[body.index(colon, offsetBy: 2)...])
                    } else {
                        name = body
                    }
                    guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                        throw error(node, "bad variable name '${\(body)}'")
                    }
                    if let v = environment[name], !(v.isEmpty && fallback != nil) {
                        out += v
                    } else if let fallback {
                        out += fallback
                    } else {
                        throw error(node, "environment variable \(name) is not set")
                    }
                    i = text.index(after: close)
                    continue
                }
            }
            out.append(c)
            i = text.index(after: i)
        }
        return out
    }
}

/// Reads one entry of `services:`.
struct ServiceReader {
    let reader: NodeReader
    let baseDir: String

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
            case "networks": spec.networks = reader.resolve(try reader.string(v, k), baseDir)
            case "latency_table": spec.latencyTable = reader.resolve(try reader.string(v, k), baseDir)
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

/// Reads one entry of `checks:`.
struct CheckReader {
    let reader: NodeReader
    let baseDir: String

    func read(name: String, node: YAMLNode) throws -> CheckSpec {
        let fields = try reader.mapping(node, "check \(name)")
        guard let typeNode = fields.first(where: { $0.0 == "type" })?.1 else { throw reader.error(node, "check \(name) needs a type") }
        let typeText = try reader.string(typeNode, "type")
        guard let kind = CheckSpec.Kind(rawValue: typeText) else {
            throw reader.error(typeNode, "unknown check type '\(typeText)' (expected \(CheckSpec.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var spec = CheckSpec(name: name, kind: kind)
        spec.declaredAt = "\(reader.file):\(reader.line(node))"
        for (k, v) in fields {
            switch k {
            case "type": break
            case "port": spec.port = try reader.int(v, k, in: 1...65535)
            case "interval": spec.interval = try reader.duration(v, k)
            case "timeout": spec.timeout = try reader.duration(v, k)
            case "rise": spec.rise = try reader.int(v, k, in: 1...100)
            case "fall": spec.fall = try reader.int(v, k, in: 1...100)
            case "jitter": spec.jitter = try reader.double(v, k)
            case "method": spec.method = try reader.string(v, k)
            case "path": spec.path = try reader.string(v, k)
            case "host": spec.host = try reader.string(v, k)
            case "expect":
                if case .sequence = v.kind {
                    spec.expect = try reader.sequence(v, k).map { try reader.int($0, "expect", in: 100...599) }
                } else if kind == .dns {
                    let text = try reader.string(v, k).uppercased()
                    let codes = ["NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4, "REFUSED": 5]
                    guard let code = codes[text] ?? Int(text) else { throw reader.error(v, "expect must be an RCODE name") }
                    spec.expectRCode = code
                } else {
                    spec.expect = [try reader.int(v, k, in: 100...599)]
                }
            case "body": spec.bodyContains = try reader.string(v, k)
            case "headers":
                spec.headers = try reader.mapping(v, "headers").map { ($0.0, try reader.string($0.1, "header")) }
            case "ca_file": spec.caFile = reader.resolve(try reader.string(v, k), baseDir)
            case "query": spec.queryName = try reader.string(v, k)
            case "command":
                if case .sequence = v.kind {
                    spec.command = try reader.sequence(v, k).map { try reader.string($0, "command") }
                } else {
                    spec.command = try reader.string(v, k).split(separator: " ").map(String.init)
                }
                if let first = spec.command.first, !first.hasPrefix("/") { spec.command[0] = reader.resolve(first, baseDir) }
            case "file": spec.file = reader.resolve(try reader.string(v, k), baseDir)
            default:
                throw reader.error(v, "unknown check key '\(k)' (expected type, port, interval, timeout, rise, fall, jitter, method, path, host, expect, body, headers, ca_file, query, command, file)")
            }
        }
        do {
            try spec.validate()
        } catch let e as HealthConfigError {
            throw ConfigError(file: reader.file, line: reader.line(node), reason: e.reason)
        }
        return spec
    }
}
