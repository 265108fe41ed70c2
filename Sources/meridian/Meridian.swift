import ArgumentParser
import Config
import Control
import Health
import NIOPosix
import DNSWire
import Engine
import Geo
import Steering
import Verdicts
import FoundationEssentials
import Glibc
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
        subcommands: [Serve.self, Check.self, Explain.self, Ctl.self])
}

/// Loads the config, geo data, services and zones and compiles them into one snapshot (all or
/// nothing); errors carry file:line.
enum SnapshotBuilder {
    static func build(configPath: String) throws -> (MeridianConfig, Snapshot) {
        let config = try ConfigLoader.load(path: configPath)
        return (config, try build(config))
    }

    /// Builds the snapshot and returns the checks too (what a reload needs). Settings bound at start
    /// (listen, control, decision log, server) must be unchanged: a reload that changes them fails
    /// (all or nothing) and says a restart is needed.
    static func reloadBuild(configPath: String, running: MeridianConfig) throws -> (snapshot: Snapshot, checks: [CheckSpec]) {
        let config = try ConfigLoader.load(path: configPath)
        var changed: [String] = []
        if config.listen != running.listen { changed.append("listen") }
        if config.controlListen != running.controlListen || config.controlToken != running.controlToken { changed.append("control") }
        if config.decisionLog != running.decisionLog || config.decisionLogSample != running.decisionLogSample { changed.append("decision_log") }
        if config.workers != running.workers || config.udpPayloadSize != running.udpPayloadSize
            || config.tcpIdleTimeout != running.tcpIdleTimeout || config.tcpMaxConnections != running.tcpMaxConnections
            || config.tcpMessageTimeout != running.tcpMessageTimeout
            || config.tcpMaxConnectionsPerClient != running.tcpMaxConnectionsPerClient {
            changed.append("server")
        }
        if config.stateFile != running.stateFile || config.stateDir != running.stateDir || config.strictStateFile != running.strictStateFile {
            changed.append("state_dir, health.state_file")
        }
        if config.controlMaxConnections != running.controlMaxConnections || config.controlIdleTimeout != running.controlIdleTimeout
            || config.controlSocket != running.controlSocket {
            changed.append("control")
        }
        guard changed.isEmpty else {
            throw ReloadRefused(description: "\(configPath): \(changed.joined(separator: ", ")) changed; these settings need a restart (nothing was reloaded)")
        }
        return (try build(config), config.checks)
    }

    static func build(_ config: MeridianConfig) throws -> Snapshot {
        var sources = GeoSources()
        if let path = config.geoDatabase {
            do {
                let fields = config.services.reduce(into: GeoFields()) { $0.formUnion($1.geoFields) }
                sources.database = try GeoDatabase(path: path, fields: fields)
            } catch {
                throw ReloadRefused(description: "\(config.geoDeclaredAt): geo.database: \(error)")
            }
        }
        if let path = config.geoNetworks { sources.networks = try NetworkTable.readRegionTable(path: path) }
        for check in config.checks { try check.validate() }
        for service in config.services where service.policy == .nearest && config.regions.allSatisfy({ $0.latitude == nil }) {
            throw SteeringError(service.declaredAt, "policy nearest needs regions with a location")
        }
        let tables = DecisionTableCache(sources: sources) // services that decide alike share their tables
        let services = try config.services.map { try ServiceCompiler.compile($0, regions: config.regions, tables: tables) }
        try HealthMonitor.refuseUnprobeableHalfOpen(checks: Dictionary(config.checks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a }),
                                                    endpoints: EndpointCatalog(services: services).monitored)
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

    @Option(name: .long, help: "Control API HOST:PORT (replaces the config's control.listen); 'off' disables it.")
    var control: String?

