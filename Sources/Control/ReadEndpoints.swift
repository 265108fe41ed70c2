import DNSWire
import Engine
import Geo
import Health
import NIOHTTP1
import Steering
import Verdicts

extension ControlEndpoints {
    /// `GET /v1/status`: zones, services with their regions and endpoints (state, reason, whether in
    /// answers), overrides.
    func status() -> JSONValue {
        let (snapshot, _) = context.store.current()
        let states = context.publisher.endpointStates
        let zones: [JSONValue] = snapshot.zones.map { ["name": .string($0.originText), "serial": .int(Int($0.serial)), "records": .int($0.recordCount)] }
        let catalog = EndpointCatalog(services: snapshot.services)
        var services: [JSONValue] = []
        for (s, service) in snapshot.services.enumerated() {
            var regions: [JSONValue] = []
            for (p, pool) in service.spec.pools.enumerated() {
                var endpoints: [JSONValue] = []
                for (i, id) in catalog.ids(service: s, service, pool: p).enumerated() {
                    let address = catalog.keys[id].address
                    var e: [String: JSONValue] = ["address": .string(address)]
                    if i < service.pools[p].aCount + service.pools[p].aaaaCount {
                        e["in_answers"] = .bool(snapshot.health.isAddressUp(service: s, address: Int(service.pools[p].weightOffset) + i))
                    }
                    if let check = pool.check, let st = states[Endpoint(address: address, check: check)] {
                        e["check"] = .string(check)
                        e["state"] = .string(st.status.rawValue)
                        e["reason"] = .string(st.lastReason)
                        if let l = st.lastLatency { e["latency_ms"] = .double((l * 1000 * 10).rounded() / 10) }
                        if let d = st.certificateDaysLeft { e["certificate_days_left"] = .int(d) }
                    }
                    endpoints.append(.object(e))
                }
                regions.append(["region": .string(pool.region), "up": .bool(snapshot.health.isUp(service: s, pool: p)), "endpoints": .array(endpoints)])
            }
            services.append([
                "name": .string(service.spec.name), "policy": .string(service.spec.policy.rawValue),
                "degraded": .bool(snapshot.health.isDegraded(s)), "regions": .array(regions),
            ])
        }
        let overrides: [JSONValue] = context.publisher.overrides.current
            .sorted { $0.key.description < $1.key.description }
            .map { ["target": .string($0.key.description), "state": .string($0.value.rawValue)] }
        var status: [String: JSONValue] = ["zones": .array(zones), "services": .array(services), "overrides": .array(overrides)]
        if let agent = context.cluster { status["cluster"] = clusterStatus(agent) }
        return .object(status)
    }

    /// `GET /v1/explain?name=&type=&client=`: the decision for a client and why, as lines.
    func explain(_ q: [String: String]) -> ControlReply {
        let (snapshot, _) = context.store.current()
        guard let name = q["name"], let wire = WireName.fromText(name) else { return .json(.badRequest, ["error": "name is required"]) }
        let type = (q["type"] ?? "A").uppercased()
        guard type == "A" || type == "AAAA" else { return .json(.badRequest, ["error": "type must be A or AAAA"]) }
        guard let clientText = q["client"], let prefix = IPPrefix.parse(clientText, strict: false) else {
            return .json(.badRequest, ["error": "client must be an address or network"])
        }
        guard let index = snapshot.services.firstIndex(where: { $0.name == wire }) else {
            return .json(.ok, ["lines": ["\(name) is not a GSLB service: static records, scope 0"]])
        }
        let lines = snapshot.services[index].explain(
            client: prefix.length == 0 ? nil : prefix, qtype: type == "A" ? 1 : 28,
            up: snapshot.health.up(index))
        return .json(.ok, ["lines": .array((lines + overrideLines(snapshot.services[index])).map(JSONValue.string))])
    }

    /// The overrides in force that apply to `service`, as explain lines.
    func overrideLines(_ service: CompiledService) -> [String] {
        let forced = context.publisher.overrides.current
        var lines: [String] = []
        for (target, state) in forced.sorted(by: { $0.key.description < $1.key.description }) {
            let applies: Bool
            switch target.scope {
            case .service: applies = target.name == service.spec.name
            case .region: applies = (target.service == nil || target.service == service.spec.name) && service.spec.pools.contains { $0.region == target.name }
            case .endpoint: applies = service.spec.pools.contains { p in p.addresses.contains { $0.text == target.name } }
            }
            if applies { lines.append("override: \(target) forced \(state.rawValue)") }
        }
        return lines
    }

    /// `GET /metrics`: the Prometheus text exposition (empty without metrics sources).
    func metrics() -> ControlReply {
        let (snapshot, _) = context.store.current()
        let text =
            context.metrics.map {
                MetricsRenderer.render(sources: $0, snapshot: snapshot, states: context.publisher.endpointStates)
                    + (context.cluster.map { MetricsRenderer.renderCluster($0, sharedInForce: context.publisher.sharedVerdicts != nil) } ?? "")
            } ?? ""
        return .text(text, contentType: "text/plain; version=0.0.4; charset=utf-8")
    }
}
