import SourceFiles
/// What a health check does and how often (control plane). Defaults follow the load-balancing
/// literature (AWS ELB/Route 53, HAProxy): interval 10 s, timeout 5 s, fall 3, rise 2.
public struct CheckSpec: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// TCP connect to the endpoint's port.
        case tcp
        /// A SYN to the endpoint's port from a raw socket: up on SYN-ACK, down on RST or timeout; the
        /// kernel resets the half-open connection, so the service never sees a connection (F5's "TCP
        /// Half Open"). IP-address endpoints only; needs CAP_NET_RAW.
        case tcpHalfOpen = "tcp-half-open"
        /// HTTP request; up on an expected status (and body substring when set).
        case http
        /// HTTPS: as http, with the chain and host name validated (system store or `caFile`), SNI.
        case https
        /// A DNS query to the endpoint; up on the expected RCODE.
        case dns
        /// A command run with the endpoint as arguments; up on exit 0, killed at the timeout.
        case script
        /// State read from a file the operator's own monitoring writes ("up"/"down").
        case file
        /// State pushed through the control API (`meridian ctl push`).
        case push
    }

    public var name: String
    public var kind: Kind
    public var port: Int = 0
    public var interval: Double = 10
    public var timeout: Double = 5
    public var rise = 2
    public var fall = 3
    /// Share of the interval by which each probe is shifted at random, so checks do not fire together.
    public var jitter = 0.1
    // http / https
    public var method = "GET"
    public var path = "/"
    public var host: String?
    public var expect: [Int] = [200]
    public var bodyContains: String?
    public var headers: [(String, String)] = []
    public var caFile: String?
    // dns
    public var queryName = "."
    public var queryType: UInt16 = 6 // SOA
    public var expectRCode = 0
    // script
    public var command: [String] = []
    // file
    public var file: String?
    public var declaredAt = ""

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
        switch kind {
        case .http: port = 80
        case .https: port = 443
        case .dns: port = 53
        default: break
        }
    }

    public static func == (a: CheckSpec, b: CheckSpec) -> Bool {
        a.name == b.name && a.kind == b.kind && a.port == b.port && a.interval == b.interval && a.timeout == b.timeout
            && a.rise == b.rise && a.fall == b.fall && a.method == b.method && a.path == b.path && a.host == b.host
            && a.expect == b.expect && a.bodyContains == b.bodyContains && a.caFile == b.caFile && a.command == b.command
            && a.file == b.file && a.queryName == b.queryName && a.expectRCode == b.expectRCode
            && a.headers.map { $0.0 + ":" + $0.1 } == b.headers.map { $0.0 + ":" + $0.1 }
    }

    /// Load-time rules: timeout below interval, positive thresholds, what each kind needs.
    public func validate() throws {
        guard interval > 0, timeout > 0, timeout < interval else {
            throw HealthConfigError(declaredAt, "check \(name): timeout (\(timeout)s) must be below interval (\(interval)s)")
        }
        guard rise >= 1, fall >= 1 else { throw HealthConfigError(declaredAt, "check \(name): rise and fall must be >= 1") }
        switch kind {
        case .tcp, .tcpHalfOpen, .http, .https, .dns:
            guard (1...65535).contains(port) else { throw HealthConfigError(declaredAt, "check \(name): port must be 1-65535") }
        case .script:
            guard !command.isEmpty else { throw HealthConfigError(declaredAt, "check \(name): script needs a command") }
        case .file:
            guard file != nil else { throw HealthConfigError(declaredAt, "check \(name): file needs a path") }
        case .push:
            break
        }
    }
}

/// A health configuration problem at file:line (see `SourceProblem`).
public typealias HealthConfigError = SourceProblem
