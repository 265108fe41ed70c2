// What the Swift fuzz targets share: their invariant check and writing an input to a file.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed invariant: its message on stderr, then abort (libFuzzer saves the input as a crash).
/// `precondition` drops its message in optimized builds, which the fuzzers are.
public func require(_ holds: Bool, _ message: @autoclosure () -> String) {
    guard !holds else { return }
    let text = Array("invariant failed: \(message())\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}

/// Writes `bytes` to `path` (created or truncated, mode 0600); a failure ends the run (set-up, not a finding).
public func writeFile(_ path: String, _ bytes: UnsafeRawBufferPointer) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("fuzz: cannot write \(path)") }
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        guard n > 0 else { fatalError("fuzz: short write to \(path)") }
        done += n
    }
    close(fd)
}
