import ArgumentParser
import Cluster
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
import SnapshotAssembly
import Zones

/// `meridian`: the command-line entry point. Wiring only; the work lives in the modules.
@main
struct Meridian: ParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "meridian",
        abstract: "Authoritative DNS server and global server load balancer.",
        version: version,
        subcommands: [Serve.self, Check.self, Explain.self, Ctl.self, DNSSECCommand.self])
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

    @Option(name: .long, help: "etcd client URLs (URL[,URL...]): share health and overrides with the NS set (replaces cluster.etcd).")
    var cluster: String?

    @Option(name: .long, help: "This instance's name in the NS set (replaces cluster.node; default: the host name).")
    var node: String?

    @Flag(name: .customLong("no-dns"), help: "Serve no DNS: probe and vote only (a vantage point of the NS set).")
    var noDNS = false

    func run() throws {
        SignalWaiter.block() // threads started from here on inherit the mask; the main thread takes the signals
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "meridian")
        logger.logLevel = .info
        // The one error boundary of start-up: a command-line mistake goes to ArgumentParser (which
        // prints it with the usage); anything else is printed as "meridian: ..." and exits 1.
        let running: Running
        do {
            running = try start(logger: logger)
        } catch let usage as ValidationError {
            throw usage
        } catch {
            printError("meridian: \(error)")
            throw ExitCode(1)
        }
        let (server, reloader) = (running.server, running.reloader)
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
        if let agent = running.cluster { ClusterWiring.leave(agent, group: running.eventLoops[0]) }
        guard let server else { return }
        server.stopAcceptingTCP()
        let deadline = Date().addingTimeInterval(2)
        while server.tcpConnections > 0 && Date() < deadline { usleep(50_000) }
    }

    /// What `start` leaves running for the signal loop: the DNS server (stopped gracefully), the
    /// reloader (SIGHUP, and through it the publisher, monitor and metrics) and the probe and control
    /// event loops, all held until the process ends. Holds no snapshot: the main thread lives as long
    /// as the process, so a snapshot held here could never be freed after a reload.
    struct Running {
        /// nil with `--no-dns`.
        let server: DNSServer?
        let reloader: Reloader
        let eventLoops: [MultiThreadedEventLoopGroup]
        let cluster: ClusterAgent?
    }

    /// Loads the configuration, applies the command-line overrides, starts health checks, the
    /// control API, the DNS server and the decision log, in that order. Throws on the first failure.
    func start(logger: Logger) throws -> Running {
        let files = OpenFilesLimit.raise()
        if files.after != files.before {
            logger.info("open files limit raised", metadata: ["from": "\(files.before)", "to": "\(files.after)"])
        }
        let (loaded, store) = try Self.load(configPath: config, logger: logger)
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
            logger.info(
                "zone loaded",
                metadata: [
                    "zone": "\(zone.originText)", "serial": "\(zone.serial)",
                    "records": "\(zone.recordCount)",
                ])
        }
        // Probes and the control API on loops of their own: API clients never delay a probe.
        let healthLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let controlLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let publisher: HealthPublisher
        var monitor: HealthMonitor?
        let metrics = MetricsSources(version: Meridian.version)
        let reloader: Reloader
        try StateDirectory.prepare(cfg.stateDir)
        let overrides = try OverrideStore(path: cfg.stateFile, strict: cfg.strictStateFile)
        if let aside = overrides.setAside {
            logger.critical(
                "override state file is corrupt: set aside, starting WITHOUT overrides (health.strict_state_file: true refuses to start instead)",
                metadata: ["file": "\(aside.path)", "moved_to": "\(aside.movedTo)", "reason": "\(aside.reason)"])
        }
        if let listen = cfg.controlListen, cfg.controlToken == nil {
            logger.warning("control API writes are open to every local user: no control.token is set", metadata: ["address": "\(listen)"])
        }
        let endpointCount = EndpointCatalog(services: store.current().0.services).monitored.count
        if let problem = OpenFilesLimit.shortfall(
            limit: files.after, tcpConnections: cfg.tcpMaxConnections,
            controlConnections: cfg.controlMaxConnections, endpoints: endpointCount)
        {
            logger.warning("\(problem)") // reloads and probes could then run out of descriptors under a connection flood
        }
        publisher = HealthPublisher(store: store, overrides: overrides)
        publisher.publish() // overrides from the state file apply from the first answer
        // an NS set on etcd: shared verdicts and overrides (nothing of it runs without one)
        let startedAt = Int64(time(nil))
        let dnsAddresses = noDNS ? [] : addresses.map { "\($0)" }
        var agent: ClusterAgent?
        if let settings = try ClusterWiring.settings(config: cfg.cluster, urls: cluster, node: node) {
            let node = settings.node ?? ClusterWiring.hostName()
            let info = ClusterWiring.memberInfo(node: node, configPath: config, snapshot: store.current().0, listen: dnsAddresses, startedAt: startedAt)
            let a = try ClusterWiring.agent(settings: settings, info: info, publisher: publisher, group: healthLoops, logger: logger)
            overrides.onLocalChange = { a.overrideChanged($0, $1) }
            agent = a
            logger.info(
                "cluster",
                metadata: [
                    "node": "\(node)", "etcd": "\(settings.etcd.joined(separator: ","))", "prefix": "\(settings.prefix)",
                    "quorum": "\(a.rule)", "lease_ttl_s": "\(settings.leaseTTL)", "grace_s": "\(settings.grace)", "config_digest": "\(info.configDigest)",
                ])
        }
        let clusterAgent = agent
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
            let m = try HealthMonitor(
                checks: cfg.checks, endpoints: endpoints, group: healthLoops, logger: logger,
                initial: initial,
                onChange: { states in
                    publisher.update(states: states)
                    clusterAgent?.localStates(states)
                })
            m.start()
            if cfg.waitForFirstRound {
                // GSLB names wait for one round of checks, bounded by the longest timeout
                let bound = (cfg.checks.map { $0.timeout }.max() ?? 1) + 0.5
                let complete = m.waitForFirstRound(timeout: bound)
                logger.info("first health round", metadata: ["endpoints": "\(endpoints.count)", "complete": "\(complete)"])
            }
            publisher.update(states: m.currentStates)
            clusterAgent?.localStates(m.currentStates)
            monitor = m
        }
        clusterAgent?.start()
        let path = config
        let running = loaded
        let monitorNow = monitor
        let notifier = NotifySender(logger: logger)
        reloader = Reloader(
            build: { try SnapshotBuilder.reloadBuild(configPath: path, running: running) }, publisher: publisher,
            monitor: monitor, metrics: metrics, logger: logger, releaseMemory: releaseFreedMemory,
            published: { snapshot in
                notifier.published(snapshot)
                if let agent = clusterAgent {
                    // endpoints a reload removed are no longer voted on
                    agent.localStates(monitorNow?.currentStates ?? [:])
                    agent.updateInfo(
                        ClusterWiring.memberInfo(node: agent.node, configPath: path, snapshot: snapshot, listen: dnsAddresses, startedAt: startedAt))
                }
            })
        // checks once a second (a reload may sign a zone the first snapshot did not)
        SignatureRefresher(store: store, reloader: reloader, logger: logger).start(on: controlLoops.next())
        // the parent's DS of new key-signing keys (ksk_submission; a change needs a restart)
        DSSubmissionChecker(
            zones: cfg.zones.compactMap { zone in
                zone.dnssec.map { settings in
                    DSSubmissionChecker.Zone(
                        origin: zone.origin, keyDirectory: settings.keyDirectory(stateDir: cfg.stateDir),
                        servers: settings.kskSubmission.map { ($0.address, $0.port) },
                        interval: settings.dsCheckInterval)
                }
            }, reloader: reloader, logger: logger
        ).start()
        /// One control server: on TCP (`listen`) or on the Unix socket (`socket`, no token: only users
        /// who may open the file, mode 0600, reach it).
        func startControl(host: String, port: Int, unixSocket: String?, token: String?) throws {
            _ = try ControlServer(
                host: host, port: port, unixSocket: unixSocket, group: controlLoops,
                context: .init(
                    store: store, publisher: publisher, monitor: monitor, token: token,
                    reloader: reloader, metrics: metrics,
                    keyDirectories: cfg.zones.compactMap { zone in
                        zone.dnssec.map { (zone.origin, $0.keyDirectory(stateDir: cfg.stateDir)) }
                    }, cluster: clusterAgent),
                limits: .init(
                    maxConnections: cfg.controlMaxConnections,
                    idleTimeout: .milliseconds(Int64(cfg.controlIdleTimeout * 1000)), allow: cfg.controlAllow),
                logger: logger)
        }
        if let listen = cfg.controlListen {
            try startControl(host: listen.host, port: listen.port, unixSocket: nil, token: cfg.controlToken)
            logger.info("control API", metadata: ["address": "\(listen)"])
        }
        if let socket = cfg.controlSocket {
            let saved = umask(0o177)
            defer { umask(saved) }
            try startControl(host: "", port: 0, unixSocket: socket, token: nil)
            logger.info("control socket", metadata: ["path": "\(socket)"])
        }
        guard !noDNS else {
            logger.info("serving no DNS (--no-dns): probing and voting only")
            return Running(server: nil, reloader: reloader, eventLoops: [healthLoops, controlLoops], cluster: clusterAgent)
        }
        var options = DNSServer.Options(
            listen: addresses.map { ($0.host, $0.port) }, workers: workers ?? cfg.workers,
            tcpIdleTimeout: cfg.tcpIdleTimeout, tcpMaxConnections: cfg.tcpMaxConnections,
            tcpMessageTimeout: cfg.tcpMessageTimeout,
            tcpMaxConnectionsPerClient: cfg.tcpMaxConnectionsPerClient)
        options.tcpMaxQueriesPerConnection = cfg.tcpMaxQueriesPerConnection
        options.tcpMaxConnectionLifetime = cfg.tcpMaxConnectionLifetime
        // the tables exist whether or not `rrl:` is on now, so a reload can turn it on
        options.rateLimitTableSize = cfg.rrl.tableSize
        let server = try DNSServer(store: store, options: options, logger: logger)
        let rateLimitLog = RateLimitLog(rings: server.rateLimitEvents, logger: logger) { store.current().0.rateLimit }
        controlLoops.next().scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in rateLimitLog.drain() }
        let snapshotNow = store.current().0
        logger.info(
            "defence",
            metadata: [
                "rrl": "\(snapshotNow.rateLimit.enabled ? (snapshotNow.rateLimit.dryRun ? "dry-run" : "on") : "off")",
                "rrl_rate": "\(cfg.rrl.rate)", "rrl_slip": "\(cfg.rrl.slip)",
                "rrl_table_bytes": "\(server.rateLimitMemory)", "cookies": "\(snapshotNow.cookies.enabled ? "on" : "off")",
            ])
        metrics.register(server.counters, tcpConnections: { server.tcpConnections })
        if let path = cfg.decisionLog {
            let writer = try DecisionLogWriter(
                path: path, rings: server.enableDecisionLog(sample: cfg.decisionLogSample),
                store: store, logger: logger)
            try DetachedThread.start(name: "decision-log") { writer.run() }
            logger.info("decision log", metadata: ["file": "\(path)", "sample": "1/\(cfg.decisionLogSample)"])
        }
        try server.start()
        notifier.published(store.current().0) // the secondaries learn the serial we start with
        return Running(server: server, reloader: reloader, eventLoops: [healthLoops, controlLoops], cluster: clusterAgent)
    }

    /// Builds the first snapshot straight into the store: nothing on the main thread, which lives as
    /// long as the process, may keep a reference to it, or a reload could never free it.
    static func load(configPath: String, logger: Logger) throws -> (MeridianConfig, SnapshotStore) {
        var notes: [String] = []
        let (config, snapshot) = try SnapshotBuilder.build(configPath: configPath, keyPolicy: .createMissing, notes: &notes)
        for note in notes { logger.warning("\(note)") }
        return (config, SnapshotStore(snapshot))
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check the configuration and zones; exit 0 when all is well.")

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    func run() throws {
        do {
            var notes: [String] = []
            let (loaded, snapshot) = try SnapshotBuilder.build(configPath: config, keyPolicy: .temporaryIfMissing, notes: &notes)
            for note in notes { printError("warning: dnssec: \(note)") }
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
            ctl status | ctl reload | ctl metrics | ctl dnssec
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
        case ("dnssec", 1): (method, path, body) = ("GET", "/v1/dnssec", nil)
        case ("override", 4):
            var b: [String: JSONValue] = ["scope": .string(words[1]), "name": .string(words[2]), "state": .string(words[3])]
            if let service { b["service"] = .string(service) }
            (method, path, body) = ("POST", "/v1/override", .object(b))
        case ("push", 4):
            (method, path, body) = (
                "POST", "/v1/push", ["address": .string(words[1]), "check": .string(words[2]), "state": .string(words[3]), "reason": .string(reason ?? "ctl")]
            )
        case ("explain", 4):
            var c = URLComponents()
            c.queryItems = [
                URLQueryItem(name: "name", value: words[1]), URLQueryItem(name: "type", value: words[2]),
                URLQueryItem(name: "client", value: words[3]),
            ]
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
