import Engine
import FoundationEssentials
import Geo
import Health
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Server
import Steering

/// The control API over HTTP/1.1 (SwiftNIO's HTTP codec), on loopback by default. Reads are open;
/// writes need `Authorization: Bearer TOKEN` when a token is configured.
///
/// - `GET /v1/status`: zones, services, regions, endpoints with state and reason, overrides (JSON)
/// - `GET /v1/explain?name=&type=&client=`: the decision for a client, and why (JSON lines)
/// - `POST /v1/override` `{"scope":"endpoint|region|service","name":..,"service":..,"state":"up|down|drain|clear"}`
/// - `POST /v1/push` `{"address":..,"check":..,"state":"up|down","reason":..}` for `push` checks
public final class ControlServer: Sendable {
    public struct Context: Sendable {
        public let store: SnapshotStore
        public let publisher: HealthPublisher
        public let monitor: HealthMonitor?
        public let token: String?
        public let reloader: Reloader?
        public let metrics: MetricsSources?
        public init(store: SnapshotStore, publisher: HealthPublisher, monitor: HealthMonitor?, token: String?,
                    reloader: Reloader? = nil, metrics: MetricsSources? = nil) {
            self.store = store
            self.publisher = publisher
            self.monitor = monitor
            self.token = token
            self.reloader = reloader
            self.metrics = metrics
        }
    }

    let channel: Channel

    public init(host: String, port: Int, group: EventLoopGroup, context: Context, logger: Logger) throws {
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try ControlServer.configure(channel, context: context, logger: logger)
                }
            }
            .bind(host: host, port: port).wait()
    }

    /// Sets up one accepted connection: NIO's HTTP/1.1 server codec, then the control API's handler.
    /// (Also what the control fuzz target drives, through an EmbeddedChannel.) On the channel's loop.
    public static func configure(_ channel: Channel, context: Context, logger: Logger) throws {
        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
        try channel.pipeline.syncOperations.addHandler(ControlHandler(context: context, logger: logger))
    }
}

