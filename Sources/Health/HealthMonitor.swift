import FoundationEssentials
import Glibc
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

/// Probes every endpoint on its check's interval (with jitter), runs each endpoint's anti-flap state
/// machine, logs one line per transition, and calls `onChange` with all states after any transition.
/// The data plane never waits on it: `onChange` publishes a new table. `tcp` checks of IP-literal
/// endpoints run on `TCPProbeEngine` (epoll, one thread); every other probe runs on NIO event loops.
public final class HealthMonitor: @unchecked Sendable {
    public typealias States = [Endpoint: EndpointState]

    var checks: [String: CheckSpec]
    var endpoints: [Endpoint]
    /// Generation of each active endpoint's probe loop: a loop whose generation is gone stops.
    var active: [Endpoint: Int] = [:]
    var generation = 0
    let group: EventLoopGroup
    let logger: Logger
    let onChange: @Sendable (States) -> Void
    let lock = NIOLock()
    var states: States
    var pushed: [Endpoint: ProbeResult] = [:]
    var tls: [String: NIOSSLContext] = [:]
    var stopped = false
    var firstRound: Set<Endpoint>
    /// Transitions are published together: the first one schedules a publication `coalesce` later.
    var publishScheduled = false
    public var coalesce: TimeAmount = .milliseconds(20)
    /// Created with the first `tcp` endpoint; endpoints it probes, by handle and by id.
    var tcpEngine: TCPProbeEngine?
    var tcpHandles: [Endpoint: (id: UInt64, handle: Int64)] = [:]
    var tcpEndpoints: [UInt64: Endpoint] = [:]
    var nextTCPId: UInt64 = 0
    var skippedSinceWarning = 0
    var lastSkipWarning = NIODeadline.uptimeNanoseconds(0)

    /// `initial`: the state before the first result (`.unknown` = decided by the first round).
    public init(
        checks: [CheckSpec], endpoints: [Endpoint], group: EventLoopGroup, logger: Logger,
        initial: [Endpoint: EndpointState] = [:], onChange: @escaping @Sendable (States) -> Void
    ) throws {
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
        launch(endpoints)
    }

    func launch(_ list: [Endpoint]) {
        let generations: [(Endpoint, Int)] = lock.withLock {
            generation += 1
            for e in list { active[e] = generation }
            return list.map { ($0, generation) }
        }
        // the first round is spread over half a timeout so thousands of checks do not connect at once
        for (endpoint, gen) in generations {
            let spread = (checks[endpoint.check]?.timeout ?? 0) / 2
            let delay = spread > 0 ? Double.random(in: 0..<spread) : 0
            if startOnEngine(endpoint, firstDelay: delay) { continue }
            let loop = group.next()
            loop.scheduleTask(in: .nanoseconds(Int64(delay * 1e9))) { self.probe(endpoint, on: loop, generation: gen) }
        }
    }

    /// Half-open probes need an IP address and raw sockets: a configuration without them is refused
    /// rather than failing every probe. Called once per configuration by the snapshot build that
    /// `check`, `serve` and every reload run before a monitor sees it (an endpoint that got past it
    /// anyway is probed by `Probe.run`, which reports it down with the reason).
    public static func refuseUnprobeableHalfOpen(checks: [String: CheckSpec], endpoints: [Endpoint]) throws {
        for e in endpoints {
            guard let c = checks[e.check], c.kind == .tcpHalfOpen else { continue }
            guard IPAddressCheck.isIP(e.address) else {
                throw HealthConfigError(c.declaredAt, "check \(c.name): tcp-half-open probes IP addresses; '\(e.address)' is a name")
            }
        }
        if let used = endpoints.first(where: { checks[$0.check]?.kind == .tcpHalfOpen }), let half = checks[used.check],
            let problem = TCPProbeEngine.halfOpenUnavailable()
        {
            throw HealthConfigError(half.declaredAt, "check \(half.name): \(problem)")
        }
    }

