import NIOCore
import NIOHTTP1

/// One request as a route sees it: its method, path and token are checked before it gets here.
struct ControlRequest {
    /// The query string's parameters (the first of a repeated name).
    let query: [String: String]
    /// The body as text (empty when none, or not UTF-8).
    let body: String
    /// The connection's loop, for answers that come later.
    let eventLoop: EventLoop

    /// The body as a JSON object, nil when it is not one.
    var object: JSONValue? {
        guard let value = JSONValue.decode(Array(body.utf8)), case .object = value else { return nil }
        return value
    }
}

/// What a route answers.
enum ControlReply: Sendable {
    /// A JSON document with this status.
    case json(HTTPResponseStatus, JSONValue)
    /// 200 with a text body of this media type.
    case text(String, contentType: String)
    /// An answer that completes on the connection's loop.
    case later(EventLoopFuture<ControlReply>)
}

/// A path's methods and its handler.
struct ControlRoute: Sendable {
    /// The methods the path takes (405 with `Allow` otherwise).
    let methods: [HTTPMethod]
    let handle: @Sendable (ControlEndpoints, ControlRequest) -> ControlReply

    /// A read: GET, and HEAD (RFC 9110 §9.3.2: GET's answer without its body).
    static func read(_ handle: @escaping @Sendable (ControlEndpoints, ControlRequest) -> ControlReply) -> ControlRoute {
        ControlRoute(methods: [.GET, .HEAD], handle: handle)
    }

    /// A write: POST (the token is checked before), with a body that must be a JSON object (400 otherwise).
    static func write(_ handle: @escaping @Sendable (ControlEndpoints, JSONValue) -> ControlReply) -> ControlRoute {
        ControlRoute(methods: [.POST]) { endpoints, request in
            guard let object = request.object else { return .json(.badRequest, ["error": "the body must be a JSON object"]) }
            return handle(endpoints, object)
        }
    }
}

/// The control API's one routing table: path -> methods and handler. A path not in it is answered
/// 404, a method the path does not take 405 (`ControlHandler`).
enum ControlRoutes {
    static let table: [String: ControlRoute] = [
        "/v1/status": .read { endpoints, _ in .json(.ok, endpoints.status()) },
        "/v1/explain": .read { endpoints, request in endpoints.explain(request.query) },
        "/v1/dnssec": .read { endpoints, _ in .json(.ok, endpoints.dnssec()) },
        "/metrics": .read { endpoints, _ in endpoints.metrics() },
        "/healthz": .read { endpoints, _ in endpoints.healthz() },
        "/v1/override": .write { endpoints, object in endpoints.override(object) },
        "/v1/push": .write { endpoints, object in endpoints.push(object) },
        "/v1/reload": ControlRoute(methods: [.POST]) { endpoints, request in endpoints.reload(on: request.eventLoop) },
    ]
}
