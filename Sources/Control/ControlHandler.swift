import FoundationEssentials
import Logging
import SourceFiles
import NIOCore
import NIOHTTP1

/// One HTTP request at a time per connection: gathers the body (up to `maxBodyBytes`, else 413 and
/// the request is not acted on), finds the path in `ControlRoutes.table` (404), checks the method
/// (405 with `Allow`) and, for writes, the token (401 with `WWW-Authenticate`), then answers what
/// the route returns.
final class ControlHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let context: ControlServer.Context
    let endpoints: ControlEndpoints
    let maxBodyBytes: Int
    var head: HTTPRequestHead?
    var body = ByteBuffer()
    /// The body went past `maxBodyBytes`: the rest is discarded and the request answered 413.
    var bodyTooLarge = false

    init(context: ControlServer.Context, maxBodyBytes: Int = 65536, logger: Logger) {
        self.context = context
        self.endpoints = ControlEndpoints(context: context, logger: logger)
        self.maxBodyBytes = maxBodyBytes
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
            answer(ctx, head)
        }
    }

    /// Checks a complete request in order (size, path, method, token) and answers it.
    func answer(_ ctx: ChannelHandlerContext, _ head: HTTPRequestHead) {
        if bodyTooLarge {
            // RFC 9110 §15.5.14; the connection closes, as the client may still be sending
            respond(
                ctx, head: head, status: .payloadTooLarge, json: ["error": .string("the request body is over \(maxBodyBytes) octets")],
                keepAlive: false)
            return
        }
        let url = URLComponents(string: head.uri)
        let path = url?.path ?? head.uri
        guard let route = ControlRoutes.table[path] else {
            respond(ctx, head: head, status: .notFound, json: ["error": .string("no such endpoint: \(path)")])
            return
        }
        guard route.methods.contains(head.method) else {
            // RFC 9110 §15.5.6: a 405 lists the methods the target takes
            respond(
                ctx, head: head, status: .methodNotAllowed, json: ["error": .string("method \(head.method) not allowed on \(path)")],
                extraHeaders: [("Allow", route.methods.map(\.rawValue).joined(separator: ", "))])
            return
        }
        if head.method == .POST, let denied = authorize(head) {
            // RFC 6750 §3: the challenge names the Bearer scheme
            respond(
                ctx, head: head, status: .unauthorized, json: ["error": .string(denied)],
                extraHeaders: [("WWW-Authenticate", "Bearer realm=\"meridian\"")])
            return
        }
        let items = url?.queryItems ?? []
        let request = ControlRequest(
            query: Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { a, _ in a }),
            body: body.getString(at: body.readerIndex, length: body.readableBytes) ?? "",
            eventLoop: ctx.eventLoop)
        reply(ctx, head: head, route.handle(endpoints, request))
    }

    /// Writes a route's answer (a later one once it completes).
    func reply(_ ctx: ChannelHandlerContext, head: HTTPRequestHead, _ reply: ControlReply) {
        switch reply {
        case let .json(status, json):
            respond(ctx, head: head, status: status, json: json)
        case let .text(text, contentType):
            respond(ctx, head: head, status: .ok, bytes: Array(text.utf8), contentType: contentType)
        case let .later(future):
            future.whenSuccess { self.reply(ctx, head: head, $0) }
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
            ConstantTime.equal(Array(parts[1].trimmingWhitespace().utf8), Array(token.utf8))
        else {
            return "the bearer token is wrong"
        }
        return nil
    }

    func respond(
        _ ctx: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, json: JSONValue,
        keepAlive: Bool? = nil, extraHeaders: [(String, String)] = []
    ) {
        respond(
            ctx, head: head, status: status, bytes: Array(json.encoded(pretty: true)) + [0x0A], contentType: "application/json",
            keepAlive: keepAlive, extraHeaders: extraHeaders)
    }

    /// Writes a whole response; HEAD gets the head only, with the Content-Length a GET would get.
    func respond(
        _ ctx: ChannelHandlerContext, head request: HTTPRequestHead, status: HTTPResponseStatus, bytes: [UInt8],
        contentType: String, keepAlive: Bool? = nil, extraHeaders: [(String, String)] = []
    ) {
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
}
