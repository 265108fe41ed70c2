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
}
