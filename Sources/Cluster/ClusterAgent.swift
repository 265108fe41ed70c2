import FoundationEssentials
import Health
import Logging
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One instance's membership of an NS set that shares state through etcd (control plane, beside
/// Health; DESIGN.md "Cluster"). It keeps a session with etcd and hands the health publisher two
/// things: the shared verdicts (the quorum over every live instance's verdict, `ClusterView`), and
/// the shared overrides.
///
/// A session: a lease (`leaseTTL`, renewed every third of it), this instance's `MemberInfo` and its
/// own verdicts under the lease, the overrides written while etcd was unreachable, then one read of
/// the whole prefix and a watch from the revision after it. Any failure ends the session; the next
/// one starts after a short back-off, on the next member, and resynchronises everything (the lease
/// is kept when it is still alive).
///
/// When etcd fails, serving never stops: the last shared state stays in force for `grace`, then the
/// instance falls back to its own verdicts until a session succeeds again (`Status.mode`).
///
/// Invariant: `own` is what the local monitor says now; `written` is what this instance's verdict
/// keys hold under the current lease. The writer makes `written` equal `own`, transitions only.
public final class ClusterAgent: Sendable {
    /// What the agent tells the health publisher. Called from the agent's tasks, never concurrently.
    public struct Sink: Sendable {
        /// The shared verdicts, or nil: use the instance's own (standalone, or the grace ran out).
        public var verdicts: @Sendable ([Endpoint: Bool]?) -> Void
        /// The NS set's overrides (etcd's, with this instance's unwritten changes on top).
        public var overrides: @Sendable ([OverrideTarget: OverrideState]) -> Void

        public init(
            verdicts: @escaping @Sendable ([Endpoint: Bool]?) -> Void,
            overrides: @escaping @Sendable ([OverrideTarget: OverrideState]) -> Void
        ) {
            self.verdicts = verdicts
            self.overrides = overrides
        }
    }

    /// Where the instance stands with the NS set.
    public enum Mode: String, Sendable {
        /// A session is up: answers follow the shared verdicts.
        case connected
        /// etcd unreachable, within the grace: answers follow the last shared verdicts.
        case degraded
        /// etcd unreachable past the grace (or never reached): answers follow this instance's own verdicts.
        case fallback
    }

    /// For `/v1/status`, metrics and `/healthz`.
    public struct Status: Sendable {
        public var mode: Mode
        public var view: ClusterView
        /// Seconds since the last session ended (or since start, before the first), while not connected.
        public var disconnectedFor: Double?
        public var lastError: String?
        public var sessions: Int
        public var member: String?
    }

    public let node: String
    public let keys: ClusterKeys
    public let rule: QuorumRule
    public let leaseTTL: Int
    public let grace: Double
    let client: EtcdClient
    let logger: Logger
    let sink: Sink

    private struct State {
        var info: MemberInfo
        var own: [Endpoint: Bool] = [:]
        var written: [Endpoint: Bool] = [:]
        /// Override changes made here that the view does not show yet (nil value: clear): written
        /// to etcd, and kept on top of the view until its watch brings them back.
        var pendingOverrides: [OverrideTarget: OverrideState?] = [:]
        /// What of `pendingOverrides` this session has written (not written again every pass).
        var pendingWritten: [OverrideTarget: OverrideState?] = [:]
        var view = ClusterView()
        var mode = Mode.fallback
        var connected = false
        var disconnectedSince: Double? = monotonicSeconds()
        var lastError: String?
        var sessions = 0
        var lease: Int64 = 0
        var memberDirty = true
        /// What the sink was last given (nil verdicts: none yet, or the fallback).
        var handedOverrides: [OverrideTarget: OverrideState]?
        var handedVerdicts: [Endpoint: Bool]?
        /// Peers whose differing configuration digest was logged, with that digest.
        var reportedDigests: [String: String] = [:]
    }
    private let state: Mutex<State>
    private let stopped = Atomic<Bool>(false)
    /// Held while the sink is called: the session's publications and the grace timer's fall-back
    /// reach the publisher one at a time, each deciding from the state as it is then.
    private let sinkLock = Mutex<Void>(())

