import ArgumentParser
import Config
import Control
import DNSSEC
import Health
import SourceFiles

#if canImport(Glibc)
import Glibc
#endif

/// `meridian dnssec ...`: the zone's keys, kept as BIND-format files in the key directory
/// (`--keys DIR`, or `keys` under the config's state directory).
struct DNSSECCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dnssec", abstract: "DNSSEC keys: create or import them, print the DS records for the parent, show their state.",
        subcommands: [Keygen.self, Import.self, DS.self, DSSeen.self, Status.self])

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

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a PEM private key (Knot's keys/<id>.pem, or openssl genpkey's) and write it as BIND-format key files.",
            discussion: """
                Knot keeps a key's role and timing in its KASP database, not in the PEM file: `keymgr ZONE list` shows \
                them (ksk=yes zsk=yes is a CSK). The imported key is published and active from now; to roll from Knot's \
                keys to Meridian's without a gap, import the keys Knot signs with now.
                """)

        @Option(name: .long, help: "The zone, e.g. gslb.example.com.")
        var zone: String

        @Option(name: .long, help: "The PEM file (PKCS #8, unencrypted; ECDSA P-256 or Ed25519).")
        var pem: String

        @Flag(help: "The key's role: a combined signing key (default), a key-signing key or a zone-signing key.")
        var role: KeyRole = .csk

        @OptionGroup var directory: KeyDirectory

        func run() throws {
            let text: String
            do {
                text = String(decoding: try SourceFile.readAll(pem), as: UTF8.self)
            } catch {
                throw ValidationError("\(error)")
            }
            let now = Int64(time(nil))
            let key: ZoneKey
            do {
                key = try ZoneKey.fromPEM(text, zone: zone, role: role, timing: KeyTiming(created: now, publish: now, activate: now))
            } catch {
                throw ValidationError("\(pem): \(error)")
            }
            print(try KeyFiles.write(key, ttl: 3600, directory: try directory.path(creating: true)))
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
        static let configuration = CommandConfiguration(
            abstract: "List the zone's keys, their roles, states and timing.",
            discussion: """
                With --config, the running server is asked through its control socket (GET /v1/dnssec: the keys as \
                it reads them, and when its signatures expire and are made again); when none answers, or with \
                --keys, the key directory is read.
                """)

        @Option(name: .long, help: "The zone.")
        var zone: String

        @OptionGroup var directory: KeyDirectory

        func run() throws {
            if directory.keys == nil, let config = directory.config, let lines = fromServer(config: config) {
                print("from the running server:")
                for line in lines { print(line) }
                return
            }
            for key in try KeyStatus.list(zone: zone, directory: try directory.path(), now: Int64(time(nil))) { print(key.summary) }
        }

        /// The zone's lines from the server behind the config's control socket, nil when none answers.
        func fromServer(config: String) -> [String]? {
            guard let cfg = try? ConfigLoader.load(path: config), let socket = cfg.controlSocket, access(socket, F_OK) == 0,
                let (status, text) = try? ControlClient.request(base: "unix:" + socket, method: "GET", path: "/v1/dnssec", token: nil, body: nil),
                status == 200, case .object(let document)? = JSONValue.decode(Array(text.utf8)), case .array(let zones)? = document["zones"]
            else { return nil }
            let origin = zone.lowercased().hasSuffix(".") ? zone.lowercased() : zone.lowercased() + "."
            for case .object(let entry) in zones {
                guard case .string(let name)? = entry["zone"], name == origin else { continue }
                var lines: [String] = []
                if case .string(let error)? = entry["error"] { lines.append("error: \(error)") }
                for (field, label) in [("serial", "serial"), ("signatures_expire", "signatures expire"), ("signed_again", "signed again")] {
                    if case .string(let text)? = entry[field] { lines.append("\(label): \(text)") }
                    if case .int(let number)? = entry[field] { lines.append("\(label): \(number)") }
                }
                if case .array(let keys)? = entry["keys"] {
                    for case .object(let key) in keys { if case .string(let line)? = key["summary"] { lines.append(line) } }
                }
                return lines
            }
            return ["the server does not sign \(origin)"]
        }
    }
}

extension KeyRole: EnumerableFlag {}
