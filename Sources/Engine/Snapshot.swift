import DNSWire
import Steering
import Transfer
import Zones

/// Everything the query path reads, compiled at load and never mutated: the zones, a name table to
/// find the zone of a query, and the identity answers. Reloads build a new snapshot and swap it whole.
public final class Snapshot: @unchecked Sendable {
    public let zones: [CompiledZone]
    /// Our EDNS UDP payload size (RFC 6891 §6.2.5); also the cap on UDP responses (DNS flag day 2020).
    public let udpPayloadSize: UInt16
    public let identity: ServerIdentity
    /// CHAOS TXT RDATA (one character-string) for version.bind / id.server, pre-encoded.
    let versionTXT: [UInt8]?
    let idTXT: [UInt8]?
    let apexSlots: [Int32]
    let apexMask: Int
    /// Wire lengths of the zones' origins: `findZone` hashes only suffixes of these lengths.
    let originLengths: ByteSet
    /// GSLB services.
    public let services: [CompiledService]
    /// Health per service and pool (true = up); swapped whole when the monitor publishes.
    public let health: HealthTable
    /// Who may transfer which zone, and whom to notify of new serials.
    public let transfer: TransferRules
    /// DNS cookies' secrets (RFC 7873, RFC 9018) and the response rate limit (`RateLimitPolicy`).
    public let cookies: ServerCookies
    public let rateLimit: RateLimitPolicy
    /// `rateLimit` without reference counting, for the query path (valid while this snapshot lives).
    let rateLimitRef: Unmanaged<RateLimitPolicy>
    /// `zones` without reference counting, for the query path: an element load from `[CompiledZone]`
    /// costs a retain and a release per query. Valid while this snapshot lives (it holds `zones`);
    /// owned by `refTables`, which snapshots derived by `with(health:)` share.
    @inline(__always) var zoneRefs: UnsafeBufferPointer<Unmanaged<CompiledZone>> { refTables.zones }
    /// `services` likewise, and the service on each node of each zone (-1 none): zone z's node n at
    /// `nodeServices[nodeServiceStart[z] + n]`.
    @inline(__always) var serviceRefs: UnsafeBufferPointer<Unmanaged<CompiledService>> { refTables.services }
    private let refTables: RefTables

    /// Builds a snapshot. Every service must lie in one of `zones`, on a node of that zone (load zones
    /// with the service names as `extraOwners`); `SnapshotError` otherwise.
    public init(
        zones: [CompiledZone], services: [CompiledService], health: HealthTable? = nil,
        identity: ServerIdentity = ServerIdentity(), udpPayloadSize: UInt16 = 1232, transfer: TransferRules = .none,
        cookies: ServerCookies = .disabled, rateLimit: RateLimitPolicy = .off
    ) throws {
        self.zones = zones
        self.transfer = transfer
        self.cookies = cookies
        self.rateLimit = rateLimit
        rateLimitRef = Unmanaged.passUnretained(rateLimit)
        self.services = services
        self.health = health ?? HealthTable(allUp: services)
        Snapshot.checkShape(self.health, services)
        self.identity = identity
        self.udpPayloadSize = max(512, udpPayloadSize)
        versionTXT = identity.version.map(Snapshot.txtRDATA)
        idTXT = identity.id.map(Snapshot.txtRDATA)
        var capacity = 8
        while capacity < zones.count * 2 { capacity <<= 1 }
        var slots = [Int32](repeating: -1, count: capacity)
        for (i, zone) in zones.enumerated() {
            var slot =
                zone.origin.withUnsafeBufferPointer {
                    Int(truncatingIfNeeded: WireName.hash($0.baseAddress!, length: $0.count))
                } & (capacity - 1)
            while slots[slot] >= 0 { slot = (slot + 1) & (capacity - 1) }
            slots[slot] = Int32(i)
        }
        apexSlots = slots
        apexMask = capacity - 1
        var lengths = ByteSet()
        for zone in zones { lengths.insert(zone.origin.count) }
        originLengths = lengths
        var map = zones.map { [Int32](repeating: -1, count: $0.nodes.count) }
        for (i, service) in services.enumerated() {
            let z = service.name.withUnsafeBufferPointer { n in
                Snapshot.deepestZone(zones, n.baseAddress!, n.count)
            }
            guard z >= 0 else {
                throw SnapshotError("\(service.spec.declaredAt): service \(service.spec.name) is not inside any configured zone")
            }
            let node = service.name.withUnsafeBufferPointer { zones[z].find($0.baseAddress!, length: $0.count) }
            guard node >= 0 else {
                throw SnapshotError("\(service.spec.declaredAt): service \(service.spec.name) has no node in zone \(zones[z].originText)")
            }
            if zones[z].nodes[Int(node)].isDelegation || zones[z].nodes[Int(node)].isAlias {
                throw SnapshotError("\(service.spec.declaredAt): service \(service.spec.name) sits on a delegation or CNAME in the zone")
            }
            if map[z][Int(node)] >= 0 {
                throw SnapshotError("\(service.spec.declaredAt): service \(service.spec.name) is declared twice")
            }
            if service.usesStaticRecords && zones[z].rrset(of: node, type: DNSType.a) < 0 && zones[z].rrset(of: node, type: DNSType.aaaa) < 0 {
                throw SnapshotError(
                    "\(service.spec.declaredAt): service \(service.spec.name) answers some clients with the zone's static records, but the zone has no A or AAAA at that name"
                )
            }
            map[z][Int(node)] = Int32(i)
        }
        refTables = RefTables(zones: zones, services: services, serviceOfNode: map)
    }

