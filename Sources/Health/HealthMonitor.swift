import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// A monitored endpoint: an address probed by a named check. The same pair used by several services
/// is probed once.
public struct Endpoint: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let address: String
    public let check: String
    public init(address: String, check: String) {
        self.address = address
        self.check = check
    }
    public var description: String { "\(address)/\(check)" }
    public static func < (a: Endpoint, b: Endpoint) -> Bool { (a.address, a.check) < (b.address, b.check) }
}

/// Probes every endpoint on its check's interval (with jitter) on NIO event loops, runs each
/// endpoint's anti-flap state machine, logs one line per transition, and calls `onChange` with all
/// states after any transition. The data plane never waits on it: `onChange` publishes a new table.
public final class HealthMonitor: @unchecked Sendable {
    public typealias States = [Endpoint: EndpointState]

    let checks: [String: CheckSpec]
    let endpoints: [Endpoint]
    let group: EventLoopGroup
    let logger: Logger
    let onChange: @Sendable (States) -> Void
    let lock = NIOLock()
    var states: States
    var pushed: [Endpoint: ProbeResult] = [:]
    var tls: [String: NIOSSLContext] = [:]
    var stopped = false
    var firstRound: Set<Endpoint>

    /// `initial`: the state before the first result (`.unknown` = decided by the first round).
    public init(checks: [CheckSpec], endpoints: [Endpoint], group: EventLoopGroup, logger: Logger,
                initial: [Endpoint: EndpointState] = [:], onChange: @escaping @Sendable (States) -> Void) throws {
        self.checks = Dictionary(checks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.endpoints = endpoints
        self.group = group
        self.logger = logger
        self.onChange = onChange
        var states: States = [:]
        for e in endpoints {
            guard let c = self.checks[e.check] else { throw HealthConfigError("", "unknown check '\(e.check)'") }
            states[e] = initial[e] ?? EndpointState(rise: c.rise, fall: c.fall)
        }
        self.states = states
        firstRound = Set(endpoints)
        for c in checks where c.kind == .https {
            var config = TLSConfiguration.makeClientConfiguration()
            config.certificateVerification = .fullVerification
            if let ca = c.caFile { config.trustRoots = .file(ca) }
            do {
                tls[c.name] = try NIOSSLContext(configuration: config)
            } catch {
                throw HealthConfigError(c.declaredAt, "check \(c.name): TLS setup failed: \(error)")
            }
        }
    }

    /// Starts probing: every endpoint once at once (the first round), then on its interval.
    public func start() {
        var loops = group.makeIterator()
        for endpoint in endpoints {
            let loop = loops.next() ?? group.next()
            loop.execute { self.probe(endpoint, on: loop) }
        }
    }

    public func stop() { lock.withLock { stopped = true } }

    /// Blocks until every endpoint has a first result, or `timeout` seconds pass. Returns whether
    /// the round completed.
    @discardableResult
    public func waitForFirstRound(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if lock.withLock({ firstRound.isEmpty }) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return lock.withLock { firstRound.isEmpty }
    }

    public var currentStates: States { lock.withLock { states } }

    /// External state for `push` checks (the control API). Returns false for an unknown endpoint.
    public func push(_ endpoint: Endpoint, up: Bool, reason: String) -> Bool {
        guard states[endpoint] != nil, checks[endpoint.check]?.kind == .push else { return false }
        lock.withLock { pushed[endpoint] = ProbeResult(ok: up, reason: "pushed: \(reason)", latency: 0) }
        let loop = group.next()
        loop.execute { self.probe(endpoint, on: loop, reschedule: false) }
        return true
    }

    func probe(_ endpoint: Endpoint, on loop: EventLoop, reschedule: Bool = true) {
        guard let check = checks[endpoint.check], !lock.withLock({ stopped }) else { return }
        let pushedResult = lock.withLock { pushed[endpoint] }
        Probe.run(check, address: endpoint.address, on: loop, tls: tls[check.name], pushed: pushedResult).whenSuccess { result in
            self.record(endpoint, check: check, result: result)
            guard reschedule else { return }
            let spread = check.interval * check.jitter
            let delay = check.interval + Double.random(in: -spread...spread)
            loop.scheduleTask(in: .nanoseconds(Int64(max(0.05, delay) * 1e9))) { self.probe(endpoint, on: loop) }
        }
    }

    func record(_ endpoint: Endpoint, check: CheckSpec, result: ProbeResult) {
        let (transition, snapshot): (EndpointState.Transition?, States?) = lock.withLock {
            firstRound.remove(endpoint)
            let t = states[endpoint]?.record(success: result.ok, reason: result.reason, latency: result.latency,
                                             certificateDaysLeft: result.certificateDaysLeft)
            return (t, t == nil ? nil : states)
        }
        if let transition, let snapshot {
            logger.notice("health transition", metadata: [
                "endpoint": "\(endpoint.address)", "check": "\(endpoint.check)", "type": "\(check.kind.rawValue)",
                "from": "\(transition.from.rawValue)", "to": "\(transition.to.rawValue)", "reason": "\(result.reason)",
                "latency_ms": "\(String(format: "%.1f", result.latency * 1000))",
            ])
            onChange(snapshot)
        }
    }
}
