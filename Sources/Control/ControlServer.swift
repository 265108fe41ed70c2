import Engine
import FoundationEssentials
import Geo
import Health
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SourceFiles
import Steering
import Verdicts

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

    /// Limits on the control API's connections: each one costs a descriptor, and descriptors are
    /// shared with DNS over TCP, probes and reloads, so neither idle nor abandoned clients may hold
    /// them. With `maxConnections` open, a new connection closes the oldest one (so a flood of idle
    /// connections cannot lock an operator out, and never holds more descriptors than the cap); one
    /// with no request and no response for `idleTimeout` is closed; a request body over
    /// `maxBodyBytes` is answered 413 and not acted on.
    public struct Limits: Sendable {
        public var maxConnections: Int
        public var idleTimeout: TimeAmount
        public var maxBodyBytes: Int
        public init(maxConnections: Int = 256, idleTimeout: TimeAmount = .seconds(10), maxBodyBytes: Int = 65536) {
            self.maxConnections = maxConnections
            self.idleTimeout = idleTimeout
            self.maxBodyBytes = maxBodyBytes
        }
    }

    let channel: Channel
    /// Open connections, oldest first (changed on accept and close only).
    let open = NIOLockedValueBox<[Channel]>([])
    /// Connections closed to make room for a newer one since start.
    let evicted = NIOLockedValueBox(0)

    /// Binds HOST:PORT, or the Unix socket `unixSocket` when set (HOST and PORT are then unused).
    public init(host: String, port: Int, unixSocket: String? = nil, group: EventLoopGroup, context: Context,
                limits: Limits = Limits(), logger: Logger) throws {
        let open = self.open, evicted = self.evicted
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { channel in
                let oldest: Channel? = open.withLockedValue { list in
                    list.append(channel)
                    return list.count > limits.maxConnections ? list.removeFirst() : nil
                }
                channel.closeFuture.whenComplete { _ in open.withLockedValue { $0.removeAll { $0 === channel } } }
                if let oldest {
                    evicted.withLockedValue { $0 += 1 }
                    oldest.close(promise: nil)
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: limits.idleTimeout))
                    try ControlServer.configure(channel, context: context, maxBodyBytes: limits.maxBodyBytes, logger: logger)
                }
            }
        if let unixSocket {
            channel = try bootstrap.bind(unixDomainSocketPath: unixSocket, cleanupExistingSocketFile: true).wait()
        } else {
            channel = try bootstrap.bind(host: host, port: port).wait()
        }
    }

    /// Connections open now, and those closed to make room for newer ones since start.
    public var connections: (open: Int, evicted: Int) { (open.withLockedValue { $0.count }, evicted.withLockedValue { $0 }) }

    /// Sets up one accepted connection: NIO's HTTP/1.1 server codec, then the control API's handler.
    /// (Also what the control fuzz target drives, through an EmbeddedChannel.) On the channel's loop.
    public static func configure(_ channel: Channel, context: Context, maxBodyBytes: Int = 65536, logger: Logger) throws {
        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
        try channel.pipeline.syncOperations.addHandler(ControlHandler(context: context, maxBodyBytes: maxBodyBytes, logger: logger))
    }
}

