/// The outcome of one probe.
public struct ProbeResult: Sendable {
    public var ok: Bool
    public var reason: String
    /// Seconds from start to result.
    public var latency: Double
    /// HTTPS: days until the server certificate expires.
    public var certificateDaysLeft: Int?
    /// Set when the probe could not be made for a local reason (the errno: out of descriptors, buffers
    /// or memory, no process slot): no verdict on the endpoint, whose state is left as it is.
    public var localFailure: Int32?
    public init(ok: Bool, reason: String, latency: Double, certificateDaysLeft: Int? = nil, localFailure: Int32? = nil) {
        self.ok = ok
        self.reason = reason
        self.latency = latency
        self.certificateDaysLeft = certificateDaysLeft
        self.localFailure = localFailure
    }

    /// A failed probe: no verdict when `error` is a local resource failure (see `localFailure`).
    static func failed(_ reason: String, error: Error, latency: Double) -> ProbeResult {
        ProbeResult(ok: false, reason: reason, latency: latency, localFailure: Probe.localErrno(error))
    }

    /// Seconds as milliseconds with one decimal ("12.3"), for log lines.
    public static func milliseconds(_ seconds: Double) -> String {
        let tenths = Int((max(seconds, 0) * 10_000).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
