import Dispatch
import Engine
import Health
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Steering
import Verdicts

/// Reloads configuration, zones, geo data and tables: all or nothing. The new snapshot is built off
/// the query path; on any error the old one keeps serving and the error is reported (log, API answer,
/// `meridian_reloads_total{result="failure"}`). Health states of unchanged endpoints carry over.
public final class Reloader: Sendable {
    /// Builds the new snapshot; throws (with file:line) when the config is bad or changes settings
    /// that only a restart applies (listen, control, decision log, workers).
    /// The notes are logged as warnings (key rollover steps, DNSSEC warnings).
    public typealias Build = @Sendable () throws -> (snapshot: Snapshot, checks: [CheckSpec], notes: [String])

    let build: Build
    let publisher: HealthPublisher
    let monitor: HealthMonitor?
    let metrics: MetricsSources
    let logger: Logger
    /// Hands freed heap back to the kernel after a load (the executable passes the server's).
    let releaseMemory: @Sendable () -> Void
    /// Told of every snapshot a reload publishes (NOTIFY of new serials).
    let published: @Sendable (Snapshot) -> Void
    let lock = NIOLock()
    let queue = DispatchQueue(label: "meridian.reload")

    public init(
        build: @escaping Build, publisher: HealthPublisher, monitor: HealthMonitor?, metrics: MetricsSources, logger: Logger,
        releaseMemory: @escaping @Sendable () -> Void, published: @escaping @Sendable (Snapshot) -> Void = { _ in }
    ) {
        self.published = published
        self.build = build
        self.publisher = publisher
        self.monitor = monitor
        self.metrics = metrics
        self.logger = logger
        self.releaseMemory = releaseMemory
    }

    /// Reloads now (blocking the caller); returns nil on success or the error message.
    @discardableResult
    public func reload() -> String? {
        lock.withLock {
            do {
                let (snapshot, checks, notes) = try build()
                for note in notes { logger.warning("\(note)") }
                let endpoints = EndpointCatalog(services: snapshot.services).monitored
                var states: HealthMonitor.States?
                if let monitor {
                    try monitor.reconfigure(checks: checks, endpoints: endpoints)
                    states = monitor.currentStates
                } else if !endpoints.isEmpty {
                    throw HealthConfigError("", "health checks were added; they take effect after a restart")
                }
                metrics.foldAnswers(of: publisher.store.current().0)
                publisher.install(snapshot, states: states)
                metrics.reloaded(error: nil)
                published(snapshot)
                // the old snapshot goes once every worker has let go of it (within a second,
                // UDPWorker.idleCheck, TCP loops likewise): then its heap pages go back to the kernel
                queue.asyncAfter(deadline: .now() + 2.5) { self.releaseMemory() }
                logger.notice(
                    "reloaded",
                    metadata: [
                        "zones": "\(snapshot.zones.count)", "services": "\(snapshot.services.count)",
                        "serials": "\(snapshot.zones.map { "\($0.originText)=\($0.serial)" }.joined(separator: " "))",
                    ])
                return nil
            } catch {
                metrics.reloaded(error: "\(error)")
                logger.error("reload failed; the previous configuration keeps serving", metadata: ["error": "\(error)"])
                queue.async { self.releaseMemory() } // what the failed build allocated
                return "\(error)"
            }
        }
    }

    /// Reloads on a background queue and completes `promise` (the control API's event loop is not blocked).
    public func reload(completing promise: EventLoopPromise<String?>) {
        queue.async { promise.succeed(self.reload()) }
    }
}
