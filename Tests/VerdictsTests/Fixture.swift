import Health
import Steering
import Verdicts
import XCTest

/// Two services compiled in one build, sharing the endpoint 192.0.2.1/web:
/// - a.test. (up_share 0.5): east = 192.0.2.1, 2001:db8::1, 192.0.2.2 (declared with IPv6 between the
///   IPv4 addresses, to show the compiled order), west = 198.51.100.1, and a last-resort address;
/// - b.test.: lb = CNAME lb.example.net., east = 192.0.2.1, static = 203.0.113.9 without a check.
enum Fx {
    static func services() throws -> [CompiledService] {
        let tables = DecisionTableCache(sources: GeoSources())
        var a = ServiceSpec(name: "a.test.")
        a.policy = .failover
        a.upShare = 0.5
        a.pools = [
            PoolSpec(
                region: "east",
                addresses: [
                    PoolAddress(text: "192.0.2.1"), PoolAddress(text: "2001:db8::1"),
                    PoolAddress(text: "192.0.2.2"),
                ], check: "web"),
            PoolSpec(region: "west", addresses: [PoolAddress(text: "198.51.100.1")], check: "web"),
        ]
        a.allDown = .addresses([PoolAddress(text: "192.0.2.250")])
        var b = ServiceSpec(name: "b.test.")
        b.policy = .failover
        b.pools = [
            PoolSpec(region: "lb", cname: "lb.example.net.", check: "web"),
            PoolSpec(region: "east", addresses: [PoolAddress(text: "192.0.2.1")], check: "web"),
            PoolSpec(region: "static", addresses: [PoolAddress(text: "203.0.113.9")]),
        ]
        return try [a, b].map { try ServiceCompiler.compile($0, regions: [], tables: tables) }
    }

    static func endpoint(_ address: String) -> Endpoint { Endpoint(address: address, check: "web") }

    static func state(_ status: EndpointState.Status) -> EndpointState { EndpointState(rise: 1, fall: 1, initial: status) }

    /// The health table for `services` with these endpoint states and overrides.
    static func table(
        _ services: [CompiledService], states: [String: EndpointState.Status] = [:],
        overrides: [OverrideTarget: OverrideState] = [:]
    ) -> Rows {
        let catalog = EndpointCatalog(services: services)
        var monitorStates: HealthMonitor.States = [:]
        for (address, status) in states { monitorStates[endpoint(address)] = state(status) }
        let table = VerdictTable(catalog: catalog, states: monitorStates, overrides: overrides)
            .healthTable(for: services, catalog: catalog)
        return Rows(
            up: services.indices.map { table.up($0) },
            addressUp: services.indices.map { s in services[s].weights.indices.map { table.isAddressUp(service: s, address: $0) } },
            degraded: services.indices.map { table.isDegraded($0) })
    }

    /// A health table read back as rows (service -> flags).
    struct Rows {
        let up: [[Bool]]
        let addressUp: [[Bool]]
        let degraded: [Bool]
    }
}
