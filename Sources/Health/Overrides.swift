import FoundationEssentials
import Glibc
import NIOConcurrencyHelpers
import SourceFiles

/// An operator's override of health: force up, force down, or drain (out of answers, still probed).
public enum OverrideState: String, Sendable, Codable, CaseIterable {
    case up, down, drain
}

/// What an override applies to: one endpoint address, a region (in every service, or in one), or
/// a whole service.
public struct OverrideTarget: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Scope: String, Sendable, Codable { case endpoint, region, service }
    public let scope: Scope
    /// Address (endpoint), region name (region), or service name (service).
    public let name: String
    /// For a region: limit to this service (nil = every service).
    public let service: String?

    public init(scope: Scope, name: String, service: String? = nil) {
        self.scope = scope
        self.name = name
        self.service = service.map { $0.hasSuffix(".") ? $0.lowercased() : $0.lowercased() + "." }
    }

    public var description: String {
        switch scope {
        case .endpoint: return "endpoint \(name)"
        case .region: return service.map { "region \(name) of \($0)" } ?? "region \(name)"
        case .service: return "service \(name)"
        }
    }
}

/// The overrides in force, persisted to a JSON state file (written atomically: a temporary file,
/// fsync, rename) so that they survive restarts. Thread-safe.
///
/// Invariant: `current` never holds an override the state file does not: `set` writes the new list
/// first and applies it only once the write succeeded, so a refused write (disk full, read-only
/// directory) changes nothing, now or at the next reload. Writes are serialized, so the file and
/// memory agree on the order of concurrent changes.
public final class OverrideStore: @unchecked Sendable {
    struct Entry: Codable {
        let target: OverrideTarget
        let state: OverrideState
    }

    /// What a start did with a corrupt state file (`setAside`): where it went and why it was refused.
    public struct SetAside: Sendable {
        public let path: String
        public let movedTo: String
        public let reason: String
    }

    /// At most this many overrides are kept (a request past it is refused).
    public static let maxEntries = 10_000

    public let path: String?
    /// Set when the start found the state file corrupt and moved it aside.
    public let setAside: SetAside?
    private let lock = NIOLock()
    private let writeLock = NIOLock()
    private var entries: [OverrideTarget: OverrideState] = [:]

    /// Loads `path` if it exists (a missing or empty file is an empty store). A corrupt file throws
    /// when `strict`; otherwise it is renamed `PATH.corrupt-UNIXTIME` and the store starts empty
    /// (`setAside` says so, for the caller to log loudly).
    public init(path: String?, strict: Bool = false) throws {
        self.path = path
        guard let path else {
            setAside = nil
            return
        }
        do {
            entries = try OverrideStore.read(path)
            setAside = nil
        } catch let problem as HealthConfigError {
            guard !strict else { throw problem }
            let moved = "\(path).corrupt-\(time(nil))"
            guard rename(path, moved) == 0 else {
                throw HealthConfigError(path, "\(problem.reason); and it cannot be set aside: \(String(cString: strerror(errno)))")
            }
            setAside = SetAside(path: path, movedTo: moved, reason: problem.reason)
        }
    }

    /// The overrides a state file holds (empty when it does not exist); reads only (`meridian check`).
    public static func read(_ path: String) throws -> [OverrideTarget: OverrideState] {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return [:] }
            throw HealthConfigError(path, "override state file: \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw HealthConfigError(path, "override state file is not a regular file") }
        let data: [UInt8]
        do { data = try SourceFile.readAll(path) } catch let problem as SourceProblem {
            throw HealthConfigError(path, "override state file: \(problem.reason)")
        }
        guard !data.isEmpty else { return [:] }
        do {
            var entries: [OverrideTarget: OverrideState] = [:]
            for e in try JSONDecoder().decode([Entry].self, from: Data(data)) { entries[e.target] = e.state }
            return entries
        } catch {
            throw HealthConfigError(path, "override state file is not valid: \(error)")
        }
    }

    public var current: [OverrideTarget: OverrideState] { lock.withLock { entries } }

    /// Sets (or with nil clears) an override: persists the new list, then applies it. On a failed
    /// write nothing changes and the error says why.
    public func set(_ target: OverrideTarget, _ state: OverrideState?) throws {
        try writeLock.withLock {
            var next = current
            next[target] = state
            if next.count > OverrideStore.maxEntries {
                throw HealthConfigError(path ?? "overrides", "at most \(OverrideStore.maxEntries) overrides are kept")
            }
            if let path { try OverrideStore.write(next, to: path) }
            lock.withLock { entries = next }
        }
        onLocalChange?(target, state)
    }

    /// Replaces every override with `all` (an NS set's shared overrides, Cluster): persisted (the
    /// state file is then the cache a restart without etcd starts from), then applied. Does not call
    /// `onLocalChange`. On a failed write the new set still applies (etcd holds it) and the error is
    /// returned for the caller to log.
    @discardableResult
    public func replaceAll(_ all: [OverrideTarget: OverrideState]) -> Error? {
        writeLock.withLock {
            var failure: Error?
            if let path {
                do { try OverrideStore.write(all, to: path) } catch { failure = error }
            }
            lock.withLock { entries = all }
            return failure
        }
    }

    /// Called after `set` changed an override (an operator's change on this instance), for an NS
    /// set to share it. Set once, before the control API starts.
    public var onLocalChange: (@Sendable (OverrideTarget, OverrideState?) -> Void)?

    static func write(_ entries: [OverrideTarget: OverrideState], to path: String) throws {
        let list = entries.map { Entry(target: $0.key, state: $0.value) }.sorted { $0.target.description < $1.target.description }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = [UInt8](try encoder.encode(list))
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HealthConfigError(path, "cannot write the override state file: \(String(cString: strerror(errno)))") }
        var written = 0
        while written < data.count {
            let n = data[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(tmp)
                throw HealthConfigError(path, "cannot write the override state file: \(reason)")
            }
            written += n
        }
        let synced = fsync(fd) == 0
        let reason = String(cString: strerror(errno))
        close(fd)
        guard synced else {
            unlink(tmp)
            throw HealthConfigError(path, "cannot write the override state file: \(reason)")
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw HealthConfigError(path, "cannot replace the override state file: \(reason)")
        }
    }
}
