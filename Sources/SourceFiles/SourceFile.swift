#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the operator's files whole, without Foundation (zone files, CIDR and latency tables).
public enum SourceFile {
    /// The file's bytes, or a `SourceProblem` "cannot open" with the system's reason. A directory, a
    /// device, or a name with a NUL in it, is refused (fopen would open the directory, or the name up to
    /// the NUL, and a directory's end offset is no size: found by fuzzing `$INCLUDE`; a device such as
    /// /dev/zero never ends). A pipe (`<(...)`) is read to its end.
    public static func readAll(_ path: String) throws -> [UInt8] {
        guard !path.utf8.contains(0) else { throw SourceProblem(file: path, reason: "cannot open: the name contains a NUL octet") }
        guard let fp = fopen(path, "r") else {
            throw SourceProblem(file: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { fclose(fp) }
        var info = stat()
        guard fstat(fileno(fp), &info) == 0 else {
            throw SourceProblem(file: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        let mode = info.st_mode & S_IFMT
        guard mode != S_IFDIR else { throw SourceProblem(file: path, reason: "cannot open: is a directory") }
        guard mode != S_IFCHR && mode != S_IFBLK else { throw SourceProblem(file: path, reason: "cannot open: is a device") }
        let size = mode == S_IFREG ? max(Int(info.st_size), 0) : 0
        var bytes = [UInt8](unsafeUninitializedCapacity: size) { out, initialized in
            initialized = size > 0 ? fread(out.baseAddress, 1, size, fp) : 0
        }
        // not a regular file, or one that grew: read on to the end
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, fp) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        guard ferror(fp) == 0 else { throw SourceProblem(file: path, reason: "cannot read: \(String(cString: strerror(errno)))") }
        return bytes
    }
}