    /// Hands a `tcp` or `tcp-half-open` endpoint with an IP-literal address to the engine; false for
    /// anything else.
    func startOnEngine(_ endpoint: Endpoint, firstDelay: Double) -> Bool {
        lock.withLock {
            guard !stopped, let check = checks[endpoint.check], check.kind == .tcp || check.kind == .tcpHalfOpen,
                IPAddressCheck.isIP(endpoint.address)
            else {
                return false
            }
            if tcpEngine == nil {
                tcpEngine = try? TCPProbeEngine(
                    timeoutOf: { id in
                        self.lock.withLock { self.tcpEndpoints[id].flatMap { self.checks[$0.check]?.timeout } ?? 0 }
                    },
                    deliver: { batch, skipped, skippedErrno in
                        self.deliver(batch)
                        if skipped > 0 { self.reportSkipped(skipped, errno: skippedErrno) }
                    }) // a cycle until stop()
            }
            guard let engine = tcpEngine else { return false }
            let id = nextTCPId
            guard let handle = engine.add(id: id, address: endpoint.address, check: check, firstDelay: firstDelay) else { return false }
            nextTCPId += 1
            tcpHandles[endpoint] = (id, handle)
            tcpEndpoints[id] = endpoint
            return true
        }
    }

    /// Stops the engine's probes of `endpoint` (caller holds `lock`).
    func stopOnEngine(_ endpoint: Endpoint) {
        guard let entry = tcpHandles.removeValue(forKey: endpoint) else { return }
        tcpEndpoints[entry.id] = nil
        tcpEngine?.remove(entry.handle)
    }

    /// Probes that could not be made (descriptor or memory limits, in the engine or on NIO) leave the
    /// endpoints' states alone; a warning says so at most once a minute.
    func reportSkipped(_ count: Int, errno code: Int32) {
        let now = NIODeadline.now()
        let total: Int? = lock.withLock {
            skippedSinceWarning += count
            guard now - lastSkipWarning >= .seconds(60) else { return nil }
            lastSkipWarning = now
            defer { skippedSinceWarning = 0 }
            return skippedSinceWarning
        }
        guard let total else { return }
        logger.warning(
            "health probes not made: no verdict on those endpoints",
            metadata: [
                "probes": "\(total)", "error": "\(String(cString: strerror(code)))",
                "hint": "raise the open-files limit (LimitNOFILE)",
            ])
    }

    /// Results from the engine thread.
    func deliver(_ batch: [(id: UInt64, result: ProbeResult)]) {
        let resolved: [(Endpoint, CheckSpec, ProbeResult)] = lock.withLock {
            batch.compactMap { item in
                guard let e = tcpEndpoints[item.id], let c = checks[e.check] else { return nil }
                return (e, c, item.result)
            }
        }
        for (endpoint, check, result) in resolved { record(endpoint, check: check, result: result) }
    }

    /// Applies a reloaded configuration: endpoints whose check is unchanged keep their state and
    /// their probe loop (no flap on reload); new or changed ones start from scratch; removed ones stop.
    public func reconfigure(checks newChecks: [CheckSpec], endpoints newEndpoints: [Endpoint]) throws {
        let byName = Dictionary(newChecks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for e in newEndpoints where byName[e.check] == nil { throw HealthConfigError("", "unknown check '\(e.check)'") }
        var newTLS: [String: NIOSSLContext] = [:]
        for c in newChecks where c.kind == .https {
            var config = TLSConfiguration.makeClientConfiguration()
            config.certificateVerification = .fullVerification
            if let ca = c.caFile { config.trustRoots = .file(ca) }
            newTLS[c.name] = try NIOSSLContext(configuration: config)
        }
        let fresh: [Endpoint] = lock.withLock {
            var fresh: [Endpoint] = []
            var states: States = [:]
            for e in newEndpoints {
                let spec = byName[e.check]!
                if let old = self.states[e], checks[e.check] == spec {
                    states[e] = old
                } else {
                    states[e] = EndpointState(rise: spec.rise, fall: spec.fall)
                    fresh.append(e)
                    active[e] = nil
                    stopOnEngine(e)
                }
            }
            for e in active.keys where states[e] == nil { active[e] = nil }
            for e in tcpHandles.keys where states[e] == nil { stopOnEngine(e) }
            self.states = states
            self.checks = byName
            self.endpoints = newEndpoints
            self.tls = newTLS
            for e in fresh { firstRound.insert(e) }
            return fresh
        }
        launch(fresh)
    }

    public func stop() {
        let engine: TCPProbeEngine? = lock.withLock {
            stopped = true
            defer { tcpEngine = nil }
            return tcpEngine
        }
        engine?.close() // outside the lock: it waits for the engine thread, whose deliveries take the lock
    }

    /// Blocks until every endpoint has a first result, or `timeout` seconds pass. Returns whether
    /// the round completed.
    @discardableResult
    public func waitForFirstRound(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if lock.withLock({ firstRound.isEmpty }) { return true }
            usleep(20_000)
        }
        return lock.withLock { firstRound.isEmpty }
    }

