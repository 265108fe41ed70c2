import CProbe
import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SourceFiles

/// One probe per call, all asynchronous on a NIO event loop (no thread per check). Every probe is
/// bounded by the check's timeout and turns every failure (refused, unresolvable, TLS error, bad
/// status, hung script) into a down result with a reason; none throws. Every channel a probe opens is
/// closed when the probe's result is set (`closeWhenDone`), whatever the peer does: the timeout sets the
/// result, so a peer that never answers costs its descriptor for the timeout only.
public enum Probe {
    public static func run(
        _ check: CheckSpec, address: String, on loop: EventLoop, tls: NIOSSLContext?,
        pushed: ProbeResult?
    ) -> EventLoopFuture<ProbeResult> {
        let started = NIODeadline.now()
        let elapsed: @Sendable () -> Double = { Double((NIODeadline.now() - started).nanoseconds) / 1e9 }
        let report = ProbeReport(promise: loop.makePromise(of: ProbeResult.self), elapsed: elapsed)
        let timeout = loop.scheduleTask(in: .nanoseconds(Int64(check.timeout * 1e9))) {
            report.verdict(false, "timeout after \(check.timeout)s")
        }
        let done = report.promise.futureResult
        let finished = NIOLoopBoundBox.makeBoxSendingValue(false, as: Bool.self, eventLoop: loop) // done is fulfilled (read on the loop)
        done.whenComplete { _ in
            timeout.cancel()
            finished.value = true
        }
        switch check.kind {
        case .tcp:
            // SO_LINGER 0: close with RST, so probes leave no TIME_WAIT sockets behind (as HAProxy does).
            // A connection made after the timeout fired is closed as soon as it is made.
            ClientBootstrap(group: loop)
                .connectTimeout(.nanoseconds(Int64(check.timeout * 1e9)))
                .connect(to: address, port: check.port)
                .whenComplete { result in
                    switch result {
                    case let .success(channel):
                        report.verdict(true, "connected")
                        if let provider = channel as? SocketOptionProvider {
                            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
                        } else {
                            channel.close(promise: nil)
                        }
                    case let .failure(error):
                        report.failed("connect: \(describe(error))", error: error)
                    }
                }
        case .tcpHalfOpen:
            // made by TCPProbeEngine; the snapshot build refuses configurations it cannot take (a name, no CAP_NET_RAW)
            report.verdict(false, "tcp-half-open: the probe engine could not take \(address)")
        case .http, .https:
            // The response's verdict; the probe's result is set from it (after a TLS diagnosis when
            // verification failed). The connection closes when either is set.
            let response = ProbeReport(promise: loop.makePromise(of: ProbeResult.self), elapsed: elapsed)
            http(check, address: address, on: loop, tls: tls, response: response, done: done)
            response.promise.futureResult.whenSuccess { result in
                // A failed verification says only CERTIFICATE_VERIFY_FAILED: look at the certificate
                // without verifying it to tell an expired one from an untrusted or wrong-host one
                // (unless the timeout has already set the result).
                guard !result.ok, check.kind == .https, result.reason.contains("CERTIFICATE_VERIFY_FAILED"), !finished.value else {
                    report.set(result)
                    return
                }
                TLSDiagnosis.explain(check, address: address, on: loop, done: done).whenComplete { diagnosis in
                    var refined = result
                    if case let .success(text?) = diagnosis { refined.reason = "TLS: \(text)" }
                    report.set(refined)
                }
            }
        case .dns:
            dns(check, address: address, on: loop, report: report)
        case .script:
            script(check, address: address, on: loop, report: report)
        case .file:
            report.set(file(check, address: address, latency: elapsed()))
        case .push:
            report.set(pushed ?? ProbeResult(ok: false, reason: "no state pushed yet", latency: 0))
        }
        return done
    }

