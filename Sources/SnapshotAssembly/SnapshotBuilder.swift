import Config
import Verdicts
import DNSWire
import Engine
import Geo
import Health
import Steering
import Transfer
import Zones

#if canImport(Glibc)
import Glibc
#endif

/// Loads the config, geo data, services and zones and compiles them into one snapshot (all or
/// nothing); errors carry file:line. `meridian check`, `serve`, `explain` and the reload path all
/// build through here, so `check` accepts exactly what `serve` would.
public enum SnapshotBuilder {
    /// Loads the configuration at `configPath` and builds its snapshot. `notes` gets what the build
    /// did that the operator must hear of (DNSSEC keys created).
    public static func build(
        configPath: String, keyPolicy: KeyPolicy = .temporaryIfMissing, notes: inout [String]
    ) throws -> (MeridianConfig, Snapshot) {
        let config = try ConfigLoader.load(path: configPath)
        return (config, try build(config, keyPolicy: keyPolicy, notes: &notes))
    }

    /// `build(configPath:keyPolicy:notes:)` for `check` and `explain`: never writes a key.
    public static func build(configPath: String) throws -> (MeridianConfig, Snapshot) {
        var notes: [String] = []
        return try build(configPath: configPath, keyPolicy: .temporaryIfMissing, notes: &notes)
    }

    /// Builds the snapshot and returns the checks and the notes too (what a reload needs and logs:
    /// key rollover steps, DNSSEC warnings). Settings bound at start
    /// (`RestartSettings`) must be unchanged: a reload that changes them fails (all or nothing) and
    /// says a restart is needed.
    public static func reloadBuild(
        configPath: String, running: MeridianConfig
    ) throws -> (snapshot: Snapshot, checks: [CheckSpec], notes: [String]) {
        let config = try ConfigLoader.load(path: configPath)
        let changed = RestartSettings.changed(running: running, loaded: config)
        guard changed.isEmpty else {
            throw ReloadRefused(description: "\(configPath): \(changed.joined(separator: ", ")) changed; these settings need a restart (nothing was reloaded)")
        }
        var notes: [String] = []
        let snapshot = try build(config, keyPolicy: .requireExisting, notes: &notes)
        return (snapshot, config.checks, notes)
    }

    /// Builds the snapshot of a loaded configuration: geo sources, compiled services (refusing
    /// half-open checks that cannot be probed), then the zones with the services' names as owners.
    public static func build(_ config: MeridianConfig) throws -> Snapshot {
        var notes: [String] = []
        return try build(config, keyPolicy: .temporaryIfMissing, notes: &notes)
    }

    /// `build(_:)` with the key policy of the caller (`KeyPolicy`) and the notes to report.
    public static func build(_ config: MeridianConfig, keyPolicy: KeyPolicy, notes: inout [String]) throws -> Snapshot {
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
        try HealthMonitor.refuseUnprobeableHalfOpen(
            checks: Dictionary(config.checks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a }),
            endpoints: EndpointCatalog(services: services).monitored)
        var zones: [CompiledZone] = []
        var zoneNotes: [String] = []
        defer { notes += zoneNotes.map { "dnssec: " + $0 } }
        for zone in config.zones {
            let origin = WireName.fromText(zone.origin) ?? []
            let owners = services.map(\.name).filter { name in
                name.withUnsafeBufferPointer { n in
                    origin.withUnsafeBufferPointer { o in
                        WireName.isSubdomain(n.baseAddress!, n.count, of: o.baseAddress!, o.count)
                    }
                }
            }
            let zoneServices = services.enumerated().filter { owners.contains($0.element.name) }.map { (index: $0.offset, service: $0.element) }
            zones.append(
                try ZoneSigning.load(
                    zone, owners: owners, services: zoneServices, stateDir: config.stateDir, keyPolicy: keyPolicy,
                    now: Int64(time(nil)), notes: &zoneNotes))
        }
        let identity = ServerIdentity(
            version: config.identity.version, id: config.identity.id,
            nsid: config.identity.nsid.map { Array($0.utf8) })
        let cookies = try DefencePolicy.cookies(config, keyPolicy: keyPolicy, notes: &notes)
        let rateLimit = DefencePolicy.rateLimit(config)
        return try Snapshot(
            zones: zones, services: services, identity: identity, udpPayloadSize: UInt16(config.udpPayloadSize),
            transfer: transferRules(config), cookies: cookies, rateLimit: rateLimit)
    }

    /// The zones' transfer ACLs and secondaries with the TSIG keys (the config checked the names).
    static func transferRules(_ config: MeridianConfig) -> TransferRules {
        var zones: [[UInt8]: TransferRules.Zone] = [:]
        for zone in config.zones {
            guard let transfer = zone.transfer, let origin = WireName.fromText(zone.origin.lowercased()) else { continue }
            zones[origin] = TransferRules.Zone(
                allow: transfer.allow.map { TransferACL(network: $0.network, key: $0.key) },
                notify: transfer.notify.map { NotifyTarget(address: $0.server.address, port: $0.server.port, key: $0.key) })
        }
        return TransferRules(
            zones: zones, keys: config.tsigKeys.map { TSIGKey(name: $0.name, algorithm: $0.algorithm, secret: $0.secret) })
    }
}
