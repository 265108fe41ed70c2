import Health
import NIOCore
import NIOHTTP1

extension ControlEndpoints {
    /// `POST /v1/override` `{"scope":"endpoint|region|service","name":..,"service":..,"state":"up|down|drain|clear"}`:
    /// stores the override (before it applies), then publishes the health table with it.
    func override(_ o: JSONValue) -> ControlReply {
        guard let scopeText = o["scope"]?.string, let scope = OverrideTarget.Scope(rawValue: scopeText) else {
            return .json(.badRequest, ["error": "scope must be endpoint, region or service"])
        }
        guard let name = o["name"]?.string, !name.isEmpty else { return .json(.badRequest, ["error": "name is required"]) }
        guard let stateText = o["state"]?.string else { return .json(.badRequest, ["error": "state is required"]) }
        let state: OverrideState?
        if stateText == "clear" {
            state = nil
        } else if let s = OverrideState(rawValue: stateText) {
            state = s
        } else {
            return .json(.badRequest, ["error": "state must be up, down, drain or clear"])
        }
        let target = OverrideTarget(
            scope: scope, name: scope == .service ? (name.hasSuffix(".") ? name.lowercased() : name.lowercased() + ".") : name,
            service: o["service"]?.string)
        // a typo must not silently do nothing; clearing one already stored is always allowed
        if !(state == nil && context.publisher.overrides.current[target] != nil),
            let unknown = OverrideTargets.unknown(target, in: context.store.current().0.services)
        {
            return .json(.notFound, ["error": .string(unknown)])
        }
        do {
            try context.publisher.overrides.set(target, state)
        } catch {
            return .json(.internalServerError, ["error": "\(error)"])
        }
        context.publisher.publish()
        logger.notice("override", metadata: ["target": "\(target)", "state": "\(stateText)"])
        return .json(.ok, ["target": .string(target.description), "state": .string(stateText)])
    }

    /// `POST /v1/push` `{"address":..,"check":..,"state":"up|down","reason":..}`: a result for a `push` check.
    func push(_ o: JSONValue) -> ControlReply {
        guard let address = o["address"]?.string, let check = o["check"]?.string,
            let state = o["state"]?.string, state == "up" || state == "down"
        else {
            return .json(.badRequest, ["error": "address, check and state (up|down) are required"])
        }
        guard let monitor = context.monitor,
            monitor.push(
                Endpoint(address: address, check: check), up: state == "up",
                reason: o["reason"]?.string ?? "pushed")
        else {
            return .json(.notFound, ["error": "no push-check endpoint \(address)/\(check)"])
        }
        return .json(.ok, ["endpoint": "\(address)/\(check)", "state": .string(state)])
    }

    /// `POST /v1/reload`: reloads off the loop; answers once the new snapshot serves (or the error).
    func reload(on loop: EventLoop) -> ControlReply {
        guard let reloader = context.reloader else { return .json(.serviceUnavailable, ["error": "reload is not available"]) }
        let promise = loop.makePromise(of: String?.self)
        reloader.reload(completing: promise)
        let store = context.store
        return .later(
            promise.futureResult.map { (error: String?) -> ControlReply in
                if let error { return .json(.unprocessableEntity, ["result": "failed", "error": .string(error)]) }
                let (snapshot, _) = store.current()
                return .json(
                    .ok,
                    [
                        "result": "reloaded",
                        "zones": .array(snapshot.zones.map { ["name": .string($0.originText), "serial": .int(Int($0.serial))] }),
                    ])
            })
    }
}
