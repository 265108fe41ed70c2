#if canImport(Glibc)
import Glibc
#endif

/// Raises the open-files soft limit to the hard limit at start (as Knot and nginx do): every TCP
/// client, every health probe in flight and every socket holds a descriptor, and 5000 endpoints whose
/// probes all hang until their timeout need thousands at once. Returns (before, after).
enum OpenFilesLimit {
    static func raise() -> (before: UInt64, after: UInt64) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (0, 0) }
        let before = UInt64(limit.rlim_cur)
        guard limit.rlim_cur < limit.rlim_max else { return (before, before) }
        limit.rlim_cur = limit.rlim_max
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (before, before) }
        return (before, UInt64(limit.rlim_max))
    }

    /// Descriptors kept for what no cap bounds: listening and UDP sockets, zone and database files
    /// read by a reload, the state file, logs, script probes' pipes.
    static let reserve: UInt64 = 256

    /// Every descriptor consumer that clients or the config can grow is capped (TCP connections, the
    /// control API on TCP and on its socket, one probe per endpoint at a time); when the caps and the
    /// reserve do not fit under `limit`, what to tell the operator (nil when they fit).
    static func shortfall(limit: UInt64, tcpConnections: Int, controlConnections: Int, endpoints: Int) -> String? {
        let needed = UInt64(tcpConnections + 2 * controlConnections + endpoints) + reserve
        guard limit > 0, limit < needed else { return nil }
        return "the open-files limit (\(limit)) is below what the caps allow (\(tcpConnections) TCP + 2 x \(controlConnections) control "
            + "connections + \(endpoints) probes + \(reserve) reserved = \(needed)): raise LimitNOFILE or lower server.tcp_max_connections"
    }
}
