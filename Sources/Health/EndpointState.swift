/// The anti-flap state machine of one endpoint (gdnsd's model): `fall` consecutive failures take an up
/// endpoint down, `rise` consecutive successes bring a down one up. Before the first result the state
/// is `initial`; the first result decides directly (the first round is authoritative).
public struct EndpointState: Sendable, Equatable {
    public enum Status: String, Sendable { case unknown, up, down }

    public private(set) var status: Status
    public private(set) var successes = 0
    public private(set) var failures = 0
    public private(set) var lastReason = "not checked yet"
    public private(set) var lastLatency: Double?
    public private(set) var certificateDaysLeft: Int?
    public private(set) var probes = 0
    public let rise: Int
    public let fall: Int

    public init(rise: Int, fall: Int, initial: Status = .unknown) {
        self.rise = rise
        self.fall = fall
        self.status = initial
    }

    /// A transition caused by a result: old and new status.
    public struct Transition: Sendable, Equatable {
        public let from: Status
        public let to: Status
    }

    /// Records one probe result; returns the transition when the status changed.
    public mutating func record(success: Bool, reason: String, latency: Double?, certificateDaysLeft: Int? = nil) -> Transition? {
        probes += 1
        lastReason = reason
        lastLatency = latency
        if let certificateDaysLeft { self.certificateDaysLeft = certificateDaysLeft }
        if success {
            successes += 1
            failures = 0
        } else {
            failures += 1
            successes = 0
        }
        let old = status
        switch status {
        case .unknown: status = success ? .up : .down
        case .up: if failures >= fall { status = .down }
        case .down: if successes >= rise { status = .up }
        }
        return old == status ? nil : Transition(from: old, to: status)
    }
}