    public init(
        client: EtcdClient, node: String, keys: ClusterKeys, rule: QuorumRule, leaseTTL: Int, grace: Double, info: MemberInfo, sink: Sink,
        logger: Logger
    ) {
        self.client = client
        self.node = node
        self.keys = keys
        self.rule = rule
        self.leaseTTL = leaseTTL
        self.grace = grace
        self.sink = sink
        self.logger = logger
        state = Mutex(State(info: info))
    }

    // MARK: inputs

    /// The local monitor's states (after every coalesced batch of transitions): up and down become
    /// this instance's verdicts; unknown ones are not published (they count for nobody).
    public func localStates(_ states: HealthMonitor.States) {
        var own: [Endpoint: Bool] = [:]
        for (endpoint, s) in states {
            switch s.status {
            case .up: own[endpoint] = true
            case .down: own[endpoint] = false
            case .unknown: break
            }
        }
        state.withLock { $0.own = own }
    }

    /// An override changed on this instance (control API): written to etcd by the next writer pass,
    /// or when etcd returns.
    public func overrideChanged(_ target: OverrideTarget, _ value: OverrideState?) {
        state.withLock { $0.pendingOverrides[target] = .some(value) }
    }

    /// What this instance says about itself changed (a reload: config digest, zone serials).
    public func updateInfo(_ info: MemberInfo) {
        state.withLock {
            $0.info = info
            $0.memberDirty = true
        }
    }

    public var status: Status {
        state.withLock {
            Status(
                mode: $0.mode, view: $0.view, disconnectedFor: $0.connected ? nil : $0.disconnectedSince.map { monotonicSeconds() - $0 },
                lastError: $0.lastError,
                sessions: $0.sessions, member: $0.connected ? client.currentEndpoint.description : nil)
        }
    }

    /// This instance's member record as it stands.
    public var info: MemberInfo { state.withLock { $0.info } }

    // MARK: running

    /// Starts the session loop and the grace timer on their own tasks.
    public func start() {
        Task.detached { [self] in await self.sessions() }
        Task.detached { [self] in await self.graceTimer() }
    }

    /// Ends the session: revokes the lease so the NS set stops counting this instance at once.
    public func stop() async {
        stopped.store(true, ordering: .relaxed)
        let lease = state.withLock { $0.lease }
        if lease != 0 { try? await client.revoke(lease) }
    }

    private func sessions() async {
        var backoff = 0.25
        while !stopped.load(ordering: .relaxed) {
            do {
                try await session()
            } catch {
                let wasConnected = state.withLock { s -> Bool in
                    let was = s.connected
                    s.connected = false
                    s.lastError = "\(error)"
                    if was {
                        s.disconnectedSince = monotonicSeconds()
                        s.mode = .degraded
                    }
                    return was
                }
                if wasConnected {
                    logger.error(
                        "cluster: lost etcd; answers keep the last shared state for the grace", metadata: ["error": "\(error)", "grace_s": "\(grace)"])
                    backoff = 0.25
                }
            }
            try? await Task.sleep(nanoseconds: UInt64(backoff * 1e9))
            backoff = min(backoff * 2, 2)
        }
    }

    /// Within the grace the last shared state stays; past it, this instance's own verdicts.
    private func graceTimer() async {
        while !stopped.load(ordering: .relaxed) {
            try? await Task.sleep(nanoseconds: 200_000_000)
            let fellBack = sinkLock.withLock { _ -> Bool in
                let fell = state.withLock { s -> Bool in
                    guard !s.connected, s.mode != .fallback, let since = s.disconnectedSince, monotonicSeconds() - since >= grace else {
                        return false
                    }
                    s.mode = .fallback
                    s.handedVerdicts = nil
                    return true
                }
                if fell { sink.verdicts(nil) }
                return fell
            }
            if fellBack {
                logger.critical("cluster: etcd unreachable past the grace: answering from this instance's own verdicts", metadata: ["grace_s": "\(grace)"])
            }
        }
    }

