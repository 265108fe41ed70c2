/// One health endpoint as the compiler names it: an address (text as configured) or a CNAME pool's
/// target (without the trailing dot), and the check that probes it (nil: not probed; endpoint
/// overrides still apply to it by address).
public struct EndpointKey: Hashable, Sendable {
    public let address: String
    public let check: String?
    public init(address: String, check: String?) {
        self.address = address
        self.check = check
    }
}

/// Dense endpoint ids for the services of one build (control plane). `ServiceCompiler` interns every
/// address and CNAME target of a service's regular pools here while it compiles; the build is done
/// on one thread, and afterwards the index is only read.
///
/// Invariant: ids are `0 ..< keys.count`, each distinct key has exactly one, and `keys[id] == key`.
public final class EndpointIndex: @unchecked Sendable {
    public private(set) var keys: [EndpointKey] = []
    private var ids: [EndpointKey: Int32] = [:]

    public init() {}

    /// The id of `key`, assigned at its first use.
    public func id(_ key: EndpointKey) -> Int32 {
        if let id = ids[key] { return id }
        let id = Int32(keys.count)
        keys.append(key)
        ids[key] = id
        return id
    }
}

/// The endpoint ids of one compiled service, in its compiled order (control plane: the health
/// publisher and status read them; the query path never does).
///
/// Invariant: `addresses` has one entry per entry of the service's `weights` (pool p's addresses at
/// `pools[p].weightOffset ..< weightOffset + aCount + aaaaCount`, IPv4 then IPv6, each family in
/// declared order) and `targets` one per pool; -1 where there is no endpoint (the last-resort
/// pool's addresses, and pools without a CNAME target).
/// `PoolEncoder` records them where it lays out each address.
public struct ServiceEndpoints: Sendable {
    /// The index the ids refer to (shared by every service of a build).
    public let index: EndpointIndex
    public let addresses: [Int32]
    public let targets: [Int32]
}
