import Cluster
import DNSWire
import Engine
import Geo
import Health
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Verdicts

/// The control API over HTTP/1.1 (SwiftNIO's HTTP codec), on loopback by default. Reads are open;
/// writes need `Authorization: Bearer TOKEN` when a token is configured.
///
/// - `GET /v1/status`: zones, services, regions, endpoints with state and reason, overrides (JSON)
/// - `GET /v1/explain?name=&type=&client=`: the decision for a client, and why (JSON lines)
/// - `POST /v1/override` `{"scope":"endpoint|region|service","name":..,"service":..,"state":"up|down|drain|clear"}`
/// - `POST /v1/push` `{"address":..,"check":..,"state":"up|down","reason":..}` for `push` checks
/// - `POST /v1/reload`: reloads the configuration (all or nothing)
/// - `GET /metrics`: Prometheus text exposition
///
/// The routes are one table (`ControlRoutes`); each connection gets a `ControlHandler`.
public final class ControlServer: Sendable {
    /// What the handlers read and act on: the serving snapshot, health and overrides, reloads, metrics.
    public struct Context: Sendable {
        public let store: SnapshotStore
        public let publisher: HealthPublisher
        public let monitor: HealthMonitor?
        public let token: String?
        public let reloader: Reloader?
        public let metrics: MetricsSources?
        /// The signed zones' key directories (origin -> directory), for `GET /v1/dnssec`.
        public let keyDirectories: [(origin: String, directory: String)]
        /// The NS set this instance shares state with (nil: standalone).
        public let cluster: ClusterAgent?
        public init(
            store: SnapshotStore, publisher: HealthPublisher, monitor: HealthMonitor?, token: String?,
            reloader: Reloader? = nil, metrics: MetricsSources? = nil, keyDirectories: [(origin: String, directory: String)] = [],
            cluster: ClusterAgent? = nil
        ) {
            self.cluster = cluster
            self.store = store
            self.publisher = publisher
            self.monitor = monitor
            self.token = token
            self.reloader = reloader
            self.metrics = metrics
            self.keyDirectories = keyDirectories
        }
    }

    /// Limits on the control API's connections: each one costs a descriptor, and descriptors are
    /// shared with DNS over TCP, probes and reloads, so neither idle nor abandoned clients may hold
    /// them. With `maxConnections` open, a new connection closes the oldest one (so a flood of idle
    /// connections cannot lock an operator out, and never holds more descriptors than the cap); one
    /// with no request and no response for `idleTimeout` is closed; a request body over
    /// `maxBodyBytes` is answered 413 and not acted on. With `allow` set, a TCP connection from an
    /// address outside those networks is closed at accept, before a byte is read (the Unix socket is
    /// guarded by its file permissions instead).
    public struct Limits: Sendable {
        public var maxConnections: Int
        public var idleTimeout: TimeAmount
        public var maxBodyBytes: Int
        public var allow: [IPPrefix]
        public init(maxConnections: Int = 256, idleTimeout: TimeAmount = .seconds(10), maxBodyBytes: Int = 65536, allow: [IPPrefix] = []) {
            self.maxConnections = maxConnections
            self.idleTimeout = idleTimeout
            self.maxBodyBytes = maxBodyBytes
            self.allow = allow
        }

        /// Whether a connection from `peer` may be served (a Unix-socket peer has no IP address: yes).
        func admits(_ peer: SocketAddress?) -> Bool {
            guard !allow.isEmpty, let peer, let ip = peer.ipAddress.flatMap(IPAddress.init) else { return true }
            return allow.contains { $0.contains(ip) }
        }
    }

    let channel: Channel
    /// Open connections, oldest first (changed on accept and close only).
    let open = NIOLockedValueBox<[Channel]>([])
    /// Connections closed to make room for a newer one since start.
    let evicted = NIOLockedValueBox(0)
    /// Connections closed at accept because their address is not in `Limits.allow`, since start.
    let refused = NIOLockedValueBox(0)

    /// Binds HOST:PORT, or the Unix socket `unixSocket` when set (HOST and PORT are then unused).
    public init(
        host: String, port: Int, unixSocket: String? = nil, group: EventLoopGroup, context: Context,
        limits: Limits = Limits(), logger: Logger
    ) throws {
        let open = self.open, evicted = self.evicted, refused = self.refused
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { channel in
                guard limits.admits(channel.remoteAddress) else {
                    refused.withLockedValue { $0 += 1 }
                    return channel.close()
                }
                let oldest: Channel? = open.withLockedValue { list in
                    list.append(channel)
                    return list.count > limits.maxConnections ? list.removeFirst() : nil
                }
                channel.closeFuture.whenComplete { _ in open.withLockedValue { $0.removeAll { $0 === channel } } }
                if let oldest {
                    evicted.withLockedValue { $0 += 1 }
                    oldest.close(promise: nil)
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: limits.idleTimeout))
                    try ControlServer.configure(channel, context: context, maxBodyBytes: limits.maxBodyBytes, logger: logger)
                }
            }
        if let unixSocket {
            channel = try bootstrap.bind(unixDomainSocketPath: unixSocket, cleanupExistingSocketFile: true).wait()
        } else {
            channel = try bootstrap.bind(host: host, port: port).wait()
        }
    }

    /// Connections open now, and those closed to make room for newer ones since start.
    public var connections: (open: Int, evicted: Int) { (open.withLockedValue { $0.count }, evicted.withLockedValue { $0 }) }

    /// Sets up one accepted connection: NIO's HTTP/1.1 server codec, then the control API's handler.
    /// (Also what the control fuzz target drives, through an EmbeddedChannel.) On the channel's loop.
    public static func configure(_ channel: Channel, context: Context, maxBodyBytes: Int = 65536, logger: Logger) throws {
        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
        try channel.pipeline.syncOperations.addHandler(ControlHandler(context: context, maxBodyBytes: maxBodyBytes, logger: logger))
    }
}
