import CLDNS
import SourceFiles

/// The SHA-256 of a configuration file, in hex (what `sha256sum` prints): instances of one NS set
/// publish it so that a set running different configurations is seen at once.
public enum ConfigDigest {
    public static func of(path: String) -> String {
        guard let bytes = try? SourceFile.readAll(path) else { return "unreadable" }
        var digest = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeBufferPointer { data in
            digest.withUnsafeMutableBufferPointer { out in _ = SHA256(data.baseAddress, data.count, out.baseAddress) }
        }
        return digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
