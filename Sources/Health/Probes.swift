import CProbe
import FoundationEssentials
import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
import SourceFiles

/// The outcome of one probe.
public struct ProbeResult: Sendable {
    public var ok: Bool
    public var reason: String
    /// Seconds from start to result.
    public var latency: Double
    /// HTTPS: days until the server certificate expires.
    public var certificateDaysLeft: Int?
    /// Set when the probe could not be made for a local reason (the errno: out of descriptors, buffers
    /// or memory, no process slot): no verdict on the endpoint, whose state is left as it is.
    public var localFailure: Int32?
    public init(ok: Bool, reason: String, latency: Double, certificateDaysLeft: Int? = nil, localFailure: Int32? = nil) {
        self.ok = ok
        self.reason = reason
        self.latency = latency
        self.certificateDaysLeft = certificateDaysLeft
        self.localFailure = localFailure
    }

    /// A failed probe: no verdict when `error` is a local resource failure (see `localFailure`).
    static func failed(_ reason: String, error: Error, latency: Double) -> ProbeResult {
        ProbeResult(ok: false, reason: reason, latency: latency, localFailure: Probe.localErrno(error))
    }

    /// Seconds as milliseconds with one decimal ("12.3"), for log lines.
    public static func milliseconds(_ seconds: Double) -> String {
        let tenths = Int((max(seconds, 0) * 10_000).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// One probe per call, all asynchronous on a NIO event loop (no thread per check). Every probe is
/// bounded by the check's timeout and turns every failure (refused, unresolvable, TLS error, bad
/// status, hung script) into a down result with a reason; none throws.
public enum Probe {
    public static func run(_ check: CheckSpec, address: String, on loop: EventLoop, tls: NIOSSLContext?,
                           pushed: ProbeResult?) -> EventLoopFuture<ProbeResult> {
        let started = NIODeadline.now()
        let elapsed: @Sendable () -> Double = { Double((NIODeadline.now() - started).nanoseconds) / 1e9 }
        let promise = loop.makePromise(of: ProbeResult.self)
        let timeout = loop.scheduleTask(in: .nanoseconds(Int64(check.timeout * 1e9))) {
            promise.succeed(ProbeResult(ok: false, reason: "timeout after \(check.timeout)s", latency: elapsed()))
        }
        promise.futureResult.whenComplete { _ in timeout.cancel() }
        switch check.kind {
        case .tcp:
            // SO_LINGER 0: close with RST, so probes leave no TIME_WAIT sockets behind (as HAProxy does)
            ClientBootstrap(group: loop)
                .connectTimeout(.nanoseconds(Int64(check.timeout * 1e9)))
                .connect(to: address, port: check.port)
                .whenComplete { result in
                    switch result {
                    case let .success(channel):
                        promise.succeed(ProbeResult(ok: true, reason: "connected", latency: elapsed()))
                        if let provider = channel as? SocketOptionProvider {
                            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
                        } else {
                            channel.close(promise: nil)
                        }
                    case let .failure(error):
                        promise.succeed(.failed("connect: \(describe(error))", error: error, latency: elapsed()))
                    }
                }
        case .tcpHalfOpen:
            // made by TCPProbeEngine; the snapshot build refuses configurations it cannot take (a name, no CAP_NET_RAW)
            promise.succeed(ProbeResult(ok: false, reason: "tcp-half-open: the probe engine could not take \(address)", latency: elapsed()))
        case .http, .https:
            let first = loop.makePromise(of: ProbeResult.self)
            http(check, address: address, on: loop, tls: tls, promise: first, elapsed: elapsed)
            first.futureResult.whenSuccess { result in
                // A failed verification says only CERTIFICATE_VERIFY_FAILED: look at the certificate
                // without verifying it to tell an expired one from an untrusted or wrong-host one.
                guard !result.ok, check.kind == .https, result.reason.contains("CERTIFICATE_VERIFY_FAILED") else {
                    promise.succeed(result)
                    return
                }
                TLSDiagnosis.explain(check, address: address, on: loop).whenComplete { diagnosis in
                    var refined = result
                    if case let .success(text?) = diagnosis { refined.reason = "TLS: \(text)" }
                    promise.succeed(refined)
                }
            }
        case .dns:
            dns(check, address: address, on: loop, promise: promise, elapsed: elapsed)
        case .script:
            script(check, address: address, on: loop, promise: promise, elapsed: elapsed)
        case .file:
            promise.succeed(file(check, address: address, latency: elapsed()))
        case .push:
            promise.succeed(pushed ?? ProbeResult(ok: false, reason: "no state pushed yet", latency: 0))
        }
        return promise.futureResult
    }

    /// The errno of a failure that says nothing about the endpoint: this process ran out of descriptors
    /// (EMFILE, ENFILE), socket buffers (ENOBUFS) or memory (ENOMEM), or could not start a process (EAGAIN).
    static func localErrno(_ error: Error) -> Int32? {
        guard let io = error as? IOError else { return nil }
        return [EMFILE, ENFILE, ENOBUFS, ENOMEM, EAGAIN].contains(io.errnoCode) ? io.errnoCode : nil
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? NIOSSLError { return "TLS: \(e)" }
        if let e = error as? BoringSSLError { return "TLS: \(e)" }
        if let e = error as? NIOSSLExtraError { return "TLS: \(e)" }
        return "\(error)"
    }

    // MARK: HTTP / HTTPS

    static func http(_ check: CheckSpec, address: String, on loop: EventLoop, tls: NIOSSLContext?,
                     promise: EventLoopPromise<ProbeResult>, elapsed: @escaping @Sendable () -> Double) {
        let hostHeader = check.host ?? address
        let serverName = check.host ?? (IPAddressCheck.isIP(address) ? nil : address)
        ClientBootstrap(group: loop)
            .connectTimeout(.nanoseconds(Int64(check.timeout * 1e9)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if check.kind == .https, let tls {
                        let handler = try NIOSSLClientHandler(context: tls, serverHostname: serverName)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(HTTPProbeHandler(check: check, promise: promise, elapsed: elapsed))
                }
            }
            .connect(to: address, port: check.port)
            .whenComplete { result in
                switch result {
                case let .success(channel):
                    var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: check.method), uri: check.path)
                    head.headers.add(name: "Host", value: hostHeader)
                    head.headers.add(name: "User-Agent", value: "meridian-health/1")
                    head.headers.add(name: "Connection", value: "close")
                    for (name, value) in check.headers { head.headers.add(name: name, value: value) }
                    channel.write(HTTPClientRequestPart.head(head), promise: nil)
                    channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                    promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                case let .failure(error):
                    promise.succeed(.failed("connect: \(describe(error))", error: error, latency: elapsed()))
                }
            }
    }

    // MARK: DNS

    static func dns(_ check: CheckSpec, address: String, on loop: EventLoop,
                    promise: EventLoopPromise<ProbeResult>, elapsed: @escaping @Sendable () -> Double) {
        let id = UInt16.random(in: 0...UInt16.max)
        var query: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in check.queryName.split(separator: ".") where !label.isEmpty {
            query.append(UInt8(label.utf8.count))
            query.append(contentsOf: label.utf8)
        }
        query += [0, UInt8(check.queryType >> 8), UInt8(check.queryType & 0xFF), 0, 1]
        let remote: SocketAddress
        do {
            remote = try SocketAddress.makeAddressResolvingHost(address, port: check.port)
        } catch {
            promise.succeed(ProbeResult(ok: false, reason: "address: \(error)", latency: elapsed()))
            return
        }
        DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DNSProbeHandler(id: id, expect: check.expectRCode,
                                                                                   promise: promise, elapsed: elapsed))
                }
            }
            .bind(host: remote.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
            .whenComplete { result in
                switch result {
                case let .success(channel):
                    var buffer = channel.allocator.buffer(capacity: query.count)
                    buffer.writeBytes(query)
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: buffer), promise: nil)
                    promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                case let .failure(error):
                    promise.succeed(.failed("socket: \(error)", error: error, latency: elapsed()))
                }
            }
    }

    // MARK: script

    static func script(_ check: CheckSpec, address: String, on loop: EventLoop,
                       promise: EventLoopPromise<ProbeResult>, elapsed: @escaping @Sendable () -> Double) {
        let arguments = check.command + [address, String(check.port)]
        var argv = arguments.map { strdup($0) }
        argv.append(nil)
        let pid = mprobe_spawn(&argv)
        for pointer in argv { free(pointer) }
        guard pid > 0 else {
            let reason = String(cString: strerror(-pid))
            promise.succeed(.failed("script: cannot run \(check.command[0]): \(reason)", error: IOError(errnoCode: -pid, reason: "posix_spawn"),
                                    latency: elapsed()))
            return
        }
        let reaper = ScriptReaper(pid: pid, loop: loop, promise: promise, elapsed: elapsed)
        reaper.poll(after: 0.001)
        // Kill a script that outlives its timeout (the timeout result is already reported), with
        // everything it started: it runs in its own process group, so signal the group.
        loop.scheduleTask(in: .nanoseconds(Int64(check.timeout * 1e9))) {
            if !reaper.exited { kill(-pid, SIGTERM) }
            loop.scheduleTask(in: .milliseconds(500)) { kill(-pid, SIGKILL) } // leftover children too
        }
    }

    /// Waits for a script's exit on its event loop by polling `waitpid(WNOHANG)`: 1 ms after the start,
    /// then doubling to at most every 10 ms (a script's reported latency is exact to that step; no
    /// thread or signal handler is spent on it).
    /// Lives on its event loop only (no lock): `exited` is read by the timeout's kill on the same loop.
    final class ScriptReaper: @unchecked Sendable {
        let pid: pid_t
        let loop: EventLoop
        let promise: EventLoopPromise<ProbeResult>
        let elapsed: @Sendable () -> Double
        /// Set once the child is reaped: its pid may be reused, so the timeout no longer signals it.
        private(set) var exited = false

        init(pid: pid_t, loop: EventLoop, promise: EventLoopPromise<ProbeResult>, elapsed: @escaping @Sendable () -> Double) {
            self.pid = pid
            self.loop = loop
            self.promise = promise
            self.elapsed = elapsed
        }

        func poll(after seconds: Double) {
            loop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {
                var code: Int32 = 0
                let state = mprobe_reap(self.pid, &code)
                if state != 0 { self.exited = true }
                switch state {
                case 0:
                    self.poll(after: min(seconds * 2, 0.01))
                case 1:
                    self.promise.succeed(ProbeResult(ok: code == 0, reason: "script: exit \(code)", latency: self.elapsed()))
                case 2:
                    self.promise.succeed(ProbeResult(ok: false, reason: "script: killed by signal \(code)", latency: self.elapsed()))
                default: // -errno
                    self.promise.succeed(ProbeResult(ok: false, reason: "script: wait: \(String(cString: strerror(-state)))",
                                                     latency: self.elapsed()))
                }
            }
        }
    }

    // MARK: file

    /// A file with one word ("up"/"down") for every endpoint, or lines "ADDRESS up|down".
    static func file(_ check: CheckSpec, address: String, latency: Double) -> ProbeResult {
        guard let path = check.file, let data = try? SourceFile.readAll(path) else {
            return ProbeResult(ok: false, reason: "file \(check.file ?? "-") unreadable", latency: latency)
        }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map { String($0.trimmingWhitespace()) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        func verdict(_ word: String) -> Bool? {
            switch word.lowercased() {
            case "up", "ok", "1", "true": return true
            case "down", "fail", "0", "false": return false
            default: return nil
            }
        }
        if lines.count == 1, let v = verdict(lines[0]) {
            return ProbeResult(ok: v, reason: "file says \(lines[0])", latency: latency)
        }
        for line in lines {
            let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if f.count >= 2, f[0] == address, let v = verdict(f[1]) {
                return ProbeResult(ok: v, reason: "file says \(f[1])", latency: latency)
            }
        }
        return ProbeResult(ok: false, reason: "file has no state for \(address)", latency: latency)
    }
}

