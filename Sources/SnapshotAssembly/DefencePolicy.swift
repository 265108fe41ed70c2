import Config
import DNSWire
import Engine
import Health
import SourceFiles

#if canImport(Glibc)
import Glibc
#endif

/// Compiles `cookies:` and `rrl:` into what the snapshot carries (`ServerCookies`, `RateLimitPolicy`).
enum DefencePolicy {
    /// The file in the state directory that keeps the server secret when the config gives none.
    static let secretFile = "cookie-secret"

    /// The cookie secrets: the config's, else the state directory's file. At start and on a reload a
    /// missing file is made from 16 random octets (mode 0600; clients holding cookies of an older
    /// secret are then simply given new ones); `check` and `explain` use a temporary secret instead
    /// of writing one.
    static func cookies(_ config: MeridianConfig, keyPolicy: KeyPolicy, notes: inout [String]) throws -> ServerCookies {
        let settings = config.cookies
        guard settings.enabled else { return .disabled }
        let previous = settings.previousSecret.flatMap { ServerCookies.Secret(hex: $0) }
        if let text = settings.secret, let secret = ServerCookies.Secret(hex: text) {
            return ServerCookies(enabled: true, secret: secret, previous: previous)
        }
        let path = config.stateDir + "/" + secretFile
        if let bytes = try? SourceFile.readAll(path) {
            let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace
            guard let secret = ServerCookies.Secret(hex: text) else {
                throw ReloadRefused(description: "\(path): not a cookie secret (32 hexadecimal digits)")
            }
            return ServerCookies(enabled: true, secret: secret, previous: previous)
        }
        var random = SystemRandomNumberGenerator() // the kernel's CSPRNG (getrandom)
        let octets = (0..<16).map { _ in UInt8.random(in: 0...255, using: &random) }
        let secret = ServerCookies.Secret(octets)!
        switch keyPolicy {
        case .temporaryIfMissing:
            break
        case .requireExisting, .createMissing:
            if let problem = store(octets, in: config.stateDir, at: path) {
                // not fatal: cookies work with this secret until the next start (clients then get new ones)
                notes.append("cookies: cannot keep a server secret in \(path) (\(problem)); using one made for this run")
            } else {
                notes.append("cookies: made a server secret in \(path) (instances of one NS set must share it: copy the file or set cookies.secret)")
            }
        }
        return ServerCookies(enabled: true, secret: secret, previous: previous)
    }

    /// Writes the secret as hex to a new file of mode 0600; the problem when it cannot.
    /// The state directory is made (0700) when missing, as `serve` would.
    static func store(_ octets: [UInt8], in directory: String, at path: String) -> String? {
        do { try StateDirectory.prepare(directory) } catch { return "\(error)" }
        let hex = octets.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        let line = Array((hex + "\n").utf8)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return written == line.count ? nil : "short write"
    }

    /// The rate-limit policy of the config (`RateLimitPolicy.off` without `rrl:`).
    static func rateLimit(_ config: MeridianConfig) -> RateLimitPolicy {
        let rrl = config.rrl
        guard rrl.enabled else { return .off }
        return RateLimitPolicy(
            rate: rrl.rate, slip: rrl.slip, v4Prefix: rrl.ipv4Prefix, v6Prefix: rrl.ipv6Prefix, dryRun: rrl.dryRun,
            badCookieSlip: rrl.badCookieSlip, exempt: rrl.exempt.map { (network: $0.network, length: $0.length) })
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and line ends.
    fileprivate var trimmingWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
