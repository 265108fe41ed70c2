import DNSWire
import Geo
import SourceFiles
import Health
import Steering

/// The server's configuration as loaded from YAML (DESIGN.md §6), with paths resolved.
public struct MeridianConfig: Sendable, Equatable {
    /// A listening address: UDP and TCP are both served on it.
    public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

        /// 127.0.0.0/8, ::1 or localhost: reachable from this machine only.
        public var isLoopback: Bool {
            if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
            let octets = host.split(separator: ".", omittingEmptySubsequences: false)
            return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
        }

        /// Parses "127.0.0.1:53", "[::1]:53", "::1" (port 53), "0.0.0.0".
        public static func parse(_ text: String, defaultPort: Int = 53) -> ListenAddress? {
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]") else { return nil }
                let host = String(text[text.index(after: text.startIndex)..<close])
                let rest = text[text.index(after: close)...]
                if rest.isEmpty { return ListenAddress(host: host, port: defaultPort) }
                guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (0...65535).contains(port) else { return nil }
                return host.isEmpty ? nil : ListenAddress(host: host, port: port)
            }
            let colons = text.filter { $0 == ":" }.count
            if colons == 1 {
                let parts = text.split(separator: ":", omittingEmptySubsequences: false)
                guard let port = Int(parts[1]), (0...65535).contains(port), !parts[0].isEmpty else { return nil }
                return ListenAddress(host: String(parts[0]), port: port)
            }
            return text.isEmpty ? nil : ListenAddress(host: text, port: defaultPort)
        }
    }

    /// A zone to serve from an RFC 1035 master file.
    public struct Zone: Sendable, Equatable {
        public var origin: String
        public var file: String
        /// Where the zone was declared in the config (for error messages).
        public var declaredAt: String
        /// How the zone is signed; nil: not signed.
        public var dnssec: DNSSECSettings?
        /// Who may transfer the zone and whom to notify; nil: no transfers.
        public var transfer: TransferSettings?

        public init(
            origin: String, file: String, declaredAt: String, dnssec: DNSSECSettings? = nil, transfer: TransferSettings? = nil
        ) {
            self.origin = origin
            self.file = file
            self.declaredAt = declaredAt
            self.dnssec = dnssec
            self.transfer = transfer
        }
    }

    /// A zone's `transfer: { allow: [...], notify: [...] }`.
    public struct TransferSettings: Sendable, Equatable {
        /// One ACL rule: a network (CIDR or address) and/or a TSIG key name; both must match when both
        /// are given.
        public struct Rule: Sendable, Equatable {
            public var network: IPPrefix?
            public var key: String?
        }

        /// A secondary to notify (port 53 by default), optionally signed with a key.
        public struct NotifyTarget: Sendable, Equatable {
            public var server: ServerAddress
            public var key: String?
        }

        public var allow: [Rule] = []
        public var notify: [NotifyTarget] = []
        public var declaredAt = ""
    }

    /// A DNS server Meridian sends to (a secondary, the parent): an IP address and a port.
    public struct ServerAddress: Sendable, Equatable, CustomStringConvertible {
        public var address: IPAddress
        public var port: Int

        /// `IP` or `IP:PORT` (`[IPv6]:PORT`); the port is 53 unless given.
        public static func parse(_ text: String) -> ServerAddress? {
            guard let listen = ListenAddress.parse(text), let address = IPAddress(listen.host) else { return nil }
            return ServerAddress(address: address, port: listen.port)
        }

        public var description: String { address.family == .v6 ? "[\(address)]:\(port)" : "\(address):\(port)" }
    }

    /// A named TSIG key (`tsig_keys:`).
    public struct TSIGKeySettings: Sendable, Equatable {
        public var name: String
        public var algorithm: String
        /// Base64, as in BIND's and Knot's key files.
        public var secret: String
    }

    /// A zone's `dnssec:` settings (Knot's policy settings are the model; the same defaults).
    public struct DNSSECSettings: Sendable, Equatable {
        /// The key directory; nil: `keys` under the state directory.
        public var keys: String?
        /// The algorithm of keys Meridian creates: ecdsap256sha256 or ed25519.
        public var algorithm = "ecdsap256sha256"
        /// How absence is proved: `nsec3` (hashed names, RFC 5155) or `nsec` (RFC 4034 §4).
        public var denial = "nsec3"
        /// Seconds a new signature is valid.
        public var signatureValidity: Double = 14 * 86400
        /// Signatures are made again when less than this remains (seconds).
        public var refresh: Double = 7 * 86400
        /// TTL of the DNSKEY RRset.
        public var dnskeyTTL: Int = 3600
        /// How the SOA serial follows signing: `unixtime` (the signing epoch) or `increment` (`SerialPolicy`).
        public var serialPolicy = "unixtime"
        /// Rollover timings (seconds; a lifetime of 0: never rolled).
        public var zskLifetime: Double = 30 * 86400
        public var kskLifetime: Double = 0
        public var propagationDelay: Double = 3600
        public var zoneMaxTTL: Double = 86400
        public var parentDSTTL: Double = 86400
        /// This instance plans rollovers and writes key files (one instance of an NS set that copies
        /// the key directory to the others).
        public var manageKeys = true
        /// Servers asked for the zone's DS at the parent (resolvers or the parent's own), IP[:PORT].
        public var kskSubmission: [ServerAddress] = []
        /// How often they are asked while a new key waits for its DS (seconds).
        public var dsCheckInterval: Double = 3600
        /// Publish the delete CDS/CDNSKEY (RFC 8078 §4): ask the parent to go insecure.
        public var cdsDelete = false
        /// Where the settings were declared (for error messages).
        public var declaredAt = ""

        public init() {}

        /// The key directory for a state directory.
        public func keyDirectory(stateDir: String) -> String { keys ?? stateDir + "/keys" }
    }

    /// Answers about the server itself; nil disables (CHAOS queries are then REFUSED, NSID omitted).
    public struct Identity: Sendable, Equatable {
        public var version: String?
        public var id: String?
        public var nsid: String?
    }

    public var listen: [ListenAddress] = [ListenAddress(host: "127.0.0.1", port: 5353)]
    public var zones: [Zone] = []
    /// TSIG keys by name, for transfers and NOTIFY.
    public var tsigKeys: [TSIGKeySettings] = []
    public var identity = Identity(version: nil, id: nil, nsid: nil)
    /// EDNS UDP payload size we advertise and cap UDP answers at (RFC 6891; DNS flag day 2020: 1232).
    public var udpPayloadSize = 1232
    /// UDP worker threads; 0 = one per core.
    public var workers = 0
    /// Seconds a TCP connection may stay idle (RFC 7766 §6.2.3).
    public var tcpIdleTimeout = 10.0
    /// Concurrent TCP connections; at the cap a new one closes the oldest idle one, or is refused (RFC 7766 §6.2.2).
    public var tcpMaxConnections = 1024
    /// Seconds a TCP message may take from its first octet to its last (RFC 7766 §6.2.3).
    public var tcpMessageTimeout = 3.0
    /// Concurrent TCP connections per client address (RFC 7766 §6.2.2); at the cap a new one closes the oldest idle one.
    public var tcpMaxConnectionsPerClient = 32
    /// Queries answered on one TCP connection before it is closed (after the last answer), and how
    /// long one may stay open however busy (RFC 7766 §6.2.2 lets a server close connections).
    public var tcpMaxQueriesPerConnection = 10_000
    public var tcpMaxConnectionLifetime = 300.0
    /// `rrl:` response rate limiting; off by default (as in Knot and BIND).
    public struct RRLSettings: Sendable, Equatable {
        public var enabled = false
        public var rate = 100
        public var slip = 2
        public var ipv4Prefix = 24
        public var ipv6Prefix = 56
        public var exempt: [IPPrefix] = []
        public var dryRun = false
        public var badCookieSlip = false
        /// Entries per UDP worker (16 octets each); start-only.
        public var tableSize = 65536
        public var declaredAt = ""
        public init() {}
    }
    public var rrl = RRLSettings()
    /// `cookies:` DNS cookies; on by default, the secret from here or `${state_dir}/cookie-secret`.
    public struct CookieSettings: Sendable, Equatable {
        public var enabled = true
        /// 32 lower-case hex digits, or nil: the state directory's secret.
        public var secret: String?
        public var previousSecret: String?
        public init() {}
    }
    public var cookies = CookieSettings()
    /// `cluster:` the NS set sharing verdicts and overrides through etcd; nil: standalone.
    public struct ClusterSettings: Sendable, Equatable {
        /// etcd client URLs.
        public var etcd: [String] = []
        /// This instance's name in the NS set (nil: the host name).
        public var node: String?
        public var prefix = "/meridian/default"
        /// 0: majority; N: at least N of the live probers.
        public var quorum = 0
        public var leaseTTL = 10
        public var grace = 30.0
        /// Per etcd request.
        public var timeout = 2.0
        public var tlsCA: String?
        public var tlsCert: String?
        public var tlsKey: String?
        public var user: String?
        public var password: String?
        public var declaredAt = ""
        public init() {}

        public static func isURL(_ text: String) -> Bool {
            guard text.hasPrefix("http://") || text.hasPrefix("https://") else { return false }
            let authority = text.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first ?? ""
            guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]) else { return false }
            return (1...65535).contains(port) && colon > authority.startIndex
        }

        public static func isNodeName(_ name: String) -> Bool {
            (1...63).contains(name.utf8.count)
                && name.utf8.allSatisfy { c in
                    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
                }
        }
    }
    public var cluster: ClusterSettings?
    /// The config file this came from.
    public var sourceFile = ""
    /// Geo data: a MaxMind-format database and the operator's CIDR table (paths resolved).
    public var geoDatabase: String?
    public var geoNetworks: String?
    public var geoDeclaredAt = ""
    /// Regions (name and optional coordinates), in declared order.
    public var regions: [RegionSpec] = []
    /// GSLB services, in declared order.
    public var services: [ServiceSpec] = []
    /// Health checks by name, in declared order.
    public var checks: [CheckSpec] = []
    /// The directory for everything Meridian persists (overrides now; keys, secrets and estimates
    /// later). Created mode 0700 by `serve` when missing; refused when group- or world-writable.
    public static let defaultStateDir = "/var/lib/meridian"
    public var stateDir = MeridianConfig.defaultStateDir
    /// Where admin overrides are persisted: `health.state_file`, else `${state_dir}/overrides.json`;
    /// nil (`state_file: ~`) keeps them in memory only.
    public var stateFile: String? = MeridianConfig.defaultStateDir + "/overrides.json"
    /// A corrupt overrides file at start: false (default) sets it aside and starts without overrides
    /// (loudly); true refuses to start (`health.strict_state_file`).
    public var strictStateFile = false
    /// Wait for the first round of checks (bounded by the longest timeout) before serving.
    public var waitForFirstRound = true
    /// State of endpoints before their first result when not waiting: "up" (optimistic) or "down".
    public var initialState = "up"
    /// The control API (HTTP) address and bearer token for writes.
    public var controlListen: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 8053)
    public var controlToken: String?
    /// The control API on a Unix socket (default `${state_dir}/control.sock`, mode 0600; `socket: ~`
    /// turns it off): the socket file's permissions authenticate, so writes need no token there.
    /// `meridian ctl` uses it when it exists.
    public var controlSocket: String? = MeridianConfig.defaultStateDir + "/control.sock"
    /// Control API connections open at once (more are closed at accept) and their idle timeout.
    public var controlMaxConnections = 256
    /// Networks the control API's TCP listener accepts connections from (empty: any); the Unix
    /// socket is guarded by its file permissions instead.
    public var controlAllow: [IPPrefix] = []
    public var controlIdleTimeout = 10.0
    /// JSON-lines decision log (nil = off) and its sampling (1 in N GSLB answers).
    public var decisionLog: String?
    public var decisionLogSample = 100

    public init() {}
}

/// A configuration problem at file:line (see `SourceProblem`).
public typealias ConfigError = SourceProblem
