// What the Swift fuzz targets share: libFuzzer's entry points, their invariant check and writing an
// input to a file.
import CFuzzerDriver

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

/// The running target's input handler, set once by `runFuzzer` before libFuzzer starts (libFuzzer
/// calls on one thread).
nonisolated(unsafe) private var handleInput: ((UnsafeRawBufferPointer) -> Void)?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    handleInput!(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// What each target's `<Target>_main` does (SwiftPM links executables on Linux with
/// `--defsym main=<Target>_main`, which replaces libFuzzer's main()): run libFuzzer with the process's
/// command line, handing every input to `handle`.
public func runFuzzer(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ handle: @escaping (UnsafeRawBufferPointer) -> Void
) -> CInt {
    handleInput = handle
    return meridian_fuzzer_main(argc, argv)
}