    public var currentStates: States { lock.withLock { states } }

    /// External state for `push` checks (the control API). Returns false for an unknown endpoint.
    public func push(_ endpoint: Endpoint, up: Bool, reason: String) -> Bool {
        // `states` and `checks` change on reconfigure: read them under the lock, with the write
        let accepted: Bool = lock.withLock {
            guard states[endpoint] != nil, checks[endpoint.check]?.kind == .push else { return false }
            pushed[endpoint] = ProbeResult(ok: up, reason: "pushed: \(reason)", latency: 0)
            return true
        }
        guard accepted else { return false }
        let loop = group.next()
        loop.execute { self.probe(endpoint, on: loop) }
        return true
    }

    func probe(_ endpoint: Endpoint, on loop: EventLoop, generation gen: Int? = nil) {
        let (check, context, pushedResult, current): (CheckSpec?, NIOSSLContext?, ProbeResult?, Bool) = lock.withLock {
            let c = checks[endpoint.check]
            return (c, c.flatMap { tls[$0.name] }, pushed[endpoint], !stopped && (gen == nil || active[endpoint] == gen))
        }
        guard let check, current else { return }
        Probe.run(check, address: endpoint.address, on: loop, tls: context, pushed: pushedResult).whenSuccess { result in
            guard self.lock.withLock({ gen == nil || self.active[endpoint] == gen }) else { return }
            if let code = result.localFailure {
                self.reportSkipped(1, errno: code) // no verdict: the endpoint keeps its state
            } else {
                self.record(endpoint, check: check, result: result)
            }
            guard let gen else { return }
            let spread = check.interval * check.jitter
            let delay = check.interval + Double.random(in: -spread...spread)
            loop.scheduleTask(in: .nanoseconds(Int64(max(0.05, delay) * 1e9))) { self.probe(endpoint, on: loop, generation: gen) }
        }
    }

    func record(_ endpoint: Endpoint, check: CheckSpec, result: ProbeResult) {
        let (transition, schedule): (EndpointState.Transition?, Bool) = lock.withLock {
            firstRound.remove(endpoint)
            guard states[endpoint] != nil else { return (nil, false) }
            let t = states[endpoint]?.record(
                success: result.ok, reason: result.reason, latency: result.latency,
                certificateDaysLeft: result.certificateDaysLeft)
            guard t != nil, !publishScheduled else { return (t, false) }
            publishScheduled = true
            return (t, true)
        }
        guard let transition else { return }
        logger.notice(
            "health transition",
            metadata: [
                "endpoint": "\(endpoint.address)", "check": "\(endpoint.check)", "type": "\(check.kind.rawValue)",
                "from": "\(transition.from.rawValue)", "to": "\(transition.to.rawValue)", "reason": "\(result.reason)",
                "latency_ms": "\(ProbeResult.milliseconds(result.latency))",
            ])
        if schedule {
            // one publication for every transition within `coalesce` (a mass outage is one table swap)
            group.next().scheduleTask(in: coalesce) {
                let snapshot: States = self.lock.withLock {
                    self.publishScheduled = false
                    return self.states
                }
                self.onChange(snapshot)
            }
        }
    }
}
