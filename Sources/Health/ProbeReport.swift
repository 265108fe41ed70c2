import NIOCore

/// Where one probe's result goes: its promise, and the clock its latency is read from (started with the
/// probe). The first result set is the probe's; a later one (a reply after the timeout) is ignored.
struct ProbeReport: Sendable {
    let promise: EventLoopPromise<ProbeResult>
    /// Seconds since the probe started.
    let elapsed: @Sendable () -> Double

    /// The verdict on the endpoint, with the latency now.
    func verdict(_ ok: Bool, _ reason: String, certificateDaysLeft: Int? = nil) {
        promise.succeed(ProbeResult(ok: ok, reason: reason, latency: elapsed(), certificateDaysLeft: certificateDaysLeft))
    }

    /// A probe failed by `error`: down, or no verdict when the error is a local resource failure
    /// (`ProbeResult.failed`).
    func failed(_ reason: String, error: Error) {
        promise.succeed(.failed(reason, error: error, latency: elapsed()))
    }

    /// A result made elsewhere.
    func set(_ result: ProbeResult) { promise.succeed(result) }
}
