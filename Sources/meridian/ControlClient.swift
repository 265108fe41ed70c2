import Control
import NIOCore
import NIOHTTP1
import NIOPosix

/// The `meridian ctl` side of the control API: one HTTP/1.1 request over SwiftNIO, synchronously.
/// (Not URLSession: FoundationNetworking would load libcurl and its two dozen libraries into the
/// server process too, about 4 MB of resident code that the server never uses.)
enum ControlClient {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let timeout: TimeAmount = .seconds(10)

    static func request(base: String, method: String, path: String, token: String?, body: JSONValue?) throws -> (Int, String) {
        let socket = base.hasPrefix("unix:") ? String(base.dropFirst(5)) : nil
        let (host, port) = socket == nil ? try endpoint(base) : ("localhost", 0)
        let payload = body?.encoded()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let response = loop.makePromise(of: (Int, String).self)
        loop.scheduleTask(in: timeout) { response.fail(Failure(description: "control API \(base): no answer within 10 s")) }
        do {
            let bootstrap = ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ResponseReader(promise: response))
                    }
                }
            let channel = try (socket.map { bootstrap.connect(unixDomainSocketPath: $0) } ?? bootstrap.connect(host: host, port: port)).wait()
            defer { channel.close(promise: nil) }
            var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
            head.headers.add(name: "Host", value: socket == nil ? "\(host):\(port)" : host)
            head.headers.add(name: "Connection", value: "close")
            if let token, !token.isEmpty { head.headers.add(name: "Authorization", value: "Bearer \(token)") }
            if let payload {
                head.headers.add(name: "Content-Type", value: "application/json")
                head.headers.add(name: "Content-Length", value: String(payload.count))
            }
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            if let payload {
                channel.write(HTTPClientRequestPart.body(.byteBuffer(channel.allocator.buffer(bytes: payload))), promise: nil)
            }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            return try response.futureResult.wait()
        } catch let failure as Failure {
            throw failure
        } catch {
            response.fail(error)
            throw Failure(description: "control API \(base): \(error)")
        }
    }

    /// `http://HOST:PORT` (or `http://[v6]:PORT`, or without the scheme) -> host and port.
    static func endpoint(_ base: String) throws -> (String, Int) {
        var rest = Substring(base)
        if rest.hasPrefix("http://") { rest = rest.dropFirst(7) }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        let host: Substring, portText: Substring
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = rest[rest.index(after: rest.startIndex)..<close]
            portText = rest[close...].dropFirst().drop(while: { $0 == ":" })
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
            portText = "80"
        }
        guard !host.isEmpty, let port = Int(portText), (1...65535).contains(port) else {
            throw Failure(description: "bad control URL \(base) (expected http://HOST:PORT)")
        }
        return (String(host), port)
    }

    /// Collects one response's status and body; fails the promise if the connection ends first.
    final class ResponseReader: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<(Int, String)>
        var status = 0
        var body = ByteBuffer()

        init(promise: EventLoopPromise<(Int, String)>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case let .head(head): status = Int(head.status.code)
            case var .body(part): body.writeBuffer(&part)
            case .end: promise.succeed((status, String(buffer: body)))
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(Failure(description: "connection closed before a complete response"))
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}
