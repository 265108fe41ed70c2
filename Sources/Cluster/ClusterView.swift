import FoundationEssentials
import Health

/// How many of the instances that probe an endpoint must say down before it is down for all.
public enum QuorumRule: Sendable, Equatable, CustomStringConvertible {
    /// More than half of the live instances that probe it.
    case majority
    /// At least N; with fewer than N probing, more than half of those.
    case atLeast(Int)

    /// The down votes that withdraw an endpoint probed by `probers` live instances (`probers` > 0).
    public func needed(probers: Int) -> Int {
        switch self {
        case .majority: return probers / 2 + 1
        case .atLeast(let n): return probers >= n ? n : probers / 2 + 1
        }
    }

    public var description: String {
        switch self {
        case .majority: return "majority"
        case .atLeast(let n): return "\(n)"
        }
    }
}

/// What an instance says about itself in `PREFIX/members/NODE` (under its lease).
public struct MemberInfo: Codable, Sendable, Equatable {
    public var node: String
    public var version: String
    /// SHA-256 of the configuration file: instances of one NS set should run the same one.
    public var configDigest: String
    /// Zone origin -> serial.
    public var zones: [String: UInt32]
    /// DNS listen addresses (empty for a prober that serves no DNS, `--no-dns`).
    public var listen: [String]
    /// Unix time the process started.
    public var startedAt: Int64

    public init(node: String, version: String, configDigest: String, zones: [String: UInt32], listen: [String], startedAt: Int64) {
        self.node = node
        self.version = version
        self.configDigest = configDigest
        self.zones = zones
        self.listen = listen
        self.startedAt = startedAt
    }

    enum CodingKeys: String, CodingKey {
        case node, version, zones, listen
        case configDigest = "config_digest"
        case startedAt = "started_at"
    }
}

/// One endpoint's vote count: how many live instances probe it, how many say down, how many down
/// votes withdraw it.
public struct EndpointVote: Sendable, Equatable {
    public let probers: Int
    public let down: Int
    public let needed: Int
    public var isDown: Bool { probers > 0 && down >= needed }
}

/// The NS set's shared state as one instance has read it from etcd: members, their verdicts, the
/// overrides, and the store revision it reflects. A pure value: every instance that has applied the
/// same revisions holds the same view and so computes the same `votes` (deterministic answers).
///
/// Invariant: `verdicts` holds only up/down verdicts; a verdict of a node that is not in `members`
/// (its lease expired, or not yet seen) is kept but not counted.
public struct ClusterView: Sendable, Equatable {
    public var members: [String: MemberInfo] = [:]
    public var verdicts: [String: [Endpoint: Bool]] = [:]
    public var overrides: [OverrideTarget: OverrideState] = [:]
    public var revision: Int64 = 0

    public init() {}

    /// The view of every key under the prefix, read at `revision`.
    public init(keys: ClusterKeys, kvs: [EtcdClient.KeyValue], revision: Int64) {
        for kv in kvs { apply(keys: keys, key: kv.key, value: kv.value) }
        self.revision = revision
    }

    /// Applies a watch batch.
    public mutating func apply(keys: ClusterKeys, events: [EtcdClient.Event], revision: Int64) {
        for e in events { apply(keys: keys, key: e.kv.key, value: e.deleted ? nil : e.kv.value) }
        self.revision = max(self.revision, revision)
    }

    /// Sets (nil: deletes) one key's value; unreadable values count as absent.
    mutating func apply(keys: ClusterKeys, key: String, value: [UInt8]?) {
        switch keys.parse(key) {
        case .member(let node)?:
            members[node] = value.flatMap { try? JSONDecoder().decode(MemberInfo.self, from: Data($0)) }
        case .verdict(let node, let endpoint)?:
            let verdict: Bool? = value.flatMap { v in v == Array("up".utf8) ? true : v == Array("down".utf8) ? false : nil }
            verdicts[node, default: [:]][endpoint] = verdict
            if verdicts[node]?.isEmpty == true { verdicts[node] = nil }
        case .override(let target)?:
            overrides[target] = value.flatMap { OverrideState(rawValue: String(decoding: $0, as: UTF8.self)) }
        case nil:
            break
        }
    }

    /// Every endpoint some live member has a verdict for, with its votes under `rule`.
    public func votes(rule: QuorumRule) -> [Endpoint: EndpointVote] {
        var probers: [Endpoint: Int] = [:]
        var down: [Endpoint: Int] = [:]
        for (node, byEndpoint) in verdicts where members[node] != nil {
            for (endpoint, up) in byEndpoint {
                probers[endpoint, default: 0] += 1
                if !up { down[endpoint, default: 0] += 1 }
            }
        }
        var votes: [Endpoint: EndpointVote] = [:]
        for (endpoint, n) in probers {
            votes[endpoint] = EndpointVote(probers: n, down: down[endpoint] ?? 0, needed: rule.needed(probers: n))
        }
        return votes
    }

    /// The live members whose configuration digest is not `digest`, by name.
    public func nodes(differingFrom digest: String) -> [String] {
        members.values.filter { $0.configDigest != digest }.map(\.node).sorted()
    }

    /// The shared verdict per endpoint (true up), for the health table.
    public func sharedVerdicts(rule: QuorumRule) -> [Endpoint: Bool] {
        votes(rule: rule).mapValues { !$0.isDown }
    }
}
