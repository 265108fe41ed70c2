#if canImport(Glibc)
import Glibc
#endif

/// What `meridian dnssec status` and the control API's `GET /v1/dnssec` say of one key: its files, role,
/// state at a time, whether the parent's DS was seen, and its timing events.
public struct KeyStatus: Sendable {
    public let baseName: String
    public let algorithm: String
    /// "ksk/csk" (the Secure Entry Point flag) or "zsk".
    public let role: String
    public let tag: UInt16
    /// "active", "published" or "not published", then ", CDS published" and the DS state.
    public let state: String
    /// When the DS was seen at the parent (`DSPublish` in the key's `.state` file).
    public let dsSeen: Int64?
    /// The key's timing metadata that is set: publish, activate, inactive, delete, cds, cds-delete.
    public let events: [(name: String, time: Int64)]

    /// The keys of `zone` in `directory`, as they stand at `now`; a directory that cannot be read is an
    /// error (not an empty list).
    public static func list(zone: String, directory: String, now: Int64) throws -> [KeyStatus] {
        guard access(directory, R_OK | X_OK) == 0 else {
            throw DNSSECError("cannot read the key directory \(directory): \(String(cString: strerror(errno)))")
        }
        let keys = try KeyFiles.load(zone: zone, directory: directory)
        let seen = KeyFiles.dsSeen(keys, directory: directory)
        return keys.map { key in
            var state = key.timing.isActive(at: now) ? "active" : key.timing.isPublished(at: now) ? "published" : "not published"
            if key.timing.isSyncPublished(at: now) { state += ", CDS published" + (seen[key.tag] == nil ? " (DS not seen yet)" : "") }
            if let time = seen[key.tag] { state += ", DS seen \(KeyTime.format(time))" }
            let events = [
                ("publish", key.timing.publish), ("activate", key.timing.activate), ("inactive", key.timing.inactive),
                ("delete", key.timing.delete), ("cds", key.timing.syncPublish), ("cds-delete", key.timing.syncDelete),
            ].compactMap { name, time in time.map { (name: name, time: $0) } }
            return KeyStatus(
                baseName: key.baseName, algorithm: key.algorithm.name, role: key.isSecureEntryPoint ? "ksk/csk" : "zsk", tag: key.tag,
                state: state, dsSeen: seen[key.tag], events: events)
        }
    }

    /// One line: `K<zone>+<alg>+<tag> ALGORITHM ROLE tag N: STATE; EVENT TIME, ...`.
    public var summary: String {
        "\(baseName) \(algorithm) \(role) tag \(tag): \(state); \(events.map { "\($0.name) \(KeyTime.format($0.time))" }.joined(separator: ", "))"
    }
}