    func run() throws {
        SignalWaiter.block() // threads started from here on inherit the mask; the main thread takes the signals
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "meridian")
        logger.logLevel = .info
        let files = OpenFilesLimit.raise()
        if files.after != files.before {
            logger.info("open files limit raised", metadata: ["from": "\(files.before)", "to": "\(files.after)"])
        }
        // The first snapshot goes straight into the store: nothing on this (main) thread, which
        // lives as long as the process, may keep a reference to it, or a reload could never free it.
        let loaded: MeridianConfig
        let store: SnapshotStore
        do {
            let (config, snapshot) = try SnapshotBuilder.build(configPath: config)
            (loaded, store) = (config, SnapshotStore(snapshot))
        } catch {
            printError("meridian: \(error)")
            throw ExitCode(1)
        }
        var cfg = loaded
        if let control {
            if control == "off" {
                cfg.controlListen = nil
            } else if let a = MeridianConfig.ListenAddress.parse(control) {
                guard a.isLoopback || cfg.controlToken != nil else {
                    throw ValidationError("--control \(control) is not a loopback address and no control.token is set: writes would be open to the network")
                }
                cfg.controlListen = a
            } else {
                throw ValidationError("--control '\(control)' is not HOST:PORT")
            }
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
        // Loading builds large temporary tables; hand the freed heap back to the kernel (RSS).
        releaseFreedMemory()
        for zone in store.current().0.zones {
            logger.info("zone loaded", metadata: ["zone": "\(zone.originText)", "serial": "\(zone.serial)",
                                                  "records": "\(zone.recordCount)"])
        }
        // Probes and the control API on loops of their own: API clients never delay a probe.
        let healthLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let controlLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let publisher: HealthPublisher
        var monitor: HealthMonitor?
        let metrics = MetricsSources(version: Meridian.version)
        let reloader: Reloader
        do {
            try StateDirectory.prepare(cfg.stateDir)
            let overrides = try OverrideStore(path: cfg.stateFile, strict: cfg.strictStateFile)
            if let aside = overrides.setAside {
                logger.critical("override state file is corrupt: set aside, starting WITHOUT overrides (health.strict_state_file: true refuses to start instead)",
                                metadata: ["file": "\(aside.path)", "moved_to": "\(aside.movedTo)", "reason": "\(aside.reason)"])
            }
            if let listen = cfg.controlListen, cfg.controlToken == nil {
                logger.warning("control API writes are open to every local user: no control.token is set", metadata: ["address": "\(listen)"])
            }
            let endpointCount = EndpointCatalog(services: store.current().0.services).monitored.count
            if let problem = OpenFilesLimit.shortfall(limit: files.after, tcpConnections: cfg.tcpMaxConnections,
                                                      controlConnections: cfg.controlMaxConnections, endpoints: endpointCount) {
                logger.warning("\(problem)") // reloads and probes could then run out of descriptors under a connection flood
            }
            publisher = HealthPublisher(store: store, overrides: overrides)
            publisher.publish() // overrides from the state file apply from the first answer
            let endpoints = EndpointCatalog(services: store.current().0.services).monitored
            if !endpoints.isEmpty {
                // before the first result an endpoint is unknown (counted up) unless `initial: down`
                var initial: [Endpoint: EndpointState] = [:]
                if !cfg.waitForFirstRound && cfg.initialState == "down" {
                    let byName = Dictionary(cfg.checks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
                    for e in endpoints {
                        if let c = byName[e.check] { initial[e] = EndpointState(rise: c.rise, fall: c.fall, initial: .down) }
                    }
                }
                let m = try HealthMonitor(checks: cfg.checks, endpoints: endpoints, group: healthLoops, logger: logger,
                                          initial: initial, onChange: { publisher.update(states: $0) })
                m.start()
                if cfg.waitForFirstRound {
                    // GSLB names wait for one round of checks, bounded by the longest timeout
                    let bound = (cfg.checks.map { $0.timeout }.max() ?? 1) + 0.5
                    let complete = m.waitForFirstRound(timeout: bound)
                    logger.info("first health round", metadata: ["endpoints": "\(endpoints.count)", "complete": "\(complete)"])
                }
                publisher.update(states: m.currentStates)
                monitor = m
            }
            let path = config
            let running = loaded
            reloader = Reloader(build: { try SnapshotBuilder.reloadBuild(configPath: path, running: running) }, publisher: publisher,
                                monitor: monitor, metrics: metrics, logger: logger, releaseMemory: releaseFreedMemory)
            if let listen = cfg.controlListen {
                _ = try ControlServer(host: listen.host, port: listen.port, group: controlLoops,
                                      context: .init(store: store, publisher: publisher, monitor: monitor, token: cfg.controlToken,
                                                     reloader: reloader, metrics: metrics),
                                      limits: .init(maxConnections: cfg.controlMaxConnections,
                                                    idleTimeout: .milliseconds(Int64(cfg.controlIdleTimeout * 1000))),
                                      logger: logger)
                logger.info("control API", metadata: ["address": "\(listen)"])
            }
            if let socket = cfg.controlSocket {
                // no token on the socket: only users who may open the file (mode 0600) reach it
                let saved = umask(0o177)
                defer { umask(saved) }
                _ = try ControlServer(host: "", port: 0, unixSocket: socket, group: controlLoops,
                                      context: .init(store: store, publisher: publisher, monitor: monitor, token: nil,
                                                     reloader: reloader, metrics: metrics),
                                      limits: .init(maxConnections: cfg.controlMaxConnections,
                                                    idleTimeout: .milliseconds(Int64(cfg.controlIdleTimeout * 1000))),
                                      logger: logger)
                logger.info("control socket", metadata: ["path": "\(socket)"])
            }
        } catch {
            printError("meridian: \(error)")
            throw ExitCode(1)
        }
        let options = DNSServer.Options(listen: addresses.map { ($0.host, $0.port) }, workers: workers ?? cfg.workers,
                                        tcpIdleTimeout: cfg.tcpIdleTimeout, tcpMaxConnections: cfg.tcpMaxConnections,
                                        tcpMessageTimeout: cfg.tcpMessageTimeout,
                                        tcpMaxConnectionsPerClient: cfg.tcpMaxConnectionsPerClient)
        let server: DNSServer
        do {
            server = try DNSServer(store: store, options: options, logger: logger)
        } catch {
            printError("meridian: \(error)")
            throw ExitCode(1)
        }
        metrics.register(server.counters, tcpConnections: { server.tcpConnections })
        if let path = cfg.decisionLog {
            do {
                let writer = try DecisionLogWriter(path: path, rings: server.enableDecisionLog(sample: cfg.decisionLogSample),
                                                   store: store, logger: logger)
                try DetachedThread.start(name: "decision-log") { writer.run() }
                logger.info("decision log", metadata: ["file": "\(path)", "sample": "1/\(cfg.decisionLogSample)"])
            } catch {
                printError("meridian: \(error)")
                throw ExitCode(1)
            }
        }
        do {
            try server.start()
        } catch {
            printError("meridian: \(error)")
            throw ExitCode(1)
        }
        logger.info("serving", metadata: ["version": "\(Meridian.version)"])
        while true {
            let signal = SignalWaiter.wait()
            if signal == SIGHUP {
                logger.notice("SIGHUP: reloading")
                reloader.reload()
                continue
            }
            break
        }
        // graceful stop: no new TCP connections, in-flight ones get up to 2 s to finish
        logger.info("stopping")
        server.stopAcceptingTCP()
        let deadline = Date().addingTimeInterval(2)
        while server.tcpConnections > 0 && Date() < deadline { usleep(50_000) }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check the configuration and zones; exit 0 when all is well.")

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    func run() throws {
        do {
            let (loaded, snapshot) = try SnapshotBuilder.build(configPath: config)
            // what `serve` would meet in the state directory (nothing is created or changed)
            if let problem = StateDirectory.problem(loaded.stateDir) { throw ReloadRefused(description: "\(config): \(problem)") }
            var overrides = 0
            if let path = loaded.stateFile { overrides = try OverrideStore.read(path).count }
            let records = snapshot.zones.reduce(0) { $0 + $1.recordCount }
            print("\(config): OK (\(snapshot.zones.count) zone(s), \(records) records, \(overrides) override(s) in force)")
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}

/// A configuration problem reported with its config location (also a reload that would need a restart).
struct ReloadRefused: Error, CustomStringConvertible {
    let description: String
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
            printError("\(error)")
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
        let lines = service.explain(client: prefix.length == 0 ? nil : prefix, qtype: qtype, up: snapshot.health.up(index))
        print(lines.joined(separator: "\n"))
    }
}

struct Ctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk to a running Meridian through its control API.",
        discussion: """
        ctl status | ctl reload | ctl metrics
        ctl override endpoint 127.0.1.1 down        (up | down | drain | clear)
        ctl override region eu drain [--service hc.gslb.test.]
        ctl override service hc.gslb.test. up
        ctl push 192.0.2.7 ext-check up [--reason "..."]
        ctl explain www.gslb.example. A 81.2.69.0/24
        """)

    @Option(name: .long, help: "The control API base URL (default: the control socket when it exists, else http://127.0.0.1:8053).")
    var control = ProcessInfo.processInfo.environment["MERIDIAN_CONTROL"]

    @Option(name: .long, help: "The control socket (its file permissions authenticate; no token needed).")
    var socket = MeridianConfig.defaultStateDir + "/control.sock"

    @Option(name: .long, help: "Bearer token for writes (default: $MERIDIAN_TOKEN).")
    var token = ProcessInfo.processInfo.environment["MERIDIAN_TOKEN"]

    @Option(name: .long, help: "Limit a region override to one service.")
    var service: String?

    @Option(name: .long, help: "Reason recorded with a pushed state.")
    var reason: String?

    @Argument(help: "status | override SCOPE NAME STATE | push ADDRESS CHECK up|down | explain NAME TYPE CLIENT")
    var words: [String]

    func run() throws {
        guard let verb = words.first else { throw ValidationError("a command is required") }
        let (method, path, body): (String, String, JSONValue?)
        switch (verb, words.count) {
        case ("status", 1): (method, path, body) = ("GET", "/v1/status", nil)
        case ("reload", 1): (method, path, body) = ("POST", "/v1/reload", nil)
        case ("metrics", 1): (method, path, body) = ("GET", "/metrics", nil)
        case ("override", 4):
            var b: [String: JSONValue] = ["scope": .string(words[1]), "name": .string(words[2]), "state": .string(words[3])]
            if let service { b["service"] = .string(service) }
            (method, path, body) = ("POST", "/v1/override", .object(b))
        case ("push", 4):
            (method, path, body) = ("POST", "/v1/push", ["address": .string(words[1]), "check": .string(words[2]), "state": .string(words[3]), "reason": .string(reason ?? "ctl")])
        case ("explain", 4):
            var c = URLComponents()
            c.queryItems = [URLQueryItem(name: "name", value: words[1]), URLQueryItem(name: "type", value: words[2]),
                            URLQueryItem(name: "client", value: words[3])]
            (method, path, body) = ("GET", "/v1/explain" + (c.string ?? ""), nil)
        default:
            throw ValidationError("usage: ctl status | override SCOPE NAME STATE | push ADDRESS CHECK STATE | explain NAME TYPE CLIENT")
        }
        // the socket unless a URL is named: local writes then need no token
        let base = control ?? (access(socket, F_OK) == 0 ? "unix:" + socket : "http://127.0.0.1:8053")
        let (status, text) = try ControlClient.request(base: base, method: method, path: path, token: token, body: body)
        print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        if !(200..<300).contains(status) { throw ExitCode(1) }
    }
}

/// Writes one line to standard error (messages for the operator, not log records).
func printError(_ text: String) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

/// Blocks the main thread until SIGTERM or SIGINT.
enum SignalWaiter {
    /// Blocks SIGTERM, SIGINT and SIGHUP for every thread (call before starting threads) and waits.
    static func block() {
        var set = signals()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    static func signals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGHUP)
        return set
    }

    static func wait() -> Int32 {
        var set = signals()
        pthread_sigmask(SIG_BLOCK, &set, nil)
        var signal: Int32 = 0
        sigwait(&set, &signal)
        return signal
    }
}
