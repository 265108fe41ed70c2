import CSocket
import DNSWire
import Engine
import Glibc

/// One UDP worker: a thread with its own SO_REUSEPORT socket, batch buffers and `QueryProcessor`,
/// answering with recvmmsg/sendmmsg. It reads the snapshot without locks (see `SnapshotStore`).
public final class UDPWorker: @unchecked Sendable {
    /// Datagrams per recvmmsg/sendmmsg call.
    public static let batchSize: UInt32 = 32
    /// Room per datagram: EDNS payloads we accept and answer stay within this.
    public static let bufferSize: UInt32 = 4096

    let fd: Int32
    let store: SnapshotStore
    let label: String
    /// This worker's counters (the metrics endpoint sums them).
    public let counters = WorkerCounters()
    /// Sampled GSLB decisions (nil when the decision log is off); set before `start`.
    public var decisionRing: DecisionRing?
    /// This worker's response-rate-limiting table, allocated at start (nil: no limiting).
    public let rateLimiter: ResponseRateLimiter?

    /// How long a receive waits before the worker looks at the store again: an idle worker lets go
    /// of a replaced snapshot within this time, so a reload's old snapshot is freed whether or not
    /// queries arrive.
    static let idleCheck = timeval(tv_sec: 1, tv_usec: 0)

    /// Opens the socket now (so bind errors surface at start-up); `start` begins serving.
    public init(host: String, port: Int, store: SnapshotStore, rateLimitTableSize: Int = 0) throws {
        var message = [CChar](repeating: 0, count: 256)
        let fd = msock_open_udp(host, Int32(port), &message, message.count)
        guard fd >= 0 else { throw ServerError.bind(String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
        var timeout = UDPWorker.idleCheck
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
        self.store = store
        self.label = "udp \(host):\(port)"
        var random = SystemRandomNumberGenerator()
        rateLimiter = rateLimitTableSize > 0 ? ResponseRateLimiter(capacity: rateLimitTableSize, seed: random.next()) : nil
    }

    public func start() throws {
        try DetachedThread.start(name: label, stackSize: 1 << 20) { [self] in self.run() }
    }

    func run() {
        guard let batch = msock_batch_new(UDPWorker.batchSize, UDPWorker.bufferSize) else { return }
        defer { msock_batch_free(batch) }
        let processor = QueryProcessor(seed: UInt64(UInt(bitPattern: ObjectIdentifier(self).hashValue)), counters: counters)
        processor.decisionRing = decisionRing
        processor.clock = wallClockNanoseconds
        processor.rateLimiter = rateLimiter
        var (snapshot, generation) = store.current()
        let capacity = Int(msock_buffer_size(batch))
        while true {
            let received = msock_recv(fd, batch)
            if store.generation != generation { (snapshot, generation) = store.current() }
            if received <= 0 { continue } // idle (SO_RCVTIMEO), EINTR and transient errors: keep serving
            processor.now = wallClockSeconds()
            var replies: UInt32 = 0
            for i in 0..<UInt32(received) {
                let length = Int(msock_packet_length(batch, i))
                guard length > 0 else { continue }
                let answer = processor.process(
                    query: UnsafeRawBufferPointer(start: msock_packet(batch, i), count: length),
                    response: msock_reply_buffer(batch, replies), capacity: capacity, transport: .udp,
                    client: IPAddress(sockaddr: msock_peer(batch, i)), snapshot: snapshot)
                if answer > 0 {
                    msock_set_reply(batch, replies, i, UInt32(answer))
                    replies += 1
                }
            }
            if replies > 0 { _ = msock_send(fd, batch, replies) }
        }
    }
}

/// Failures to start serving.
public enum ServerError: Error, CustomStringConvertible {
    case bind(String)
    public var description: String {
        switch self {
        case let .bind(message): return "cannot listen: \(message)"
        }
    }
}

/// Wall-clock seconds since 1970 from the coarse clock (a vDSO read, no system call): once per batch,
/// for cookie timestamps and rate-limit buckets.
@inline(__always) func wallClockSeconds() -> UInt32 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME_COARSE, &ts)
    return UInt32(truncatingIfNeeded: ts.tv_sec)
}

/// Wall-clock time in nanoseconds (decision-log timestamps).
@Sendable func wallClockNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