    /// A snapshot of static zones only (cannot fail).
    public convenience init(zones: [CompiledZone], identity: ServerIdentity = ServerIdentity(), udpPayloadSize: UInt16 = 1232) {
        // swiftlint:disable:next force_try
        try! self.init(zones: zones, services: [], health: nil, identity: identity, udpPayloadSize: udpPayloadSize)
    }

    static func deepestZone(_ zones: [CompiledZone], _ name: UnsafePointer<UInt8>, _ length: Int) -> Int {
        var best = -1
        for (i, zone) in zones.enumerated() {
            let inside = zone.origin.withUnsafeBufferPointer { WireName.isSubdomain(name, length, of: $0.baseAddress!, $0.count) }
            if inside && (best < 0 || zone.origin.count > zones[best].origin.count) { best = i }
        }
        return best
    }

    /// The same zones and services with another health table (cheap: tables are shared).
    public func with(health: HealthTable) -> Snapshot {
        Snapshot(copying: self, health: health)
    }

    private init(copying other: Snapshot, health: HealthTable) {
        zones = other.zones
        udpPayloadSize = other.udpPayloadSize
        identity = other.identity
        versionTXT = other.versionTXT
        idTXT = other.idTXT
        apexSlots = other.apexSlots
        apexMask = other.apexMask
        originLengths = other.originLengths
        services = other.services
        transfer = other.transfer
        cookies = other.cookies
        rateLimit = other.rateLimit
        rateLimitRef = other.rateLimitRef
        self.health = health
        Snapshot.checkShape(health, other.services)
        refTables = other.refTables
    }

    /// Invariant the query path relies on (it reads the health flags unchecked): one row per service,
    /// with one flag per pool and one per address. The health publisher and `allUp` build them so.
    private static func checkShape(_ health: HealthTable, _ services: [CompiledService]) {
        precondition(health.serviceCount == services.count, "health table rows do not match the services")
        for (i, service) in services.enumerated() {
            let lengths = health.rowLengths(i)
            precondition(
                lengths.pools == service.pools.count && lengths.addresses == service.weights.count,
                "health table row \(i) does not match service \(service.spec.name)")
        }
    }

    /// The service on `node` of zone `zone`, or -1.
    @inline(__always) public func service(zone: Int, node: Int32) -> Int32 {
        refTables.nodeServices[refTables.nodeServiceStart[zone] + Int(node)]
    }

    /// RFC 1035 §3.3.14: TXT RDATA as character-strings of at most 255 octets.
    static func txtRDATA(_ text: String) -> [UInt8] {
        var bytes = Array(text.utf8)
        var out: [UInt8] = []
        repeat {
            let chunk = bytes.prefix(255)
            out.append(UInt8(chunk.count))
            out.append(contentsOf: chunk)
            bytes.removeFirst(chunk.count)
        } while !bytes.isEmpty
        return out
    }

    /// The deepest zone containing `name` (lower-case wire form), or -1 (RFC 1034 §4.3.2 step 2).
    @inline(__always)
    public func findZone(_ name: UnsafePointer<UInt8>, length: Int) -> Int {
        var pos = 0
        while pos < length {
            let suffix = length - pos
            if originLengths.contains(suffix) {
                var slot = Int(truncatingIfNeeded: WireName.hash(name + pos, length: suffix)) & apexMask
                while true {
                    let z = apexSlots[slot]
                    if z < 0 { break }
                    let same = zoneRefs[Int(z)]._withUnsafeGuaranteedRef { zone in
                        let (origin, originLength) = zone.name(of: zone.apexNode)
                        return WireName.equal(origin, originLength, name + pos, suffix)
                    }
                    if same { return Int(z) }
                    slot = (slot + 1) & apexMask
                }
            }
            if name[pos] == 0 { break }
            pos += Int(name[pos]) + 1
        }
        return -1
    }
}
