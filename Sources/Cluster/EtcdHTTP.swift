import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One etcd member's client URL: `http://HOST:PORT` or `https://HOST:PORT`.
public struct EtcdEndpoint: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let tls: Bool

    /// Parses `http(s)://HOST:PORT` (IPv6 in brackets); nil for anything else.
    public init?(url: String) {
        let rest: Substring
        if url.hasPrefix("http://") {
            tls = false
            rest = url.dropFirst(7)
        } else if url.hasPrefix("https://") {
            tls = true
            rest = url.dropFirst(8)
        } else {
            return nil
        }
        let authority = rest.hasSuffix("/") ? rest.dropLast() : rest
        let hostPart: Substring
        let portPart: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]"), authority[authority.index(after: close)...].hasPrefix(":") else { return nil }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            portPart = authority[authority.index(close, offsetBy: 2)...]
        } else {
            guard let colon = authority.lastIndex(of: ":") else { return nil }
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty, !hostPart.contains("/"), let port = Int(portPart), (1...65535).contains(port) else { return nil }
        host = String(hostPart)
        self.port = port
    }

    public var description: String { "\(tls ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(port)" }
}

/// Failures talking to etcd: the member could not be reached or answered badly (`unavailable`: try
/// another member), or etcd refused the request (`refused`, with its gRPC status code: RFC-less, see
/// etcd's `api/v3rpc/rpctypes`).
public enum EtcdError: Error, Sendable, CustomStringConvertible, Equatable {
    case unavailable(String)
    case refused(code: Int, message: String)

    public var description: String {
        switch self {
        case .unavailable(let why): return "etcd unavailable: \(why)"
        case .refused(let code, let message): return "etcd refused the request (code \(code)): \(message)"
        }
    }

    /// The error for a gRPC status code the gateway reported: CANCELLED (1), DEADLINE_EXCEEDED (4)
    /// and UNAVAILABLE (14) mean this member cannot serve now (no leader, shutting down): try another.
    static func from(code: Int, message: String) -> EtcdError {
        code == 1 || code == 4 || code == 14 ? .unavailable(message.isEmpty ? "code \(code)" : message) : .refused(code: code, message: message)
    }

    /// gRPC UNAUTHENTICATED (16): the token expired or was revoked; authenticate again.
    var isUnauthenticated: Bool {
        if case .refused(let code, _) = self { return code == 16 }
        return false
    }
}

/// One HTTP/1.1 exchange with an etcd member's JSON gateway (etcd v3 API, `POST /v3/...` with a JSON
/// body): a fresh connection per exchange, closed after it. Unary calls get the whole body; a watch
/// gets each newline-delimited message as it arrives.
///
/// Bounded: a unary body over `maxBody` or a streamed message over `maxBody` fails the exchange.
enum EtcdHTTP {
    static let maxBody = 16 << 20

    /// POSTs `body` to `path` and returns the response body (any status: the gateway puts errors in
    /// the JSON). Fails after `timeout`.
    static func post(
        _ endpoint: EtcdEndpoint, path: String, body: [UInt8], token: String?, tls: NIOSSLContext?, group: EventLoopGroup,
        timeout: TimeAmount
    ) async throws -> [UInt8] {
        let done = group.next().makePromise(of: [UInt8].self)
        let handler = ExchangeHandler(request: request(endpoint, path: path, body: body, token: token), done: done, onLine: nil)
        try await connect(endpoint, handler: handler, tls: tls, group: group, timeout: timeout, done: done)
        return try await done.futureResult.get()
    }

    /// POSTs `body` to `path` and calls `onLine` with each newline-delimited message of the streamed
    /// response (on the connection's event loop) until the member closes it or `cancel` is
    /// completed; then returns. Throws when the connection fails.
    static func stream(
        _ endpoint: EtcdEndpoint, path: String, body: [UInt8], token: String?, tls: NIOSSLContext?, group: EventLoopGroup,
        connectTimeout: TimeAmount, cancel: EventLoopFuture<Void>, onLine: @escaping @Sendable ([UInt8]) -> Void
    ) async throws {
        let done = group.next().makePromise(of: [UInt8].self)
        let handler = ExchangeHandler(request: request(endpoint, path: path, body: body, token: token), done: done, onLine: onLine)
        let channel = try await connect(endpoint, handler: handler, tls: tls, group: group, timeout: connectTimeout, done: done, bounded: false)
        cancel.whenComplete { _ in channel.close(promise: nil) }
        _ = try await done.futureResult.get()
    }

