import Health

/// Reads one entry of `checks:`.
struct CheckReader {
    let reader: NodeReader

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
            case "ca_file": spec.caFile = reader.resolve(try reader.string(v, k))
            case "query": spec.queryName = try reader.string(v, k)
            case "command":
                if case .sequence = v.kind {
                    spec.command = try reader.sequence(v, k).map { try reader.string($0, "command") }
                } else {
                    spec.command = try reader.string(v, k).split(separator: " ").map(String.init)
                }
                if let first = spec.command.first, !first.hasPrefix("/") { spec.command[0] = reader.resolve(first) }
            case "file": spec.file = reader.resolve(try reader.string(v, k))
            default:
                throw reader.error(
                    v,
                    "unknown check key '\(k)' (expected type, port, interval, timeout, rise, fall, jitter, method, path, host, expect, body, headers, ca_file, query, command, file)"
                )
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
