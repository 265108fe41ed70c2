import Geo
import Steering

/// The GSLB services the fuzz targets answer for, all under gslb.test.: one per policy and answer
/// shape, over three located regions (eu, na, ap) with A and AAAA pools.
public enum GSLBFixture {
    /// The CIDR table of the `geo` services (every shape NetworkTable reads: v4, v6, region lists).
    public static let networks = """
        192.0.2.0/24,eu
        198.51.100.0/24,na,eu
        203.0.113.128/25,ap
        10.0.0.0/8,na
        2001:db8::/32,ap,na
        2001:db8:1::/48,eu
        """

    /// One service per policy and answer shape, all under gslb.test.
    public static func services(networksPath: String) throws -> [CompiledService] {
        let regions = [
            RegionSpec(name: "eu", latitude: 50.11, longitude: 8.68), RegionSpec(name: "na", latitude: 39.04, longitude: -77.49),
            RegionSpec(name: "ap", latitude: 1.35, longitude: 103.82),
        ]
        let pools = [
            PoolSpec(
                region: "eu",
                addresses: [
                    PoolAddress(text: "192.0.2.1"), PoolAddress(text: "192.0.2.11", weight: 3),
                    PoolAddress(text: "2001:db8:1::1"),
                ]),
            PoolSpec(region: "na", addresses: [PoolAddress(text: "192.0.2.2"), PoolAddress(text: "2001:db8:2::1")], weight: 2),
            PoolSpec(region: "ap", addresses: [PoolAddress(text: "192.0.2.3"), PoolAddress(text: "2001:db8:3::1")], weight: 5),
        ]
        func spec(_ label: String, _ policy: PolicyKind, _ edit: (inout ServiceSpec) -> Void = { _ in }) -> ServiceSpec {
            var s = ServiceSpec(name: label + ".gslb.test.")
            s.policy = policy
            s.ttl = 30
            s.pools = pools
            s.declaredAt = "fuzz:\(label)"
            edit(&s)
            return s
        }
        let specs = [
            spec("geo", .geo) {
                $0.networks = networksPath; $0.map.defaultRegions = ["eu", "na"]
            },
            spec("near", .nearest) {
                $0.networks = networksPath; $0.select = .first; $0.map.defaultRegions = ["ap"]
            },
            spec("fo", .failover) {
                $0.order = ["na", "eu", "ap"]; $0.degradedTTL = 5
            },
            spec("wrr", .weighted) {
                $0.select = .weighted; $0.maxAnswers = 1
            },
            spec("all", .all) {
                $0.maxAnswers = 2; $0.allDown = .addresses([PoolAddress(text: "192.0.2.99")])
            },
            spec("hash", .hash) {
                $0.select = .hash; $0.hashPrefixV4 = 20; $0.hashPrefixV6 = 40
            },
            spec("cn", .geo) {
                $0.networks = networksPath
                $0.map.defaultRegions = ["na"]
                $0.pools = [
                    PoolSpec(region: "eu", cname: "geo.gslb.test."), PoolSpec(region: "na", cname: "lb.elsewhere.example."),
                    PoolSpec(region: "ap", cname: "www.gslb.test."),
                ]
            },
        ]
        let sources = GeoSources(networks: try NetworkTable.readRegionTable(path: networksPath))
        return try specs.map { try ServiceCompiler.compile($0, regions: regions, sources: sources) }
    }
}