/// Reads one HTTP response: status, and the body up to 64 KiB when a substring is expected.
final class HTTPProbeHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    let check: CheckSpec
    let promise: EventLoopPromise<ProbeResult>
    let elapsed: @Sendable () -> Double
    var status = 0
    var body = ""
    var certificateDaysLeft: Int?

    init(check: CheckSpec, promise: EventLoopPromise<ProbeResult>, elapsed: @escaping @Sendable () -> Double) {
        self.check = check
        self.promise = promise
        self.elapsed = elapsed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head):
            status = Int(head.status.code)
            if check.kind == .https, let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self),
               let cert = handler.peerCertificate {
                certificateDaysLeft = Int((Double(cert.notValidAfter) - Date().timeIntervalSince1970) / 86400)
            }
        case var .body(buffer):
            if check.bodyContains != nil, body.utf8.count < 65536 {
                body += buffer.readString(length: buffer.readableBytes) ?? ""
            }
        case .end:
            finish()
        }
    }

    func finish() {
        var ok = check.expect.contains(status)
        var reason = "HTTP \(status)"
        if ok, let needle = check.bodyContains, !body.contains(needle) {
            ok = false
            reason += ", body lacks '\(needle)'"
        } else if !ok {
            reason += " (expected \(check.expect.map(String.init).joined(separator: "/")))"
        }
        promise.succeed(ProbeResult(ok: ok, reason: reason, latency: elapsed(), certificateDaysLeft: certificateDaysLeft))
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.succeed(ProbeResult(ok: false, reason: status == 0 ? "connection closed before a response" : "HTTP \(status), response cut short",
                                    latency: elapsed(), certificateDaysLeft: certificateDaysLeft))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.succeed(ProbeResult(ok: false, reason: Probe.describe(error), latency: elapsed()))
        context.close(promise: nil)
    }
}

