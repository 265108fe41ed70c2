import Engine
import Logging
import NIOCore
import Zones

#if canImport(Glibc)
import Glibc
#endif

/// Keeps signed zones signed: once a zone reaches its re-signing time (`ZoneSignatures.resignAt`: its
/// next signing epoch, which is the next re-signing boundary or key event, and never later than
/// `refresh` before its earliest signature expires) it reloads, which signs again from the key files
/// and so publishes, activates and withdraws keys at the times their files give. A failed reload leaves the last good
/// signatures serving and is logged at error level; it is tried again a minute later.
public final class SignatureRefresher: @unchecked Sendable {
    let store: SnapshotStore
    let reloader: Reloader
    let logger: Logger
    /// The earliest time of the next attempt after a failure (UNIX time), and whether a reload is
    /// under way; only touched on the event loop.
    var retryAfter: Int64 = 0
    var reloading = false
    var task: RepeatedTask?

    public init(store: SnapshotStore, reloader: Reloader, logger: Logger) {
        self.store = store
        self.reloader = reloader
        self.logger = logger
    }

    /// Checks every second on `loop`; the reload itself runs on the reloader's queue.
    public func start(on loop: EventLoop) {
        task = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [self] _ in
            check(now: Int64(time(nil)), loop: loop)
        }
    }

    func check(now: Int64, loop: EventLoop) {
        guard !reloading, now >= retryAfter else { return }
        let zones = store.current().0.zones
        guard let due = zones.compactMap({ $0.signatures?.resignAt }).min(), now >= due else { return }
        let expires = zones.compactMap { $0.signatures?.expires }.min() ?? 0
        logger.info("re-signing", metadata: ["due": "\(due)", "earliest_expiry": "\(expires)"])
        reloading = true
        reloader.queue.async { [self] in
            let error = reloader.reload()
            loop.execute { [self] in
                reloading = false
                guard let error else { return }
                retryAfter = now + 60
                logger.error(
                    "re-signing failed: the last good signatures keep serving until they expire",
                    metadata: ["error": "\(error)", "expires_in_seconds": "\(expires - now)"])
            }
        }
    }
}
