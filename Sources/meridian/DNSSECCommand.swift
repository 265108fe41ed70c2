import ArgumentParser
import Config
import DNSSEC
import Health

#if canImport(Glibc)
import Glibc
#endif

/// `meridian dnssec ...`: the zone's keys, kept as BIND-format files in the key directory
/// (`--keys DIR`, or `keys` under the config's state directory).
struct DNSSECCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dnssec", abstract: "DNSSEC keys: create them, print the DS records for the parent, show their state.",
        subcommands: [Keygen.self, DS.self, DSSeen.self, Status.self])

    /// Where the keys are: `--keys`, else `keys/` in the config's state directory.
    struct KeyDirectory: ParsableArguments {
        @Option(name: .long, help: "The key directory (default: keys/ in the config's state_dir).")
        var keys: String?

        @Option(name: .long, help: "The YAML configuration file (for its state_dir).")
        var config: String?

        /// The directory; `creating` makes the config's state directory when it does not exist yet
        /// (keygen may come before the first `serve`).
        func path(creating: Bool = false) throws -> String {
            if let keys { return keys }
            guard let config else { throw ValidationError("give --keys DIR or --config FILE") }
            do {
                let stateDir = try ConfigLoader.load(path: config).stateDir
                if creating { try StateDirectory.prepare(stateDir) }
                return stateDir + "/keys"
            } catch {
                throw ValidationError("\(error)")
            }
        }
    }

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key for a zone and write it as K<zone>+<alg>+<tag>.key and .private (BIND's format).")

        @Option(name: .long, help: "The zone, e.g. gslb.example.com.")
        var zone: String

        @Option(name: .long, help: "ecdsap256sha256 (default) or ed25519.")
        var algorithm = "ecdsap256sha256"

        @Flag(help: "The key's role: a combined signing key (default), a key-signing key or a zone-signing key.")
        var role: KeyRole = .csk

        @OptionGroup var directory: KeyDirectory

        func run() throws {
            guard let algorithm = SigningAlgorithm(name: algorithm) else {
                throw ValidationError("unknown algorithm '\(algorithm)' (expected ecdsap256sha256 or ed25519)")
            }
            let now = Int64(time(nil))
            let key = try ZoneKey.generate(
                zone: zone, algorithm: algorithm, role: role, timing: KeyTiming(created: now, publish: now, activate: now))
            let base = try KeyFiles.write(key, ttl: 3600, directory: try directory.path(creating: true))
            print(base)
        }
    }

    struct DS: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the DS records (SHA-256) of the zone's key-signing keys, for the parent zone.")

        @Option(name: .long, help: "The zone.")
        var zone: String

        @OptionGroup var directory: KeyDirectory

        func run() throws {
            let keys = try KeyFiles.load(zone: zone, directory: try directory.path()).filter(\.isSecureEntryPoint)
            guard !keys.isEmpty else { throw ValidationError("no key-signing key for \(zone) in \(try directory.path())") }
            for key in keys { if let ds = key.dsText() { print(ds) } }
        }
    }

    struct DSSeen: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ds-seen",
            abstract: "Confirm that the parent publishes the DS of a new key-signing key: its rollover goes on at the next reload.")

        @Option(name: .long, help: "The zone.")
        var zone: String

        @Option(name: .long, help: "The key tag of the new KSK or CSK.")
        var tag: UInt16

        @OptionGroup var directory: KeyDirectory

        func run() throws {
            let path = try directory.path()
            guard let key = try KeyFiles.load(zone: zone, directory: path).first(where: { $0.tag == tag && $0.isSecureEntryPoint }) else {
                throw ValidationError("no key-signing key with tag \(tag) for \(zone) in \(path)")
            }
            try KeyFiles.markDSSeen(key, at: Int64(time(nil)), directory: path)
            print("\(key.baseName): DS seen; reload Meridian (meridian ctl reload) to go on with the rollover")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the zone's keys, their roles and their timing.")

        @Option(name: .long, help: "The zone.")
        var zone: String

        @OptionGroup var directory: KeyDirectory

        func run() throws {
            let now = Int64(time(nil))
            let path = try directory.path()
            let keys = try KeyFiles.load(zone: zone, directory: path)
            let seen = KeyFiles.dsSeen(keys, directory: path)
            for key in keys {
                var state =
                    key.timing.isActive(at: now) ? "active" : key.timing.isPublished(at: now) ? "published" : "not published"
                if key.timing.isSyncPublished(at: now) { state += ", CDS published" + (seen[key.tag] == nil ? " (DS not seen yet)" : "") }
                if let time = seen[key.tag] { state += ", DS seen \(KeyTime.format(time))" }
                let events = [
                    ("publish", key.timing.publish), ("activate", key.timing.activate), ("inactive", key.timing.inactive),
                    ("delete", key.timing.delete), ("cds", key.timing.syncPublish), ("cds-delete", key.timing.syncDelete),
                ].compactMap { name, time in time.map { "\(name) \(KeyTime.format($0))" } }
                let role = key.isSecureEntryPoint ? "ksk/csk" : "zsk"
                print("\(key.baseName) \(key.algorithm.name) \(role) tag \(key.tag): \(state); \(events.joined(separator: ", "))")
            }
        }
    }
}

extension KeyRole: EnumerableFlag {}