/// Waits for the DNS reply with our ID and compares its RCODE.
final class DNSProbeHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let id: UInt16
    let expect: Int
    let promise: EventLoopPromise<ProbeResult>
    let elapsed: @Sendable () -> Double

    init(id: UInt16, expect: Int, promise: EventLoopPromise<ProbeResult>, elapsed: @escaping @Sendable () -> Double) {
        self.id = id
        self.expect = expect
        self.promise = promise
        self.elapsed = elapsed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data).data
        guard buffer.readableBytes >= 12, let rid = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self), rid == id,
              let flags = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self) else { return }
        let rcode = Int(flags & 0x000F)
        promise.succeed(ProbeResult(ok: rcode == expect, reason: "rcode \(rcode)\(rcode == expect ? "" : " (expected \(expect))")",
                                    latency: elapsed()))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.succeed(ProbeResult(ok: false, reason: "\(error)", latency: elapsed()))
    }
}

enum IPAddressCheck {
    static func isIP(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}

/// Fetches the server certificate without verification, after a verification failure, to name the
/// cause: expired, not yet valid, or (otherwise) an untrusted chain or a name mismatch.
enum TLSDiagnosis {
    static let context: NIOSSLContext? = {
        var config = TLSConfiguration.makeClientConfiguration()
        config.certificateVerification = .none
        return try? NIOSSLContext(configuration: config)
    }()

