import NIOCore

/// The limits a DNS-over-TCP connection lives under (RFC 7766 §6.2.2 connection handling, §6.2.3
/// idle timeouts). Defaults:
/// - `idleTimeout` 10 s: a connection with no byte read (and no write progress) for this long is closed.
/// - `messageTimeout` 3 s: a message whose first octet has arrived must be complete within this long,
///   however slowly its bytes trickle in (the idle timer alone restarts on every byte).
/// - `busyIdleTimeout` 200 ms: the idle timeout while more than half of `maxConnections` are open
///   (as NSD does), so idle and dribbling connections make room quickly under load.
/// - `maxConnections` 1024: when all are open, a new connection closes the oldest idle one (no query
///   in progress, nothing waiting to be written); with none idle the new one is refused.
/// - `maxConnectionsPerClient` 32 (per source address): at that count a new connection from the
///   address closes the address's oldest idle one, or is refused when none is idle.
/// - `maxQueriesPerConnection` 10,000: after answering that many the connection is closed (once its
///   answers are written), and `maxLifetime` 300 s: a connection open that long is closed once no
///   message is partly read and no zone transfer is being sent, however busy (RFC 7766 §6.2.2 lets a server close connections; clients
///   reconnect). Neither lets one client hold a connection slot for ever.
/// - The idle timeout is advertised in edns-tcp-keepalive (RFC 7828) to queries that send the option.
/// - Replies waiting in user space are bounded by the write buffer water marks (16 KiB low, 64 KiB
///   high): above the high mark the connection stops answering and reading until it drains below
///   the low mark. Unparsed input is bounded by `maxInboundBytes` (512 KiB: one partial message of at
///   most 65535 + 2 octets plus what one readable event delivers while answering is paused).
public struct TCPLimits: Sendable, Equatable {
    public var idleTimeout: Double = 10
    public var messageTimeout: Double = 3
    public var busyIdleTimeout: Double = 0.2
    public var maxConnections = 1024
    public var maxConnectionsPerClient = 32
    public var maxQueriesPerConnection = 10_000
    public var maxLifetime: Double = 300
    public var writeLowWaterMark = 16 * 1024
    public var writeHighWaterMark = 64 * 1024
    public var maxInboundBytes = 512 * 1024

    public init() {}

    /// The idle timeout in the units of edns-tcp-keepalive's TIMEOUT, 100 ms (RFC 7828 §3.1).
    var keepaliveTimeout: UInt16 { UInt16(clamping: Int((idleTimeout * 10).rounded(.down))) }

    /// The time amounts the connection handler compares against (converted once, not per event).
    struct Timeouts {
        let idle: TimeAmount
        let busyIdle: TimeAmount
        let message: TimeAmount
        let lifetime: TimeAmount

        init(_ limits: TCPLimits) {
            idle = .nanoseconds(Int64(limits.idleTimeout * 1e9))
            lifetime = .nanoseconds(Int64(min(limits.maxLifetime, 1e9) * 1e9))
            busyIdle = .nanoseconds(Int64(limits.busyIdleTimeout * 1e9))
            message = .nanoseconds(Int64(limits.messageTimeout * 1e9))
        }
    }
}
