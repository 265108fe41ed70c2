import SourceFiles
import Geo

/// How a service orders its regions for a client (first stage).
public enum PolicyKind: String, Sendable, CaseIterable {
    /// Continent / country / subdivision map (operator CIDR tables override the database).
    case geo
    /// Great-circle distance from the client's database coordinates to each region, plus a bias.
    case nearest
    /// Lowest measured RTT from the client's network (a CSV table); nearest where unmeasured.
    case latency
    /// A fixed order: the first healthy region answers.
    case failover
    /// A region drawn by weight per query.
    case weighted
    /// Every healthy region's addresses together, rotated per query (round robin).
    case all
    /// Consistent (rendezvous) hashing on the client subnet: sticky, and adding or removing a
    /// region moves only that region's share of clients.
    case hash
}

/// How addresses are picked inside the chosen region (second stage).
public enum SelectKind: String, Sendable, CaseIterable {
    case all, first, weighted, hash
}

/// One address of a pool with its weight.
public struct PoolAddress: Sendable, Equatable {
    public var text: String
    public var weight: Int
    public init(text: String, weight: Int = 1) {
        self.text = text
        self.weight = weight
    }
}

/// A region's pool in one service: addresses, or a CNAME target (a regional load balancer's name).
public struct PoolSpec: Sendable, Equatable {
    public var region: String
    public var addresses: [PoolAddress] = []
    public var cname: String?
    public var weight = 1
    /// The health check probing each address (nil: always up unless overridden).
    public var check: String?
    public var declaredAt = ""
    public init(
        region: String, addresses: [PoolAddress] = [], cname: String? = nil, weight: Int = 1, check: String? = nil,
        declaredAt: String = ""
    ) {
        self.region = region
        self.check = check
        self.addresses = addresses
        self.cname = cname
        self.weight = weight
        self.declaredAt = declaredAt
    }
}

/// A region list as written in a map: empty means "the zone's static records".
public typealias RegionList = [String]

/// continent / country / subdivision -> ordered region list, with a default.
public struct GeoMapSpec: Sendable, Equatable {
    public var continent: [String: RegionList] = [:]
    public var country: [String: RegionList] = [:]
    public var subdivision: [String: RegionList] = [:]
    /// For clients the database does not place (or no map entry matches); [] = static records.
    public var defaultRegions: RegionList = []
    public init() {}
}

/// A GSLB service as configured (control plane).
public struct ServiceSpec: Sendable, Equatable {
    /// Owner name, absolute ("www.gslb.example.").
    public var name: String
    public var ttl: UInt32 = 30
    public var policy: PolicyKind = .geo
    public var pools: [PoolSpec] = []
    public var map = GeoMapSpec()
    /// A region table (CSV) that overrides the database for this service only.
    public var networks: String?
    /// The latency table (CSV) for `latency`.
    public var latencyTable: String?
    /// Fixed order for `failover` (defaults to the pools' order).
    public var order: RegionList = []
    /// Regions appended after a decision's own list: where answers go when those are down.
    /// nil = every pool in declared order.
    public var fallback: RegionList?
    /// `nearest`: kilometres added to a region's distance (negative attracts).
    public var bias: [String: Double] = [:]
    public var select: SelectKind = .all
    /// At most this many addresses in an answer (0 = no limit).
    public var maxAnswers = 0
    /// `hash`: prefix lengths hashed (and announced as ECS scope).
    public var hashPrefixV4 = 24
    public var hashPrefixV6 = 48
    /// A region is up while at least this share of its addresses is up (DESIGN.md §5).
    public var upShare = 0.5
    /// What to answer when every region of the client's order is down.
    public var allDown: AllDown = .failOpen
    /// TTL while some region of the service is down (resolvers come back sooner); nil = `ttl`.
    public var degradedTTL: UInt32?
    /// Where the service was declared (file:line) for messages.
    public var declaredAt = ""

    public init(name: String) { self.name = name }
}

/// A region: a name and optional coordinates (for `nearest` and `latency` fallback).
public struct RegionSpec: Sendable, Equatable {
    public var name: String
    public var latitude: Double?
    public var longitude: Double?
    public init(name: String, latitude: Double? = nil, longitude: Double? = nil) {
        self.name = name
        self.latitude = latitude
        self.longitude = longitude
    }
}

/// Geo inputs shared by every service.
public struct GeoSources: Sendable {
    public var database: GeoDatabase?
    /// Global CIDR overrides (network -> region list), longest prefix wins over the database.
    public var networks: [NetworkEntry]
    public init(database: GeoDatabase? = nil, networks: [NetworkEntry] = []) {
        self.database = database
        self.networks = networks
    }
}

/// A steering configuration problem at file:line (see `SourceProblem`).
public typealias SteeringError = SourceProblem

/// The answer when every region in the order is down: never NXDOMAIN or SERVFAIL.
public enum AllDown: Sendable, Equatable {
    /// Answer as if every region were up (the first region of the order, all its addresses).
    case failOpen
    /// A last-resort answer.
    case addresses([PoolAddress])
    case cname(String)
}

extension ServiceSpec {
    /// The database fields this service's policy reads: a build decodes the union over its services
    /// (see `GeoFields`). Geo maps read the levels they have entries for; `nearest` and `latency` (for
    /// clients outside the latency table) the coordinates; the other policies nothing.
    public var geoFields: GeoFields {
        switch policy {
        case .geo:
            var fields: GeoFields = []
            if !map.continent.isEmpty { fields.insert(.continent) }
            if !map.country.isEmpty { fields.insert(.country) }
            if !map.subdivision.isEmpty { fields.insert(.subdivision) }
            return fields
        case .nearest, .latency: return .location
        case .failover, .weighted, .all, .hash: return []
        }
    }
}