    static func explain(_ check: CheckSpec, address: String, on loop: EventLoop) -> EventLoopFuture<String?> {
        guard let context else { return loop.makeSucceededFuture(nil) }
        let promise = loop.makePromise(of: String?.self)
        loop.scheduleTask(in: .nanoseconds(Int64(check.timeout * 1e9))) { promise.succeed(nil) }
        let serverName = check.host ?? (IPAddressCheck.isIP(address) ? nil : address)
        ClientBootstrap(group: loop)
            .connectTimeout(.nanoseconds(Int64(check.timeout * 1e9)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: serverName))
                    try channel.pipeline.syncOperations.addHandler(HandshakeWatcher(promise: promise))
                }
            }
            .connect(host: address, port: check.port)
            .whenComplete { result in
                switch result {
                case let .success(channel): promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                case .failure: promise.succeed(nil)
                }
            }
        return promise.futureResult
    }

    final class HandshakeWatcher: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<String?>
        init(promise: EventLoopPromise<String?>) { self.promise = promise }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted = event,
               let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self),
               let cert = handler.peerCertificate {
                let now = Date().timeIntervalSince1970
                if Double(cert.notValidAfter) < now {
                    let days = Int((now - Double(cert.notValidAfter)) / 86400)
                    promise.succeed("certificate expired \(days) day(s) ago (CERTIFICATE_VERIFY_FAILED)")
                } else if Double(cert.notValidBefore) > now {
                    promise.succeed("certificate not valid yet (CERTIFICATE_VERIFY_FAILED)")
                } else {
                    promise.succeed("certificate not trusted or not for this host (CERTIFICATE_VERIFY_FAILED)")
                }
            }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            promise.succeed(nil)
            context.close(promise: nil)
        }
    }
}

extension ClientBootstrap {
    /// Connects to an IP literal directly (no resolver, no Happy Eyeballs: the cheap path for
    /// thousands of probes); host names go through NIO's resolver.
    func connect(to address: String, port: Int) -> EventLoopFuture<Channel> {
        if IPAddressCheck.isIP(address), let socketAddress = try? SocketAddress(ipAddress: address, port: port) {
            return connect(to: socketAddress)
        }
        return connect(host: address, port: port)
    }
}
