import ArgumentParser
import Config
import DNSWire
import Engine
import Geo
import Steering
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
        subcommands: [Serve.self, Check.self, Explain.self])
}

/// Loads the config, geo data, services and zones and compiles them into one snapshot (all or
/// nothing); errors carry file:line.
enum SnapshotBuilder {
    static func build(configPath: String) throws -> (MeridianConfig, Snapshot) {
        let config = try ConfigLoader.load(path: configPath)
        return (config, try build(config))
    }

    static func build(_ config: MeridianConfig) throws -> Snapshot {
        var sources = GeoSources()
        if let path = config.geoDatabase { sources.database = try GeoDatabase(path: path) }
        if let path = config.geoNetworks { sources.networks = try NetworkTable.readRegionTable(path: path) }
        for service in config.services where service.policy == .nearest && config.regions.allSatisfy({ $0.latitude == nil }) {
            throw SteeringError(service.declaredAt, "policy nearest needs regions with a location")
        }
        let services = try config.services.map { try ServiceCompiler.compile($0, regions: config.regions, sources: sources) }
        var zones: [CompiledZone] = []
        for zone in config.zones {
            let origin = WireName.fromText(zone.origin) ?? []
            let owners = services.map(\.name).filter { name in
                name.withUnsafeBufferPointer { n in origin.withUnsafeBufferPointer { o in
                    WireName.isSubdomain(n.baseAddress!, n.count, of: o.baseAddress!, o.count) } }
            }
            zones.append(try ZoneCompiler.load(path: zone.file, origin: zone.origin, extraOwners: owners))
        }
        let identity = ServerIdentity(version: config.identity.version, id: config.identity.id,
                                      nsid: config.identity.nsid.map { Array($0.utf8) })
        return try Snapshot(zones: zones, services: services, identity: identity, udpPayloadSize: UInt16(config.udpPayloadSize))
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

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what Meridian would answer a client for a GSLB name, and why.")

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    @Option(name: .long, help: "The client network or address (ECS), e.g. 81.2.69.0/24; 0.0.0.0/0 = no client information.")
    var client: String

    @Argument(help: "The name, e.g. www.gslb.example.")
    var name: String

    @Argument(help: "A or AAAA.")
    var type: String = "A"

    func run() throws {
        let snapshot: Snapshot
        do {
            (_, snapshot) = try SnapshotBuilder.build(configPath: config)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
        guard let prefix = IPPrefix.parse(client, strict: false) else { throw ValidationError("--client '\(client)' is not an address or network") }
        let qtype: UInt16
        switch type.uppercased() {
        case "A": qtype = DNSType.a
        case "AAAA": qtype = DNSType.aaaa
        default: throw ValidationError("type must be A or AAAA")
        }
        let wire = WireName.fromText(name) ?? []
        guard let index = snapshot.services.firstIndex(where: { $0.name == wire }) else {
            print("\(name) is not a GSLB service: it is answered from the zone's static records (scope 0)")
            return
        }
        let service = snapshot.services[index]
        let lines = service.explain(client: prefix.length == 0 ? nil : prefix, qtype: qtype, up: snapshot.health.up[index])
        print(lines.joined(separator: "\n"))
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
