import Engine
import Logging

/// Logs when client networks start and stop being rate-limited (`ResponseRateLimiter` events), itself
/// limited: at most `maxLines` lines per drain (call it once a second), the rest summed in one line, so
/// that a flood from many networks cannot flood the log.
public final class RateLimitLog: @unchecked Sendable {
    let rings: [RateLimitEventRing]
    let logger: Logger
    let maxLines: Int
    let policy: @Sendable () -> RateLimitPolicy
    /// Events not logged line by line, and events the rings dropped when full, since start.
    public private(set) var suppressed = 0
    private var ringDrops = 0

    /// `policy` gives the serving policy (its prefix lengths; in dry-run mode the lines say "would limit").
    public init(rings: [RateLimitEventRing], logger: Logger, maxLines: Int = 20, policy: @escaping @Sendable () -> RateLimitPolicy) {
        self.rings = rings
        self.logger = logger
        self.maxLines = maxLines
        self.policy = policy
    }

    /// Takes every event the workers recorded and logs them; called from one thread at a time.
    public func drain() {
        var lines = 0
        var extra = 0
        let policy = self.policy()
        let verb = policy.dryRun ? "would limit" : "limiting"
        for ring in rings {
            ring.drain { event in
                guard lines < maxLines else {
                    extra += 1
                    return
                }
                lines += 1
                let network = event.text(prefix: event.family == .v4 ? policy.v4Prefix : policy.v6Prefix)
                let what = ResponseClass.name(event.kind)
                if event.started {
                    logger.warning("rrl: \(verb) \(what) to \(network)", metadata: ["network": "\(network)", "class": "\(what)"])
                } else {
                    logger.info("rrl: no longer \(verb) \(what) to \(network)", metadata: ["network": "\(network)", "class": "\(what)"])
                }
            }
        }
        let drops = rings.reduce(0) { $0 + $1.droppedCount }
        extra += drops - ringDrops
        ringDrops = drops
        if extra > 0 {
            suppressed += extra
            logger.warning("rrl: \(extra) more networks started or stopped being limited (not logged one by one)")
        }
    }
}