/// One HTTP request at a time per connection: gathers the body (up to `maxBodyBytes`, else 413 and
/// the request is not acted on), checks the method and the token, routes, answers JSON.
final class ControlHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The methods each path takes (405 with `Allow` otherwise); GET paths take HEAD too (RFC 9110 §9.3.2).
    static let methods: [String: [HTTPMethod]] = [
        "/v1/status": [.GET, .HEAD], "/v1/explain": [.GET, .HEAD], "/metrics": [.GET, .HEAD],
        "/v1/override": [.POST], "/v1/push": [.POST], "/v1/reload": [.POST],
    ]

    let context: ControlServer.Context
    let logger: Logger
    let maxBodyBytes: Int
    var head: HTTPRequestHead?
    var body = ByteBuffer()
    /// The body went past `maxBodyBytes`: the rest is discarded and the request answered 413.
    var bodyTooLarge = false

    init(context: ControlServer.Context, maxBodyBytes: Int = 65536, logger: Logger) {
        self.context = context
        self.maxBodyBytes = maxBodyBytes
        self.logger = logger
    }

    func channelRead(context ctx: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(h):
            head = h
            body.clear()
            bodyTooLarge = false
        case var .body(chunk):
            if bodyTooLarge { return }
            if body.readableBytes + chunk.readableBytes <= maxBodyBytes {
                body.writeBuffer(&chunk)
            } else {
                bodyTooLarge = true
                body.clear()
            }
        case .end:
            guard let head else { return }
            self.head = nil
            if bodyTooLarge {
                // RFC 9110 §15.5.14; the connection closes, as the client may still be sending
                respond(ctx, head: head, status: .payloadTooLarge, json: ["error": .string("the request body is over \(maxBodyBytes) octets")],
                        keepAlive: false)
                return
            }
            let url = URLComponents(string: head.uri)
            let path = url?.path ?? head.uri
            guard let allowed = Self.methods[path] else {
                respond(ctx, head: head, status: .notFound, json: ["error": .string("no such endpoint: \(path)")])
                return
            }
            guard allowed.contains(head.method) else {
                respond(ctx, head: head, status: .methodNotAllowed, json: ["error": .string("method \(head.method) not allowed on \(path)")],
                        extraHeaders: [("Allow", allowed.map(\.rawValue).joined(separator: ", "))])
                return
            }
            if head.method == .POST, let denied = authorize(head) {
                respond(ctx, head: head, status: .unauthorized, json: ["error": .string(denied)],
                        extraHeaders: [("WWW-Authenticate", "Bearer realm=\"meridian\"")])
                return
            }
            if path == "/metrics" {
                let (snapshot, _) = context.store.current()
                let text = context.metrics.map {
                    MetricsRenderer.render(sources: $0, snapshot: snapshot, states: context.publisher.endpointStates)
                } ?? ""
                respond(ctx, head: head, status: .ok, bytes: Array(text.utf8), contentType: "text/plain; version=0.0.4; charset=utf-8")
                return
            }
            if path == "/v1/reload" {
                guard let reloader = context.reloader else {
                    respond(ctx, head: head, status: .serviceUnavailable, json: ["error": "reload is not available"])
                    return
                }
                let promise = ctx.eventLoop.makePromise(of: String?.self)
                reloader.reload(completing: promise)
                promise.futureResult.whenSuccess { error in
                    if let error {
                        self.respond(ctx, head: head, status: .unprocessableEntity, json: ["result": "failed", "error": .string(error)])
                    } else {
                        let (snapshot, _) = self.context.store.current()
                        self.respond(ctx, head: head, status: .ok, json: ["result": "reloaded",
                                                                          "zones": .array(snapshot.zones.map { ["name": .string($0.originText), "serial": .int(Int($0.serial))] })])
                    }
                }
                return
            }
            let (status, json) = route(path: path, query: url?.queryItems ?? [],
                                       body: body.getString(at: body.readerIndex, length: body.readableBytes) ?? "")
            respond(ctx, head: head, status: status, json: json)
        }
    }

    func userInboundEventTriggered(context ctx: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            ctx.close(promise: nil) // no request and no response for the idle timeout
        } else {
            ctx.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context ctx: ChannelHandlerContext, error: Error) {
        ctx.close(promise: nil) // a malformed request (NIO's HTTP decoder) or a reset: nothing to answer
    }

    /// nil when the request may write: no token configured, or `Authorization: Bearer TOKEN`. The
    /// scheme is matched case-insensitively (RFC 9110 §11.1) and the token in constant time.
    func authorize(_ head: HTTPRequestHead) -> String? {
        guard let token = context.token, !token.isEmpty else { return nil }
        guard let value = head.headers.first(name: "Authorization") else { return "a bearer token is required for writes" }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer",
              ConstantTime.equal(Array(parts[1].trimmingWhitespace().utf8), Array(token.utf8)) else {
            return "the bearer token is wrong"
        }
        return nil
    }

    func respond(_ ctx: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, json: JSONValue,
                 keepAlive: Bool? = nil, extraHeaders: [(String, String)] = []) {
        respond(ctx, head: head, status: status, bytes: Array(json.encoded(pretty: true)) + [0x0A], contentType: "application/json",
                keepAlive: keepAlive, extraHeaders: extraHeaders)
    }

    /// Writes a whole response; HEAD gets the head only, with the Content-Length a GET would get.
    func respond(_ ctx: ChannelHandlerContext, head request: HTTPRequestHead, status: HTTPResponseStatus, bytes: [UInt8],
                 contentType: String, keepAlive: Bool? = nil, extraHeaders: [(String, String)] = []) {
        let keepAlive = keepAlive ?? request.isKeepAlive
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(bytes.count)")
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        ctx.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            ctx.write(wrapOutboundOut(.body(.byteBuffer(ctx.channel.allocator.buffer(bytes: bytes)))), promise: nil)
        }
        ctx.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { ctx.close(promise: nil) }
        }
    }

    /// The JSON endpoints (the method and the token are checked before).
    func route(path: String, query items: [URLQueryItem], body: String) -> (HTTPResponseStatus, JSONValue) {
        let query = Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { a, _ in a })
        switch path {
        case "/v1/status": return (.ok, status())
        case "/v1/explain": return explain(query)
        default:
            guard let object = JSONValue.decode(Array(body.utf8)), case .object = object else {
                return (.badRequest, ["error": "the body must be a JSON object"])
            }
            return path == "/v1/override" ? override(object) : push(object)
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
        // a typo must not silently do nothing; clearing one already stored is always allowed
        if !(state == nil && context.publisher.overrides.current[target] != nil),
           let unknown = OverrideTargets.unknown(target, in: context.store.current().0.services) {
            return (.notFound, ["error": .string(unknown)])
        }
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
