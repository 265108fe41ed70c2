import Health
import Steering

/// What health knows about one snapshot's endpoints, flat by `EndpointCatalog` id: the monitor's
/// verdicts and the admin overrides. `healthTable(for:)` turns it into the data plane's table.
///
/// Invariant: `verdicts` and `endpointOverrides` have one entry per catalog id.
public struct VerdictTable: Sendable {
    /// The monitor's verdict: true up, false down, nil none yet (unknown, or not probed: counted up).
    public var verdicts: [Bool?]
    /// The endpoint override on the endpoint's address, if any.
    public var endpointOverrides: [OverrideState?]
    /// Region and service overrides (looked up per pool).
    public var overrides: [OverrideTarget: OverrideState]

    /// Verdicts from the monitor's `states` and the overrides in force, for `catalog`'s endpoints.
    /// `shared`: an NS set's quorum verdicts (Cluster), which replace the monitor's: an endpoint
    /// no live instance has a verdict for has none (counted up).
    public init(
        catalog: EndpointCatalog, states: HealthMonitor.States, overrides: [OverrideTarget: OverrideState], shared: [Endpoint: Bool]? = nil
    ) {
        verdicts = catalog.keys.map { key in
            guard let check = key.check else { return nil }
            if let shared { return shared[Endpoint(address: key.address, check: check)] }
            guard let state = states[Endpoint(address: key.address, check: check)] else { return nil }
            switch state.status {
            case .up: return true
            case .down: return false
            case .unknown: return nil
            }
        }
        endpointOverrides = catalog.keys.map { overrides[OverrideTarget(scope: .endpoint, name: $0.address)] }
        self.overrides = overrides
    }

    /// Whether endpoint `id` (a catalog id; -1: no endpoint) is in answers: an endpoint override
    /// decides (up: yes; down, drain: no), else the verdict (none yet counts as up).
    @inline(__always) public func isUp(_ id: Int) -> Bool {
        guard id >= 0 else { return true }
        switch endpointOverrides[id] {
        case .up?: return true
        case .down?, .drain?: return false
        case nil: return verdicts[id] != false
        }
    }
}