    /// One session, until something fails (it throws then). The lease is renewed from the moment
    /// it is granted: writing thousands of verdicts and reading the prefix back may take longer
    /// than its TTL.
    private func session() async throws {
        let lease = try await acquireLease()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.keepAlive(lease) }
            group.addTask {
                let revision = try await self.synchronise(lease)
                try await self.follow(lease, from: revision)
            }
            defer { group.cancelAll() }
            try await group.next()
        }
        throw EtcdError.unavailable("the session ended")
    }

    /// Writes this instance's member record, verdicts and pending overrides under `lease`, reads
    /// the whole prefix into the view and hands it to the publisher. Returns the revision read.
    private func synchronise(_ lease: Int64) async throws -> Int64 {
        let (info, own, pending) = state.withLock { s in
            s.lease = lease
            s.memberDirty = false
            s.pendingWritten = [:]
            return (s.info, s.own, s.pendingOverrides)
        }
        try await client.put(keys.member(node), try JSONEncoder().encode(info).bytes, lease: lease)
        // every verdict anew: the keys of a lease that expired are gone
        try await writeVerdicts(own, replacing: [:], lease: lease)
        try await writeOverrides(pending)
        let (kvs, revision) = try await client.range(prefix: keys.all)
        let view = ClusterView(keys: keys, kvs: kvs, revision: revision)
        let sessions = state.withLock { s -> Int in
            s.view = view
            s.connected = true
            s.mode = .connected
            s.disconnectedSince = nil
            s.lastError = nil
            s.sessions += 1
            return s.sessions
        }
        logger.notice(
            "cluster: in session with etcd",
            metadata: [
                "member": "\(client.currentEndpoint)", "node": "\(node)", "revision": "\(revision)", "peers": "\(view.members.count)",
                "session": "\(sessions)",
            ])
        publish(view)
        return revision
    }

    /// The writer and the watch from `revision` on, until one of them fails.
    private func follow(_ lease: Int64, from revision: Int64) async throws {
        let cancel = client.group.next().makePromise(of: Void.self)
        defer { cancel.succeed(()) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.writer(lease) }
            group.addTask {
                // the stream ends only when its connection closes: cancelling the session closes it
                try await withTaskCancellationHandler {
                    try await self.client.watch(prefix: self.keys.all, from: revision + 1, cancel: cancel.futureResult) { events, revision in
                        let view = self.state.withLock { s -> ClusterView in
                            s.view.apply(keys: self.keys, events: events, revision: revision)
                            return s.view
                        }
                        self.publish(view)
                    }
                } onCancel: {
                    cancel.succeed(())
                }
                throw EtcdError.unavailable("the watch ended")
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// The lease of the last session when it is still alive (its keys are still there), else a new one.
    private func acquireLease() async throws -> Int64 {
        let old = state.withLock { $0.lease }
        if old != 0, (try? await client.keepAlive(old)) ?? 0 > 0 { return old }
        state.withLock { $0.written = [:] }
        return try await client.grant(ttl: leaseTTL)
    }

    private func keepAlive(_ lease: Int64) async throws {
        let period = UInt64(max(Double(leaseTTL) / 3, 0.5) * 1e9)
        while !Task.isCancelled {
            try await Task.sleep(nanoseconds: period)
            guard try await client.keepAlive(lease) > 0 else {
                state.withLock { $0.lease = 0 }
                throw EtcdError.unavailable("the lease expired")
            }
        }
    }

    /// Every 50 ms: this instance's verdict transitions, its member record when it changed, and
    /// override changes, to etcd.
    private func writer(_ lease: Int64) async throws {
        while !Task.isCancelled {
            try await Task.sleep(nanoseconds: 50_000_000)
            let (own, written, pending, info) = state.withLock { s in
                let info = s.memberDirty ? s.info : nil
                s.memberDirty = false
                let unwritten = s.pendingOverrides.filter { target, value in s.pendingWritten[target].map { $0 != value } ?? true }
                return (s.own, s.written, unwritten, info)
            }
            if let info {
                do { try await client.put(keys.member(node), try JSONEncoder().encode(info).bytes, lease: lease) } catch {
                    state.withLock { $0.memberDirty = true }
                    throw error
                }
            }
            if own != written { try await writeVerdicts(own, replacing: written, lease: lease) }
            if !pending.isEmpty { try await writeOverrides(pending) }
        }
    }

    /// Writes the difference between `written` and `own` in transactions of at most 128 operations
    /// (etcd's default `--max-txn-ops`), and records each batch as written once etcd took it.
    private func writeVerdicts(_ own: [Endpoint: Bool], replacing written: [Endpoint: Bool], lease: Int64) async throws {
        var changes: [(Endpoint, Bool?)] = own.filter { written[$0.key] != $0.value }.map { ($0.key, $0.value) }
        changes += written.keys.filter { own[$0] == nil }.map { ($0, nil) }
        changes.sort { $0.0 < $1.0 }
        var start = 0
        while start < changes.count {
            let batch = changes[start..<min(start + 128, changes.count)]
            try await client.apply(
                batch.map { endpoint, up in
                    up.map { .put(key: keys.verdict(node: node, endpoint), value: Array(($0 ? "up" : "down").utf8), lease: lease) }
                        ?? .delete(key: keys.verdict(node: node, endpoint))
                })
            state.withLock { s in for (endpoint, up) in batch { s.written[endpoint] = up } }
            start += 128
        }
    }

    /// Writes override changes made here, each once per session; they stay pending until the
    /// view shows them (`publish`).
    private func writeOverrides(_ pending: [OverrideTarget: OverrideState?]) async throws {
        for (target, value) in pending.sorted(by: { $0.key.description < $1.key.description }) {
            if let value {
                try await client.put(keys.override(target), Array(value.rawValue.utf8))
            } else {
                try await client.delete(keys.override(target))
            }
            state.withLock { $0.pendingWritten[target] = .some(value) }
        }
    }

    /// Hands a new view to the publisher: its quorum verdicts and its overrides with this
    /// instance's unwritten changes on top.
    /// Each only when it changed (an override change rewrites the state file).
    /// A pending override the view shows is no longer pending: etcd has it, and from now on the
    /// view decides (a later revision from anywhere wins).
    private func publish(_ view: ClusterView) {
        let verdicts = view.sharedVerdicts(rule: rule)
        sinkLock.withLock { _ in
            let (overrides, newOverrides, newVerdicts) = state.withLock { s in
                for (target, value) in s.pendingOverrides where view.overrides[target] == value && s.pendingWritten[target] == .some(value) {
                    s.pendingOverrides[target] = nil
                    s.pendingWritten[target] = nil
                }
                var overrides = view.overrides
                for (target, value) in s.pendingOverrides { overrides[target] = value }
                let changes = (overrides != s.handedOverrides, s.connected && verdicts != s.handedVerdicts)
                s.handedOverrides = overrides
                if changes.1 { s.handedVerdicts = verdicts }
                return (overrides, changes.0, changes.1)
            }
            if newOverrides { sink.overrides(overrides) }
            if newVerdicts { sink.verdicts(verdicts) }
        }
        reportMismatches(view)
    }

    /// Logs each peer whose configuration digest differs from this instance's, once per digest.
    private func reportMismatches(_ view: ClusterView) {
        let fresh = state.withLock { s -> [MemberInfo] in
            let ours = s.info.configDigest
            let differing = view.members.values.filter { $0.configDigest != ours && s.reportedDigests[$0.node] != $0.configDigest }
            for member in differing { s.reportedDigests[member.node] = member.configDigest }
            return differing.sorted { $0.node < $1.node }
        }
        let ours = info.configDigest
        for member in fresh {
            logger.critical(
                "cluster: a peer runs a different configuration: the NS set may answer differently",
                metadata: ["peer": "\(member.node)", "peer_digest": "\(member.configDigest)", "our_digest": "\(ours)"])
        }
    }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

extension Data {
    var bytes: [UInt8] { [UInt8](self) }
}
