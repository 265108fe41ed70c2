import Engine
import Logging
import NIOCore

/// Starts the listeners for a snapshot store: on every address, `workers` UDP worker threads (each its
/// own SO_REUSEPORT socket) and one TCP listener on the shared NIO event loops.
public final class DNSServer: Sendable {
    public struct Options: Sendable {
        public var listen: [(host: String, port: Int)]
        public var workers: Int
        public var tcpIdleTimeout: Double
        public var tcpMaxConnections: Int
        public var tcpMessageTimeout: Double
        public var tcpMaxConnectionsPerClient: Int
        public var tcpMaxQueriesPerConnection = TCPLimits().maxQueriesPerConnection
        public var tcpMaxConnectionLifetime = TCPLimits().maxLifetime
        /// Entries in each UDP worker's rate-limit table (`ResponseRateLimiter`); 0: no table, nothing
        /// is rate-limited whatever the snapshot says.
        public var rateLimitTableSize = 0
        public init(
            listen: [(host: String, port: Int)], workers: Int, tcpIdleTimeout: Double, tcpMaxConnections: Int,
            tcpMessageTimeout: Double = TCPLimits().messageTimeout,
            tcpMaxConnectionsPerClient: Int = TCPLimits().maxConnectionsPerClient
        ) {
            self.listen = listen
            self.workers = workers
            self.tcpIdleTimeout = tcpIdleTimeout
            self.tcpMaxConnections = tcpMaxConnections
            self.tcpMessageTimeout = tcpMessageTimeout
            self.tcpMaxConnectionsPerClient = tcpMaxConnectionsPerClient
        }

        /// The TCP limits these options set (the rest keep `TCPLimits`' defaults).
        var tcpLimits: TCPLimits {
            var limits = TCPLimits()
            limits.idleTimeout = tcpIdleTimeout
            limits.maxConnections = tcpMaxConnections
            limits.messageTimeout = tcpMessageTimeout
            limits.maxConnectionsPerClient = tcpMaxConnectionsPerClient
            limits.maxQueriesPerConnection = tcpMaxQueriesPerConnection
            limits.maxLifetime = tcpMaxConnectionLifetime
            return limits
        }
    }

    public let store: SnapshotStore
    let udpWorkers: [UDPWorker]
    let tcp: TCPServer
    let tcpChannels: [Channel]

    /// Binds everything (all or nothing: any bind error is thrown before a packet is served).
    public init(store: SnapshotStore, options: Options, logger: Logger) throws {
        self.store = store
        let workers = options.workers > 0 ? options.workers : System.coreCount
        var udp: [UDPWorker] = []
        for address in options.listen {
            for _ in 0..<workers {
                udp.append(try UDPWorker(host: address.host, port: address.port, store: store, rateLimitTableSize: options.rateLimitTableSize))
            }
        }
        tcp = TCPServer(store: store, threads: min(workers, System.coreCount), limits: options.tcpLimits)
        var channels: [Channel] = []
        for address in options.listen {
            do {
                channels.append(try tcp.listen(host: address.host, port: address.port))
            } catch {
                throw ServerError.bind("tcp \(address.host) port \(address.port): \(error)")
            }
            logger.info("listening", metadata: ["address": "\(address.host):\(address.port)", "udp_workers": "\(workers)"])
        }
        udpWorkers = udp
        tcpChannels = channels
    }

    /// Every worker's counters (UDP workers, then TCP event loops).
    public var counters: [WorkerCounters] { udpWorkers.map(\.counters) + tcp.counters }
    public var tcpConnections: Int { tcp.openConnections }

    /// Gives every UDP worker a decision ring (sampling 1 in `sample`); call before `start`.
    public func enableDecisionLog(sample: Int) -> [DecisionRing] {
        udpWorkers.map { worker in
            let ring = DecisionRing(sample: sample)
            worker.decisionRing = ring
            return ring
        } + tcp.enableDecisionLog(sample: sample)
    }

    /// Every UDP worker's rate-limit events (empty without tables).
    public var rateLimitEvents: [RateLimitEventRing] { udpWorkers.compactMap(\.rateLimiter?.events) }
    /// Bytes of the rate-limit tables of all workers.
    public var rateLimitMemory: Int { udpWorkers.reduce(0) { $0 + ($1.rateLimiter?.memory ?? 0) } }

    /// Closes the TCP listening sockets (open connections continue).
    public func stopAcceptingTCP() {
        for channel in tcpChannels { try? channel.close().wait() }
    }

    public func start() throws {
        for worker in udpWorkers { try worker.start() }
    }
}
