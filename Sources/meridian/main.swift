import ArgumentParser
import Config
import Engine
import Foundation
import Logging
import Server
import Zones

/// `meridian`: the command-line entry point. Wiring only; the work lives in the modules.
@main
struct Meridian: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "meridian",
        abstract: "Authoritative DNS server and global server load balancer.",
        version: version,
        subcommands: [Serve.self, Check.self])
}

/// Loads the config and compiles every zone into a snapshot; prints file:line errors.
enum SnapshotBuilder {
    static func build(configPath: String) throws -> (MeridianConfig, Snapshot) {
        let config = try ConfigLoader.load(path: configPath)
        var zones: [CompiledZone] = []
        for zone in config.zones {
            zones.append(try ZoneCompiler.load(path: zone.file, origin: zone.origin))
        }
        let identity = ServerIdentity(version: config.identity.version, id: config.identity.id,
                                      nsid: config.identity.nsid.map { Array($0.utf8) })
        return (config, Snapshot(zones: zones, identity: identity, udpPayloadSize: UInt16(config.udpPayloadSize)))
    }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the configured zones over UDP and TCP.")

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    @Option(name: .long, help: "HOST:PORT or [IPv6]:PORT to serve on (UDP and TCP); repeatable; replaces the config's listen list.")
    var listen: [String] = []

    @Option(name: .long, help: "UDP worker threads per address (default: the config's, else one per core).")
    var workers: Int?

    func run() throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "meridian")
        logger.logLevel = .info
        let (cfg, snapshot): (MeridianConfig, Snapshot)
        do {
            (cfg, snapshot) = try SnapshotBuilder.build(configPath: config)
        } catch {
            FileHandle.standardError.write(Data("meridian: \(error)\n".utf8))
            throw ExitCode(1)
        }
        var addresses = cfg.listen
        if !listen.isEmpty {
            addresses = try listen.map { text in
                guard let a = MeridianConfig.ListenAddress.parse(text) else {
                    throw ValidationError("--listen '\(text)' is not HOST:PORT or [IPv6]:PORT")
                }
                return a
            }
        }
        for zone in snapshot.zones {
            logger.info("zone loaded", metadata: ["zone": "\(zone.originText)", "serial": "\(zone.serial)",
                                                  "records": "\(zone.recordCount)"])
        }
        let options = DNSServer.Options(listen: addresses.map { ($0.host, $0.port) }, workers: workers ?? cfg.workers,
                                        tcpIdleTimeout: cfg.tcpIdleTimeout, tcpMaxConnections: cfg.tcpMaxConnections)
        let server: DNSServer
        do {
            server = try DNSServer(store: SnapshotStore(snapshot), options: options, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("meridian: \(error)\n".utf8))
            throw ExitCode(1)
        }
        server.start()
        logger.info("serving", metadata: ["version": "\(Meridian.version)"])
        SignalWaiter.waitForTermination()
        logger.info("stopping")
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check the configuration and zones; exit 0 when all is well.")

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    func run() throws {
        do {
            let (_, snapshot) = try SnapshotBuilder.build(configPath: config)
            let records = snapshot.zones.reduce(0) { $0 + $1.recordCount }
            print("\(config): OK (\(snapshot.zones.count) zone(s), \(records) records)")
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Blocks the main thread until SIGTERM or SIGINT.
enum SignalWaiter {
    static func waitForTermination() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        var signal: Int32 = 0
        sigwait(&set, &signal)
    }
}
