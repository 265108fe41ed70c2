import Atomics
import DNSWire
import Engine
import NIOCore
import NIOPosix

/// DNS over TCP (RFC 7766) on SwiftNIO: two-octet length framing, any number of queries per
/// connection answered in order (pipelining), an idle timeout and a cap on concurrent connections.
/// Non-blocking event loops: a stalled client holds only its own connection's buffer.
public final class TCPServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let store: SnapshotStore
    let idleTimeout: TimeAmount
    let maxConnections: Int
    let open = ManagedAtomic<Int>(0)
    let states: [ObjectIdentifier: TCPLoopState]
    /// Counters of the TCP event loops.
    public var counters: [WorkerCounters] { states.values.map(\.counters) }
    /// Connections open right now.
    public var openConnections: Int { open.load(ordering: .relaxed) }

    public init(store: SnapshotStore, threads: Int, idleTimeout: Double, maxConnections: Int) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
        self.store = store
        self.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
        self.maxConnections = maxConnections
        var states: [ObjectIdentifier: TCPLoopState] = [:]
        for loop in group.makeIterator() { states[ObjectIdentifier(loop)] = TCPLoopState() }
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
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                let count = self.open.wrappingIncrementThenLoad(ordering: .relaxed)
                channel.closeFuture.whenComplete { _ in self.open.wrappingDecrement(ordering: .relaxed) }
                if count > self.maxConnections {
                    return channel.close()
                }
                let state = self.states[ObjectIdentifier(channel.eventLoop)]!
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: self.idleTimeout))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(DNSTCPHandler(store: self.store, state: state))
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
    let response = UnsafeMutablePointer<UInt8>.allocate(capacity: WireLimits.maxTCPMessage)
}

/// Splits the byte stream into DNS messages (RFC 1035 §4.2.2). A zero length closes the connection.
struct DNSFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    struct ZeroLengthFrame: Error {}

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return .needMoreData }
        guard length > 0 else { throw ZeroLengthFrame() }
        guard buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        context.fireChannelRead(Self.wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }
}

/// Answers each framed query on the connection, in order.
final class DNSTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let store: SnapshotStore
    let state: TCPLoopState

    init(store: SnapshotStore, state: TCPLoopState) {
        self.store = store
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let query = unwrapInboundIn(data)
        if state.generation != store.generation || state.snapshot == nil {
            (state.snapshot, state.generation) = store.current()
        }
        let snapshot = state.snapshot!
        let client = Self.clientAddress(context.remoteAddress)
        let length = query.withUnsafeReadableBytes { bytes in
            state.processor.process(query: bytes, response: state.response, capacity: WireLimits.maxTCPMessage,
                                    transport: .tcp, client: client, snapshot: snapshot)
        }
        guard length > 0 else { return }
        var out = context.channel.allocator.buffer(capacity: length + 2)
        out.writeInteger(UInt16(length))
        out.writeBytes(UnsafeRawBufferPointer(start: state.response, count: length))
        context.write(wrapOutboundOut(out), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil) // RFC 7766 §6.2.3: idle connections are closed by the server
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    static func clientAddress(_ address: SocketAddress?) -> ClientAddress {
        switch address {
        case let .v4(a)?:
            return ClientAddress(family: 1, high: UInt64(UInt32(bigEndian: a.address.sin_addr.s_addr)) << 32, low: 0)
        case let .v6(a)?:
            var high: UInt64 = 0, low: UInt64 = 0
            withUnsafeBytes(of: a.address.sin6_addr) { bytes in
                for k in 0..<8 { high = high << 8 | UInt64(bytes[k]) }
                for k in 8..<16 { low = low << 8 | UInt64(bytes[k]) }
            }
            return ClientAddress(family: 2, high: high, low: low)
        default:
            return .none
        }
    }
}
