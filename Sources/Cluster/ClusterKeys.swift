import Health

/// Where an NS set keeps its shared state in etcd, under the cluster's `prefix` (one NS set per
/// prefix):
///
///     PREFIX/members/NODE                        the instance's `MemberInfo` (JSON), under its lease
///     PREFIX/verdicts/NODE/ADDRESS/CHECK         "up" or "down": the instance's anti-flapped verdict, under its lease
///     PREFIX/overrides/SCOPE/NAME[/SERVICE]      "up", "down" or "drain": an operator's override, kept (no lease)
///
/// Names are escaped (`%` and `/` as `%25` and `%2F`) so that every component is one path segment.
public struct ClusterKeys: Sendable, Equatable {
    /// The prefix without a trailing slash.
    public let prefix: String

    public init(prefix: String) {
        var p = prefix
        while p.hasSuffix("/") { p.removeLast() }
        self.prefix = p
    }

    /// Every key of the NS set (what an instance watches).
    public var all: String { prefix + "/" }
    public var members: String { prefix + "/members/" }
    public var verdicts: String { prefix + "/verdicts/" }
    public var overrides: String { prefix + "/overrides/" }

    public func member(_ node: String) -> String { members + Self.escape(node) }

    public func verdict(node: String, _ endpoint: Endpoint) -> String {
        verdicts + Self.escape(node) + "/" + Self.escape(endpoint.address) + "/" + Self.escape(endpoint.check)
    }

    public func override(_ target: OverrideTarget) -> String {
        var key = overrides + target.scope.rawValue + "/" + Self.escape(target.name)
        if let service = target.service { key += "/" + Self.escape(service) }
        return key
    }

    /// What a key of the NS set names; nil for a key that is not one of the three kinds (ignored).
    public enum Parsed: Equatable, Sendable {
        case member(node: String)
        case verdict(node: String, endpoint: Endpoint)
        case override(OverrideTarget)
    }

    public func parse(_ key: String) -> Parsed? {
        if key.hasPrefix(members) {
            let parts = key.dropFirst(members.count).split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 1, let node = Self.unescape(parts[0]) else { return nil }
            return .member(node: node)
        }
        if key.hasPrefix(verdicts) {
            let parts = key.dropFirst(verdicts.count).split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 3, let node = Self.unescape(parts[0]), let address = Self.unescape(parts[1]), let check = Self.unescape(parts[2])
            else { return nil }
            return .verdict(node: node, endpoint: Endpoint(address: address, check: check))
        }
        if key.hasPrefix(overrides) {
            let parts = key.dropFirst(overrides.count).split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2 || parts.count == 3, let scope = OverrideTarget.Scope(rawValue: String(parts[0])),
                let name = Self.unescape(parts[1])
            else { return nil }
            let service = parts.count == 3 ? Self.unescape(parts[2]) : nil
            guard parts.count == 2 || service != nil, scope == .region || service == nil else { return nil }
            return .override(OverrideTarget(scope: scope, name: name, service: service))
        }
        return nil
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "%": out += "%25"
            case "/": out += "%2F"
            default: out.append(c)
            }
        }
        return out
    }

    static func unescape(_ text: Substring) -> String? {
        guard !text.isEmpty else { return nil }
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == "%" {
                let code = text[i...].prefix(3)
                switch code {
                case "%25": out.append("%")
                case "%2F", "%2f": out.append("/")
                default: return nil
                }
                i = text.index(i, offsetBy: 3)
            } else {
                out.append(text[i])
                i = text.index(after: i)
            }
        }
        return out
    }
}
