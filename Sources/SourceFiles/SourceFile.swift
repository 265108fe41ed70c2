#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the operator's files whole, without Foundation (zone files, CIDR and latency tables).
public enum SourceFile {
    /// The file's bytes, or a `SourceProblem` "cannot open" with the system's reason.
    public static func readAll(_ path: String) throws -> [UInt8] {
        guard let fp = fopen(path, "r") else {
            throw SourceProblem(file: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { fclose(fp) }
        var size = 0
        if fseek(fp, 0, SEEK_END) == 0 { size = max(ftell(fp), 0); rewind(fp) }
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
        return bytes
    }
}
