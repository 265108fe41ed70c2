import Glibc
import SourceFiles

/// The state directory (`state_dir`, default /var/lib/meridian): where Meridian persists what must
/// survive a restart (overrides; later keys, secrets, estimates). Invariants enforced here: it is a
/// directory, owned by this user or root, writable by this process, and neither group- nor
/// world-writable (anyone who can write it can forge overrides). `serve` creates a missing one with
/// mode 0700 (its parent must exist); `check` only inspects.
public enum StateDirectory {
    /// What `check` reports without changing anything: nil when `serve` could use or create it.
    public static func problem(_ path: String) -> String? {
        var info = stat()
        if lstat(path, &info) != 0 {
            guard errno == ENOENT else { return "state_dir \(path): \(String(cString: strerror(errno)))" }
            let parent = parentDirectory(of: path)
            guard access(parent, W_OK | X_OK) == 0 else {
                return "state_dir \(path) does not exist and cannot be created in \(parent): \(String(cString: strerror(errno)))"
            }
            return nil
        }
        return unsafe(path, info)
    }

    /// Makes sure the directory exists (creating it 0700) and is safe; throws with the reason otherwise.
    public static func prepare(_ path: String) throws {
        var info = stat()
        if lstat(path, &info) != 0 {
            guard errno == ENOENT, mkdir(path, 0o700) == 0 || errno == EEXIST else {
                throw SourceProblem(file: path, reason: "state_dir: cannot create: \(String(cString: strerror(errno)))")
            }
            guard lstat(path, &info) == 0 else {
                throw SourceProblem(file: path, reason: "state_dir: \(String(cString: strerror(errno)))")
            }
        }
        if let reason = unsafe(path, info) { throw SourceProblem(file: path, reason: reason) }
    }

    /// "/var/lib" for "/var/lib/meridian/", "." for a bare name.
    static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    static func unsafe(_ path: String, _ info: stat) -> String? {
        guard info.st_mode & S_IFMT == S_IFDIR else { return "state_dir \(path) is not a directory" }
        if info.st_mode & (S_IWGRP | S_IWOTH) != 0 {
            return "state_dir \(path) is writable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))): chmod go-w it"
        }
        if info.st_uid != getuid() && info.st_uid != 0 {
            return "state_dir \(path) belongs to uid \(info.st_uid), not to this user (\(getuid())) or root"
        }
        guard access(path, W_OK | X_OK) == 0 else {
            return "state_dir \(path) is not writable by this process: \(String(cString: strerror(errno)))"
        }
        return nil
    }
}
