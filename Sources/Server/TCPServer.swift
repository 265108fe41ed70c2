import Atomics
import DNSWire
import Engine
import NIOCore
import NIOPosix

/// DNS over TCP (RFC 7766) on SwiftNIO: two-octet length framing, any number of queries per
/// connection answered in order (pipelining), backpressure per connection, idle and per-message
/// timeouts, and caps on connections in all and per client that close the oldest idle connection
/// to make room (`TCPLimits` has the values and defaults). Non-blocking event loops: a stalled
/// client holds only its own connection's bounded buffers.
public final class TCPServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let store: SnapshotStore
    let limits: TCPLimits
    let table: TCPConnectionTable
    let states: [ObjectIdentifier: TCPLoopState]
    /// Counters of the TCP event loops.
    public var counters: [WorkerCounters] { states.values.map(\.counters) }
    /// Connections open right now.
    public var openConnections: Int { table.count }

    public init(store: SnapshotStore, threads: Int, limits: TCPLimits) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        self.store = store
        self.limits = limits
        table = TCPConnectionTable(
            maxConnections: limits.maxConnections, maxPerClient: limits.maxConnectionsPerClient,
            busyNoticeInterval: .nanoseconds(Int64(limits.busyIdleTimeout * 1e9)))
        var states: [ObjectIdentifier: TCPLoopState] = [:]
        for loop in group.makeIterator() {
            let state = TCPLoopState()
            state.processor.keepaliveTimeout = limits.keepaliveTimeout
            states[ObjectIdentifier(loop)] = state
            // a loop with no queries lets go of a replaced snapshot within a second (a reload frees it)
            loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [store] _ in
                if state.generation != store.generation { state.release() }
            }
        }
        self.states = states
    }

    /// A decision ring per event loop (each loop is one thread: single producer).
    func enableDecisionLog(sample: Int) -> [DecisionRing] {
        states.values.map { state in
            let ring = DecisionRing(sample: sample)
            state.processor.decisionRing = ring
            state.processor.clock = wallClockNanoseconds
            return ring
        }
    }

    /// Binds host:port and starts accepting.
    public func listen(host: String, port: Int) throws -> Channel {
        let marks = ChannelOptions.Types.WriteBufferWaterMark(low: limits.writeLowWaterMark, high: limits.writeHighWaterMark)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: marks)
            .childChannelInitializer { [self] channel in
                let slot = TCPConnectionSlot(channel: channel, client: IPAddress(peer: channel.remoteAddress))
                switch self.table.admit(slot) {
                case .refused:
                    return channel.close() // RFC 7766 §6.2.2: at the cap with no idle connection to close
                case let .accepted(evicted, enteredBusy):
                    evicted?.channel.close(promise: nil) // its own loop closes it
                    for other in enteredBusy { other.pipeline.fireUserInboundEventTriggered(TCPBusyNotice()) }
                }
                channel.closeFuture.whenComplete { _ in self.table.remove(slot) }
                let state = self.states[ObjectIdentifier(channel.eventLoop)]!
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DNSTCPHandler(store: self.store, state: state, slot: slot, table: self.table, limits: self.limits))
                }
            }
        return try bootstrap.bind(host: host, port: port).wait()
    }
}

/// Per-event-loop scratch: one processor and one response buffer, used only on that loop's thread.
final class TCPLoopState: @unchecked Sendable {
    let counters = WorkerCounters()
    lazy var processor = QueryProcessor(counters: counters)
    var snapshot: Snapshot?
    var generation: UInt64 = .max

    /// Drops the cached snapshot; the next query takes the store's current one.
    func release() {
        snapshot = nil
        generation = .max
    }
    let response = UnsafeMutablePointer<UInt8>.allocate(capacity: WireLimits.maxTCPMessage)
}