    /// Closes `channel` once any of `futures` completes (or at once if one has). The close goes to the
    /// socket directly, below a TLS handler if there is one: NIOSSL's orderly close waits for the peer's
    /// close_notify (and keeps reading, and decrypting, whatever the peer sends meanwhile) for up to its
    /// shutdown timeout, 5 s by default; a probe that has its verdict owes the peer nothing.
    static func closeWhenDone<Value>(_ channel: Channel, _ futures: EventLoopFuture<Value>...) {
        let close: @Sendable (Result<Value, Error>) -> Void = { _ in
            channel.eventLoop.execute {
                if let tls = try? channel.pipeline.syncOperations.context(handlerType: NIOSSLClientHandler.self) {
                    tls.close(promise: nil) // the next handler towards the socket: the socket itself
                } else {
                    channel.close(promise: nil)
                }
            }
        }
        for future in futures { future.whenComplete(close) }
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

    /// Most of a response the probe reads: its header block (the HTTP decoder's limits) and its body
    /// (`HTTPProbeHandler.bodyLimit`); `ReadLimit` ends the connection past their sum and some slack.
    static let headerLimit = NIOHTTPDecoderLimitConfiguration.probe
    static let readLimit = 32 * 1024 + HTTPProbeHandler.bodyLimit + 16 * 1024

    /// Sends the check's request and sets `response` from the reply; the connection closes when
    /// `response` or `done` (the probe's result) is set, or a read limit is passed.
    static func http(
        _ check: CheckSpec, address: String, on loop: EventLoop, tls: NIOSSLContext?,
        response: ProbeReport, done: EventLoopFuture<ProbeResult>
    ) {
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
                    try channel.pipeline.syncOperations.addHandler(ReadLimit(limit: readLimit))
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(decoderLimitConfiguration: headerLimit)
                    try channel.pipeline.syncOperations.addHandler(HTTPProbeHandler(check: check, report: response))
                }
            }
            .connect(to: address, port: check.port)
            .whenComplete { result in
                switch result {
                case let .success(channel):
                    closeWhenDone(channel, response.promise.futureResult, done)
                    var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: check.method), uri: check.path)
                    head.headers.add(name: "Host", value: hostHeader)
                    head.headers.add(name: "User-Agent", value: "meridian-health/1")
                    head.headers.add(name: "Connection", value: "close")
                    for (name, value) in check.headers { head.headers.add(name: name, value: value) }
                    channel.write(HTTPClientRequestPart.head(head), promise: nil)
                    channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                case let .failure(error):
                    response.failed("connect: \(describe(error))", error: error)
                }
            }
    }

    // MARK: DNS

    /// Sends one query from a fresh socket (port 0: a random source port) with a random ID and waits
    /// for the server's answer (`DNSProbeHandler`); the socket closes when the result is set.
    static func dns(
        _ check: CheckSpec, address: String, on loop: EventLoop, report: ProbeReport
    ) {
        guard let query = DNSCheckQuery(id: UInt16.random(in: 0...UInt16.max), name: check.queryName, type: check.queryType) else {
            report.verdict(false, "query name '\(check.queryName)' is not a domain name")
            return
        }
        let remote: SocketAddress
        do {
            remote = try SocketAddress.makeAddressResolvingHost(address, port: check.port)
        } catch {
            report.verdict(false, "address: \(error)")
            return
        }
        DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DNSProbeHandler(query: query, server: remote, expect: check.expectRCode, report: report))
                }
            }
            .bind(host: remote.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
            .whenComplete { result in
                switch result {
                case let .success(channel):
                    closeWhenDone(channel, report.promise.futureResult)
                    let datagram = query.datagram
                    var buffer = channel.allocator.buffer(capacity: datagram.count)
                    buffer.writeBytes(datagram)
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: buffer), promise: nil)
                case let .failure(error):
                    report.failed("socket: \(error)", error: error)
                }
            }
    }

    // MARK: script

    static func script(
        _ check: CheckSpec, address: String, on loop: EventLoop, report: ProbeReport
    ) {
        let arguments = check.command + [address, String(check.port)]
        var argv = arguments.map { strdup($0) }
        argv.append(nil)
        let pid = mprobe_spawn(&argv)
        for pointer in argv { free(pointer) }
        guard pid > 0 else {
            let reason = String(cString: strerror(-pid))
            report.failed("script: cannot run \(check.command[0]): \(reason)", error: IOError(errnoCode: -pid, reason: "posix_spawn"))
            return
        }
        let reaper = ScriptReaper(pid: pid, loop: loop, report: report)
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
        let report: ProbeReport
        /// Set once the child is reaped: its pid may be reused, so the timeout no longer signals it.
        private(set) var exited = false

        init(pid: pid_t, loop: EventLoop, report: ProbeReport) {
            self.pid = pid
            self.loop = loop
            self.report = report
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
                    self.report.verdict(code == 0, "script: exit \(code)")
                case 2:
                    self.report.verdict(false, "script: killed by signal \(code)")
                default: // -errno
                    self.report.verdict(false, "script: wait: \(String(cString: strerror(-state)))")
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