    private static func request(_ endpoint: EtcdEndpoint, path: String, body: [UInt8], token: String?) -> (HTTPRequestHead, [UInt8]) {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
        head.headers.add(name: "Host", value: endpoint.host.contains(":") ? "[\(endpoint.host)]:\(endpoint.port)" : "\(endpoint.host):\(endpoint.port)")
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: "\(body.count)")
        head.headers.add(name: "Connection", value: "close")
        if let token { head.headers.add(name: "Authorization", value: token) }
        return (head, body)
    }

    @discardableResult
    private static func connect(
        _ endpoint: EtcdEndpoint, handler: ExchangeHandler, tls: NIOSSLContext?, group: EventLoopGroup, timeout: TimeAmount,
        done: EventLoopPromise<[UInt8]>, bounded: Bool = true
    ) async throws -> Channel {
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if endpoint.tls {
                        guard let tls else { throw EtcdError.unavailable("\(endpoint): https without a TLS configuration") }
                        let serverName = endpoint.host.first?.isNumber == true || endpoint.host.contains(":") ? nil : endpoint.host
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            done.fail(EtcdError.unavailable("\(endpoint): \(error)"))
            throw EtcdError.unavailable("\(endpoint): \(error)")
        }
        if bounded {
            // a unary exchange must finish within `timeout` (a member without a leader may never answer)
            let timer = channel.eventLoop.scheduleTask(in: timeout) {
                done.fail(EtcdError.unavailable("\(endpoint): no answer within \(timeout.nanoseconds / 1_000_000) ms"))
                channel.close(promise: nil)
            }
            done.futureResult.whenComplete { _ in timer.cancel() }
        }
        return channel
    }

    /// Sends the request when active; collects the body (unary) or splits it into lines (stream);
    /// completes `done` once, when the response ends or the connection fails.
    private final class ExchangeHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart

        let request: (HTTPRequestHead, [UInt8])
        let done: EventLoopPromise<[UInt8]>
        let onLine: (@Sendable ([UInt8]) -> Void)?
        private var body: [UInt8] = []
        private var status: HTTPResponseStatus = .ok

        init(request: (HTTPRequestHead, [UInt8]), done: EventLoopPromise<[UInt8]>, onLine: (@Sendable ([UInt8]) -> Void)?) {
            self.request = request
            self.done = done
            self.onLine = onLine
        }

        func channelActive(context: ChannelHandlerContext) {
            context.write(wrapOutboundOut(.head(request.0)), promise: nil)
            var buffer = context.channel.allocator.buffer(capacity: request.1.count)
            buffer.writeBytes(request.1)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                status = head.status
            case .body(var part):
                body += part.readBytes(length: part.readableBytes) ?? []
                if let onLine {
                    while let newline = body.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = Array(body[..<newline])
                        body.removeSubrange(...newline)
                        if !line.isEmpty { onLine(line) }
                    }
                }
                if body.count > EtcdHTTP.maxBody {
                    done.fail(EtcdError.unavailable("a response larger than \(EtcdHTTP.maxBody) octets"))
                    context.close(promise: nil)
                }
            case .end:
                if let onLine, !body.isEmpty { onLine(body) }
                if onLine == nil && status.code >= 500 && body.isEmpty {
                    done.fail(EtcdError.unavailable("HTTP \(status.code)"))
                } else {
                    done.succeed(onLine == nil ? body : [])
                }
                context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            done.fail(EtcdError.unavailable("the connection closed before the response ended"))
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            done.fail(EtcdError.unavailable("\(error)"))
            context.close(promise: nil)
        }
    }
}
