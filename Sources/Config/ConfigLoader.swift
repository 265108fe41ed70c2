import Foundation
import Yams

/// Reads the YAML configuration (control plane). Every error names file:line; unknown keys are errors
/// (a typo must not silently fall back to a default). `${VAR}` and `${VAR:-default}` in scalar values
/// expand from the environment; relative paths are taken from the config file's directory.
public enum ConfigLoader {
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MeridianConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, line: 0, reason: "cannot read the file")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path, environment: environment)
    }

    public static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws -> MeridianConfig {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigError(file: file, line: 0, reason: "the file is empty")
            }
            root = node
        } catch let error as ConfigError {
            throw error
        } catch let error as YamlError {
            throw ConfigError(file: file, line: yamlErrorLine(error), reason: "YAML: \(error)")
        }
        let reader = NodeReader(file: file, environment: environment)
        var config = MeridianConfig()
        config.sourceFile = file
        let baseDir = (file as NSString).deletingLastPathComponent
        let top = try reader.mapping(root, "the configuration")
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
                    default:
                        throw reader.error(v, "unknown server key '\(k)' (expected udp_payload_size, workers, tcp_idle_timeout, tcp_max_connections)")
                    }
                }
            default:
                throw reader.error(value, "unknown key '\(key)' (expected listen, zones, identity, server)")
            }
        }
        guard !config.zones.isEmpty else { throw ConfigError(file: file, line: 0, reason: "no zones configured") }
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

    static func yamlErrorLine(_ error: YamlError) -> Int {
        switch error {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _):
            return mark.line
        default:
            return 0
        }
    }
}

/// Typed access to YAML nodes with file:line errors and environment expansion.
struct NodeReader {
    let file: String
    let environment: [String: String]

    func line(_ node: Node) -> Int { node.mark?.line ?? 0 }

    func error(_ node: Node, _ reason: String) -> ConfigError {
        ConfigError(file: file, line: line(node), reason: reason)
    }

    func mapping(_ node: Node, _ what: String) throws -> [(String, Node)] {
        guard case let .mapping(m) = node else { throw error(node, "\(what) must be a mapping") }
        var out: [(String, Node)] = []
        for (k, v) in m {
            guard let key = k.string else { throw error(k, "keys must be strings") }
            if out.contains(where: { $0.0 == key }) { throw error(k, "duplicate key '\(key)'") }
            out.append((key, v))
        }
        return out
    }

    func sequence(_ node: Node, _ what: String) throws -> [Node] {
        guard case let .sequence(s) = node else { throw error(node, "\(what) must be a list") }
        return Array(s)
    }

    func string(_ node: Node, _ what: String) throws -> String {
        guard case let .scalar(s) = node else { throw error(node, "\(what) must be a single value") }
        return try expand(s.string, at: node)
    }

    /// A string, or nil for `false`, `null` or an empty value (the feature is then disabled).
    func optionalString(_ node: Node, _ what: String) throws -> String? {
        guard case let .scalar(s) = node else { throw error(node, "\(what) must be a single value") }
        if s.style == .plain, ["false", "null", "~", "", "no", "off"].contains(s.string.lowercased()) { return nil }
        return try expand(s.string, at: node)
    }

    func int(_ node: Node, _ what: String, in range: ClosedRange<Int>) throws -> Int {
        let text = try string(node, what)
        guard let v = Int(text), range.contains(v) else {
            throw error(node, "\(what) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return v
    }

    /// "10s", "500ms", "2m", "1h" or a number of seconds.
    func duration(_ node: Node, _ what: String) throws -> Double {
        let text = try string(node, what).trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            if let v = Double(text.dropLast(suffix.count)), v > 0 { return v * factor }
        }
        if let v = Double(text), v > 0 { return v }
        throw error(node, "\(what) must be a positive duration such as 10s or 500ms, got '\(text)'")
    }

    /// `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`.
    func expand(_ text: String, at node: Node) throws -> String {
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
                    if let r = body.range(of: ":-") {
                        name = String(body[..<r.lowerBound])
                        fallback = String(body[r.upperBound...])
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