/// One HTTP request at a time per connection: gathers the body (up to 64 KiB), routes, answers JSON.
final class ControlHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let context: ControlServer.Context
    let logger: Logger
    var head: HTTPRequestHead?
    var body = ByteBuffer()

    init(context: ControlServer.Context, logger: Logger) {
        self.context = context
        self.logger = logger
    }

    func channelRead(context ctx: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(h):
            head = h
            body.clear()
        case var .body(chunk):
            if body.readableBytes + chunk.readableBytes <= 65536 { body.writeBuffer(&chunk) }
        case .end:
            guard let head else { return }
            self.head = nil
            let path = URLComponents(string: head.uri)?.path ?? head.uri
            if head.method == .GET && path == "/metrics" {
                let (snapshot, _) = context.store.current()
                let text = context.metrics.map {
                    MetricsRenderer.render(sources: $0, snapshot: snapshot, states: context.publisher.endpointStates)
                } ?? ""
                respondText(ctx, text: text, keepAlive: head.isKeepAlive)
                return
            }
            if head.method == .POST && path == "/v1/reload" {
                if let denied = authorize(head) { respond(ctx, status: denied.0, json: denied.1, keepAlive: head.isKeepAlive); return }
                guard let reloader = context.reloader else {
                    respond(ctx, status: .serviceUnavailable, json: ["error": "reload is not available"], keepAlive: head.isKeepAlive)
                    return
                }
                let promise = ctx.eventLoop.makePromise(of: String?.self)
                reloader.reload(completing: promise)
                let keepAlive = head.isKeepAlive
                promise.futureResult.whenSuccess { error in
                    if let error {
                        self.respond(ctx, status: .unprocessableEntity, json: ["result": "failed", "error": .string(error)], keepAlive: keepAlive)
                    } else {
                        let (snapshot, _) = self.context.store.current()
                        self.respond(ctx, status: .ok, json: ["result": "reloaded",
                                                              "zones": .array(snapshot.zones.map { ["name": .string($0.originText), "serial": .int(Int($0.serial))] })],
                                     keepAlive: keepAlive)
                    }
                }
                return
            }
            let (status, json) = route(head, body: body.getString(at: body.readerIndex, length: body.readableBytes) ?? "")
            respond(ctx, status: status, json: json, keepAlive: head.isKeepAlive)
        }
    }

    func authorize(_ head: HTTPRequestHead) -> (HTTPResponseStatus, JSONValue)? {
        if let token = context.token, !token.isEmpty, head.headers.first(name: "Authorization") != "Bearer \(token)" {
            return (.unauthorized, ["error": "a bearer token is required for writes"])
        }
        return nil
    }

    func respondText(_ ctx: ChannelHandlerContext, text: String, keepAlive: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
        headers.add(name: "Content-Length", value: "\(text.utf8.count)")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        ctx.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        var buffer = ctx.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        ctx.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        ctx.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { ctx.close(promise: nil) }
        }
    }

    func respond(_ ctx: ChannelHandlerContext, status: HTTPResponseStatus, json: JSONValue, keepAlive: Bool) {
        let data = json.encoded(pretty: true)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: "\(data.count + 1)")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        ctx.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        var buffer = ctx.channel.allocator.buffer(capacity: data.count + 1)
        buffer.writeBytes(data)
        buffer.writeString("\n")
        ctx.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        ctx.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { ctx.close(promise: nil) }
        }
    }

    func route(_ head: HTTPRequestHead, body: String) -> (HTTPResponseStatus, JSONValue) {
        let url = URLComponents(string: head.uri)
        let path = url?.path ?? head.uri
        let query = Dictionary((url?.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { a, _ in a })
        switch (head.method, path) {
        case (.GET, "/v1/status"): return (.ok, status())
        case (.GET, "/v1/explain"): return explain(query)
        case (.POST, "/v1/override"), (.POST, "/v1/push"):
            if let denied = authorize(head) { return denied }
            guard let object = JSONValue.decode(Array(body.utf8)), case .object = object else {
                return (.badRequest, ["error": "the body must be a JSON object"])
            }
            return path == "/v1/override" ? override(object) : push(object)
        case (_, "/v1/status"), (_, "/v1/explain"), (_, "/v1/override"), (_, "/v1/push"), (_, "/v1/reload"), (_, "/metrics"):
            return (.methodNotAllowed, ["error": "method \(head.method) not allowed on \(path)"])
        default:
            return (.notFound, ["error": "no such endpoint: \(path)"])
        }
    }

    func override(_ o: JSONValue) -> (HTTPResponseStatus, JSONValue) {
        guard let scopeText = o["scope"]?.string, let scope = OverrideTarget.Scope(rawValue: scopeText) else {
            return (.badRequest, ["error": "scope must be endpoint, region or service"])
        }
        guard let name = o["name"]?.string, !name.isEmpty else { return (.badRequest, ["error": "name is required"]) }
        guard let stateText = o["state"]?.string else { return (.badRequest, ["error": "state is required"]) }
        let state: OverrideState?
        if stateText == "clear" {
            state = nil
        } else if let s = OverrideState(rawValue: stateText) {
            state = s
        } else {
            return (.badRequest, ["error": "state must be up, down, drain or clear"])
        }
        let target = OverrideTarget(scope: scope, name: scope == .service ? (name.hasSuffix(".") ? name.lowercased() : name.lowercased() + ".") : name,
                                    service: o["service"]?.string)
        do {
            try context.publisher.overrides.set(target, state)
        } catch {
            return (.internalServerError, ["error": "\(error)"])
        }
        context.publisher.publish()
        logger.notice("override", metadata: ["target": "\(target)", "state": "\(stateText)"])
        return (.ok, ["target": .string(target.description), "state": .string(stateText)])
    }

    func push(_ o: JSONValue) -> (HTTPResponseStatus, JSONValue) {
        guard let address = o["address"]?.string, let check = o["check"]?.string,
              let state = o["state"]?.string, state == "up" || state == "down" else {
            return (.badRequest, ["error": "address, check and state (up|down) are required"])
        }
        guard let monitor = context.monitor, monitor.push(Endpoint(address: address, check: check), up: state == "up",
                                                           reason: o["reason"]?.string ?? "pushed") else {
            return (.notFound, ["error": "no push-check endpoint \(address)/\(check)"])
        }
        return (.ok, ["endpoint": "\(address)/\(check)", "state": .string(state)])
    }

    func status() -> JSONValue {
        let (snapshot, _) = context.store.current()
        let states = context.publisher.endpointStates
        let zones: [JSONValue] = snapshot.zones.map { ["name": .string($0.originText), "serial": .int(Int($0.serial)), "records": .int($0.recordCount)] }
        var services: [JSONValue] = []
        for (s, service) in snapshot.services.enumerated() {
            var regions: [JSONValue] = []
            for (p, pool) in service.spec.pools.enumerated() {
                var endpoints: [JSONValue] = []
                let addresses = HealthPublisher.orderedAddresses(pool) + (pool.cname.map { [String($0.trimmingSuffix("."))] } ?? [])
                for (i, address) in addresses.enumerated() {
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
            services.append(["name": .string(service.spec.name), "policy": .string(service.spec.policy.rawValue),
                             "degraded": .bool(snapshot.health.isDegraded(s)), "regions": .array(regions)])
        }
        let overrides: [JSONValue] = context.publisher.overrides.current
            .sorted { $0.key.description < $1.key.description }
            .map { ["target": .string($0.key.description), "state": .string($0.value.rawValue)] }
        return ["zones": .array(zones), "services": .array(services), "overrides": .array(overrides)]
    }

    func explain(_ q: [String: String]) -> (HTTPResponseStatus, JSONValue) {
        let (snapshot, _) = context.store.current()
        guard let name = q["name"], let wire = DNSNameText.wire(name) else { return (.badRequest, ["error": "name is required"]) }
        let type = (q["type"] ?? "A").uppercased()
        guard type == "A" || type == "AAAA" else { return (.badRequest, ["error": "type must be A or AAAA"]) }
        guard let clientText = q["client"], let prefix = IPPrefix.parse(clientText, strict: false) else {
            return (.badRequest, ["error": "client must be an address or network"])
        }
        guard let index = snapshot.services.firstIndex(where: { $0.name == wire }) else {
            return (.ok, ["lines": ["\(name) is not a GSLB service: static records, scope 0"]])
        }
        let lines = snapshot.services[index].explain(client: prefix.length == 0 ? nil : prefix, qtype: type == "A" ? 1 : 28,
                                                     up: snapshot.health.up(index))
        return (.ok, ["lines": .array((lines + overrideLines(snapshot.services[index])).map(JSONValue.string))])
    }

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
}

import DNSWire

enum DNSNameText {
    static func wire(_ text: String) -> [UInt8]? { WireName.fromText(text) }
}
