import DNSSEC
import DNSWire
import Dispatch
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Watches the parent for the DS of a new key-signing key (Knot's `ksk-submission`): while a KSK or CSK
/// publishes its CDS and its DS has not been seen, every `interval` it asks each of the zone's
/// `servers` for the zone's DS; once all of them answer with the key's DS (SHA-256), it records the
/// time in the key's `.state` file (`DSPublish`, as `meridian dnssec ds-seen` does) and reloads, so
/// the rollover goes on (`KeyRoller` retires the old key).
public final class DSSubmissionChecker: Sendable {
    /// One zone to watch.
    public struct Zone: Sendable {
        public let origin: String
        public let keyDirectory: String
        public let servers: [(address: IPAddress, port: Int)]
        public let interval: Double

        public init(origin: String, keyDirectory: String, servers: [(address: IPAddress, port: Int)], interval: Double) {
            self.origin = origin
            self.keyDirectory = keyDirectory
            self.servers = servers
            self.interval = interval
        }
    }

    let zones: [Zone]
    let reloader: Reloader
    let logger: Logger
    let queue = DispatchQueue(label: "meridian.ds-submission")

    public init(zones: [Zone], reloader: Reloader, logger: Logger) {
        self.zones = zones.filter { !$0.servers.isEmpty }
        self.reloader = reloader
        self.logger = logger
    }

    public func start() {
        for zone in zones { schedule(zone, after: 1) }
    }

    func schedule(_ zone: Zone, after seconds: Double) {
        queue.asyncAfter(deadline: .now() + seconds) { [self] in
            check(zone, now: Int64(time(nil)))
            schedule(zone, after: zone.interval)
        }
    }

    /// The keys of `zone` whose CDS is out and whose DS has not been seen: asked for at the parent.
    func check(_ zone: Zone, now: Int64) {
        guard let keys = try? KeyFiles.load(zone: zone.origin, directory: zone.keyDirectory) else { return }
        let seen = KeyFiles.dsSeen(keys, directory: zone.keyDirectory)
        let pending = keys.filter {
            $0.isSecureEntryPoint && $0.timing.inactive == nil && seen[$0.tag] == nil && ($0.timing.syncPublish ?? .max) <= now
        }
        for key in pending {
            guard let expected = key.dsRDATA else { continue }
            let answers = zone.servers.map { server -> Bool in
                let id = UInt16.random(in: 0...UInt16.max)
                guard let query = ParentDS.query(zone: zone.origin, id: id) else { return false }
                let records = UDPExchange.ask(query, address: server.address, port: server.port, timeout: 2) {
                    ParentDS.records(in: $0, id: id)
                }
                return records?.contains(expected) ?? false
            }
            guard answers.allSatisfy({ $0 }) else {
                logger.info(
                    "DS of the new key not yet at the parent",
                    metadata: ["zone": "\(zone.origin)", "key": "\(key.tag)", "servers_with_it": "\(answers.filter { $0 }.count)/\(answers.count)"])
                continue
            }
            do {
                try KeyFiles.markDSSeen(key, at: now, directory: zone.keyDirectory)
                logger.notice("DS seen at the parent: the key rollover goes on", metadata: ["zone": "\(zone.origin)", "key": "\(key.tag)"])
                reloader.queue.async { [reloader] in reloader.reload() }
            } catch {
                logger.error("DS seen but not recorded", metadata: ["zone": "\(zone.origin)", "key": "\(key.tag)", "error": "\(error)"])
            }
        }
    }
}
