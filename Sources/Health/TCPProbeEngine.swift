import CProbe
#if canImport(Glibc)
import Glibc
#endif

/// `tcp` and `tcp-half-open` checks on IP-literal endpoints, run by CProbe's engine: one thread,
/// non-blocking connect (or a SYN from a raw socket) and epoll, no channel or future per probe. It
/// schedules every probe itself (interval from the previous result, jitter, timeout) and reports
/// results in batches; `HealthMonitor` only keeps the state.
final class TCPProbeEngine: @unchecked Sendable {
    /// Receives each turn's results on the engine thread: (id given to `add`, result), and how many
    /// probes could not be made for a local reason (out of descriptors or memory; no verdict) with
    /// the last such errno.
    typealias Results = ([(id: UInt64, result: ProbeResult)], _ skipped: Int, _ skippedErrno: Int32) -> Void

    /// Holds the delivery closure for the C callback's context pointer.
    private final class Sink {
        let deliver: Results
        let timeouts: (UInt64) -> Double
        init(deliver: @escaping Results, timeouts: @escaping (UInt64) -> Double) {
            self.deliver = deliver
            self.timeouts = timeouts
        }
    }

    private var engine: OpaquePointer?
    private let sink: Unmanaged<Sink>

    /// `timeoutOf(id)` names the timeout in "timeout after N s" reasons.
    init(timeoutOf: @escaping (UInt64) -> Double, deliver: @escaping Results) throws {
        sink = Unmanaged.passRetained(Sink(deliver: deliver, timeouts: timeoutOf))
        var err = [CChar](repeating: 0, count: 256)
        let callback: mprobe_callback = { context, results, count in
            guard let context, let results else { return }
            let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
            var batch: [(id: UInt64, result: ProbeResult)] = []
            batch.reserveCapacity(Int(count))
            var skipped = 0
            var skippedErrno: Int32 = 0
            for r in UnsafeBufferPointer(start: results, count: Int(count)) {
                if r.error < 0 {
                    skipped += 1
                    skippedErrno = -r.error
                    continue
                }
                let latency = Double(r.latency_us) / 1e6
                let result: ProbeResult
                let halfOpen = r.flags & MPROBE_HALF_OPEN != 0
                switch r.error {
                case 0: result = ProbeResult(ok: true, reason: halfOpen ? "SYN-ACK" : "connected", latency: latency)
                case ECONNREFUSED where halfOpen: result = ProbeResult(ok: false, reason: "RST (refused)", latency: latency)
                case ETIMEDOUT: result = ProbeResult(ok: false, reason: "timeout after \(sink.timeouts(r.id))s", latency: latency)
                default:
                    result = ProbeResult(
                        ok: false, reason: "connect: \(String(cString: strerror(r.error))) (errno \(r.error))",
                        latency: latency)
                }
                batch.append((r.id, result))
            }
            sink.deliver(batch, skipped, skippedErrno)
        }
        guard let e = mprobe_new(callback, sink.toOpaque(), &err, err.count) else {
            sink.release()
            throw HealthConfigError("", "tcp probe engine: \(String(cString: err))")
        }
        engine = e
    }

    /// Starts probing (half-open for `tcp-half-open` checks); nil when `address` is not an IP literal
    /// (the caller probes it another way), or, half-open, has no route or there is no raw socket.
    func add(id: UInt64, address: String, check: CheckSpec, firstDelay: Double) -> Int64? {
        guard let engine else { return nil }
        var err = [CChar](repeating: 0, count: 128)
        // seconds -> milliseconds, clamped to what the engine takes (intervals beyond 49 days are 49 days)
        func ms(_ seconds: Double) -> UInt32 { UInt32(min(max(seconds * 1000, 0), Double(UInt32.max))) }
        let handle = mprobe_add(
            engine, id, address, UInt16(check.port), check.kind == .tcpHalfOpen ? 1 : 0,
            ms(check.interval), ms(check.timeout), ms(check.interval * check.jitter), ms(firstDelay),
            &err, err.count)
        return handle >= 0 ? handle : nil
    }

    /// Why `tcp-half-open` checks cannot run in this process (no CAP_NET_RAW), or nil.
    static func halfOpenUnavailable() -> String? {
        let code = mprobe_half_open_permitted()
        return code == 0 ? nil : "raw sockets: \(String(cString: strerror(code))) (tcp-half-open needs CAP_NET_RAW)"
    }

    func remove(_ handle: Int64) {
        guard let engine else { return }
        mprobe_remove(engine, handle)
    }

    /// Stops the engine thread (not from within a delivery).
    func close() {
        guard let e = engine else { return }
        engine = nil
        mprobe_free(e)
        sink.release()
    }
}
