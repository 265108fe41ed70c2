import Glibc
@testable import Health
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import XCTest

/// This process's open descriptors: the entries of /proc/self/fd, less the one reading the directory.
func openDescriptors() -> Int {
    guard let dir = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(dir) }
    var count = 0
    while let entry = readdir(dir) {
        let dot = withUnsafeBytes(of: entry.pointee.d_name) { $0[0] == 0x2E } // "." and ".."
        if !dot { count += 1 }
    }
    return count - 1
}

/// When each connection a test backend accepted opened and closed.
final class ConnectionLog: Sendable {
    private let spans = NIOLockedValueBox<[(opened: NIODeadline, closed: NIODeadline?)]>([])

    func opened() -> Int {
        spans.withLockedValue {
            $0.append((.now(), nil)); return $0.count - 1
        }
    }
    func closed(_ index: Int) { spans.withLockedValue { $0[index].closed = .now() } }
    var count: Int { spans.withLockedValue { $0.count } }
    var stillOpen: Int { spans.withLockedValue { $0.filter { $0.closed == nil }.count } }
    /// The longest a closed connection stayed open, in seconds.
    var longestOpen: Double {
        spans.withLockedValue { $0.compactMap { s in s.closed.map { Double(($0 - s.opened).nanoseconds) / 1e9 } }.max() ?? 0 }
    }
}

/// A TCP backend that misbehaves on every connection; it closes its side when the probe closes its own.
final class MisbehavingBackend: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    enum Behaviour {
        /// Accepts, reads the request, never answers.
        case neverAnswer
        /// A status line, then a header line every 50 ms, forever.
        case slowHeaders
        /// A status line, then 1 KiB header lines as fast as the probe reads them.
        case endlessHeaders
        /// Headers announcing a 1 GiB body, then the body as fast as the probe reads it.
        case endlessBody
        /// Reads the TLS ClientHello and never replies.
        case stallTLS
        /// Answers 200 with the body "ok" and closes (a backend that behaves).
        case answerOK
    }
    let behaviour: Behaviour
    let log: ConnectionLog
    var index = -1
    var started = false

    init(_ behaviour: Behaviour, log: ConnectionLog) {
        self.behaviour = behaviour
        self.log = log
    }

    func channelActive(context: ChannelHandlerContext) {
        index = log.opened()
    }

    /// Misbehaves from the first bytes of the request on (a response before the request is not what is tested).
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !started else { return }
        started = true
        let channel = context.channel
        switch behaviour {
        case .neverAnswer, .stallTLS:
            break
        case .slowHeaders:
            write(channel, "HTTP/1.1 200 OK\r\n", then: { self.slowHeader(channel) })
        case .endlessHeaders:
            write(channel, "HTTP/1.1 200 OK\r\n", then: { self.pump(channel, "X-Fill: " + String(repeating: "f", count: 1014) + "\r\n") })
        case .endlessBody:
            write(
                channel, "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n",
                then: { self.pump(channel, String(repeating: "b", count: 16384)) })
        case .answerOK:
            write(channel, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", then: { channel.close(promise: nil) })
        }
    }

    func write(_ channel: Channel, _ text: String, then next: @escaping @Sendable () -> Void) {
        channel.writeAndFlush(channel.allocator.buffer(string: text)).whenSuccess { next() }
    }

    func slowHeader(_ channel: Channel) {
        channel.eventLoop.scheduleTask(in: .milliseconds(50)) {
            guard channel.isActive else { return }
            self.write(channel, "X-Slow: 1\r\n", then: { self.slowHeader(channel) })
        }
    }

    /// Writes `text` again each time the last write is taken, until a write fails (the probe closed);
    /// each write from a fresh event loop task (a write taken at once completes inline: no recursion).
    func pump(_ channel: Channel, _ text: String) {
        write(channel, text, then: { channel.eventLoop.execute { self.pump(channel, text) } })
    }

    func channelInactive(context: ChannelHandlerContext) {
        log.closed(index)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// A UDP test backend for DNS checks: answers each query as `behaviour` says.
final class DNSBackend: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    enum Behaviour {
        /// Sends the query back as it came.
        case echo
        /// The query's header with QR set, then garbage.
        case garbage
        /// First a reply with another ID, then a correct answer (one SOA record).
        case correctAfterStray
        /// A correct answer, from another socket (another source port).
        case correctFromElsewhere
    }
    let behaviour: Behaviour
    let elsewhere: Channel?

    init(_ behaviour: Behaviour, elsewhere: Channel? = nil) {
        self.behaviour = behaviour
        self.elsewhere = elsewhere
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let query = Array(envelope.data.readableBytesView)
        guard query.count >= 12 else { return }
        func send(_ bytes: [UInt8], via channel: Channel? = nil) {
            let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: context.channel.allocator.buffer(bytes: bytes))
            if let channel { channel.writeAndFlush(out, promise: nil) } else { context.writeAndFlush(wrapOutboundOut(out), promise: nil) }
        }
        switch behaviour {
        case .echo:
            send(query)
        case .garbage:
            send(Array(query.prefix(2)) + [0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0] + [0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0xFF])
        case .correctAfterStray:
            var stray = Self.answer(to: query)
            stray[1] ^= 0xFF
            send(stray)
            send(Self.answer(to: query))
        case .correctFromElsewhere:
            send(Self.answer(to: query), via: elsewhere)
        }
    }

    /// The query as a response (QR, AA) with one SOA answer for the question's name.
    static func answer(to query: [UInt8]) -> [UInt8] {
        var reply = query
        reply[2] = 0x84; reply[3] = 0x00
        reply[6] = 0; reply[7] = 1
        reply += [0xC0, 12, 0, 6, 0, 1, 0, 0, 1, 44]
        let rdata: [UInt8] = [3] + Array("ns1".utf8) + [0xC0, 12, 0xC0, 12] + Array(repeating: 0, count: 20)
        reply += [0, UInt8(rdata.count)] + rdata
        return reply
    }
}

final class ProbeCleanupTests: XCTestCase {
    /// The probe timeout where the verdict is a timeout.
    static let timeout = 0.3
    /// The probe timeout where the verdict is a size limit: long enough that the limit, not the
    /// clock, ends the probe even on a loaded machine.
    static let sizeLimitTimeout = 5.0
    static let rounds = 20
    var probeGroup: MultiThreadedEventLoopGroup!
    var serverGroup: MultiThreadedEventLoopGroup!

    override func setUp() {
        probeGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    override func tearDown() {
        try? probeGroup.syncShutdownGracefully()
        try? serverGroup.syncShutdownGracefully()
    }

    func tcpBackend(_ behaviour: MisbehavingBackend.Behaviour, log: ConnectionLog) throws -> Channel {
        try ServerBootstrap(group: serverGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(MisbehavingBackend(behaviour, log: log))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    func check(_ kind: CheckSpec.Kind, port: Int, timeout: Double = ProbeCleanupTests.timeout) -> CheckSpec {
        var check = CheckSpec(name: "t", kind: kind)
        check.port = port
        check.timeout = timeout
        check.interval = 1
        return check
    }

    func probe(_ check: CheckSpec, tls: NIOSSLContext? = nil, times: Int) throws -> [ProbeResult] {
        let loop = probeGroup.next()
        let futures = (0..<times).map { _ in Probe.run(check, address: "127.0.0.1", on: loop, tls: tls, pushed: nil) }
        return try EventLoopFuture.whenAllSucceed(futures, on: loop).wait()
    }

    /// Polls until the descriptor count is at most `bound` (for up to `seconds`); returns the last count.
    func descriptors(settlingTo bound: Int, within seconds: Double) -> Int {
        let deadline = NIODeadline.now() + .milliseconds(Int64(seconds * 1000))
        var count = openDescriptors()
        while count > bound, NIODeadline.now() < deadline {
            usleep(20_000)
            count = openDescriptors()
        }
        return count
    }

    /// Probes a misbehaving backend `rounds` times at once: every probe is down, and afterwards the
    /// process has the descriptors it had before (probe and backend sockets all closed).
    func assertNoLeak(
        _ behaviour: MisbehavingBackend.Behaviour, kind: CheckSpec.Kind, tls: NIOSSLContext? = nil,
        bodyContains: String? = nil, reason: String, timeout: Double = ProbeCleanupTests.timeout,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> ConnectionLog {
        let log = ConnectionLog()
        let server = try tcpBackend(behaviour, log: log)
        defer { try? server.close().wait() }
        var spec = check(kind, port: server.localAddress!.port!, timeout: timeout)
        spec.bodyContains = bodyContains
        _ = try probe(spec, tls: tls, times: 1) // any one-time descriptors of a first probe
        waitUntilClosed(log, within: 0.5)
        let baseline = openDescriptors()
        let started = NIODeadline.now()
        let results = try probe(spec, tls: tls, times: Self.rounds)
        let took = Double((NIODeadline.now() - started).nanoseconds) / 1e9
        XCTAssertTrue(results.allSatisfy { !$0.ok }, "\(results.map(\.reason))", file: file, line: line)
        XCTAssertTrue(results.allSatisfy { $0.reason.contains(reason) }, "\(Set(results.map(\.reason)))", file: file, line: line)
        XCTAssertLessThan(took, timeout + 0.5, "probes took \(took) s", file: file, line: line)
        waitUntilClosed(log, within: 0.5)
        let after = descriptors(settlingTo: baseline + 2, within: 0.5)
        XCTAssertLessThanOrEqual(
            after, baseline + 2, "descriptors \(baseline) before \(Self.rounds) probes, \(after) after",
            file: file, line: line)
        XCTAssertEqual(log.stillOpen, 0, "backend connections still open", file: file, line: line)
        return log
    }

    /// Polls until the backend has no open connection (for up to `seconds`).
    func waitUntilClosed(_ log: ConnectionLog, within seconds: Double) {
        let deadline = NIODeadline.now() + .milliseconds(Int64(seconds * 1000))
        while log.stillOpen > 0, NIODeadline.now() < deadline { usleep(10_000) }
    }

    func testNeverAnsweringBackendLeavesNoDescriptor() throws {
        _ = try assertNoLeak(.neverAnswer, kind: .http, reason: "timeout")
    }

    func testSlowHeadersLeaveNoDescriptor() throws {
        _ = try assertNoLeak(.slowHeaders, kind: .http, reason: "timeout")
    }

    func testEndlessHeadersStopAtTheHeaderLimit() throws {
        _ = try assertNoLeak(.endlessHeaders, kind: .http, reason: "too large", timeout: Self.sizeLimitTimeout)
    }

    func testStalledTLSHandshakeLeavesNoDescriptor() throws {
        let tls = try NIOSSLContext(configuration: .makeClientConfiguration())
        _ = try assertNoLeak(.stallTLS, kind: .https, tls: tls, reason: "timeout")
    }

    func testEndlessBodyIsCutAndClosed() throws {
        let log = try assertNoLeak(
            .endlessBody, kind: .http, bodyContains: "never there", reason: "response too large",
            timeout: Self.sizeLimitTimeout)
        XCTAssertEqual(log.count, Self.rounds + 1)
        XCTAssertLessThanOrEqual(log.longestOpen, Self.sizeLimitTimeout + 0.5, "a backend connection stayed open \(log.longestOpen) s")
    }

    func testEndlessBodyWithoutBodyCheckIsUpOnItsStatus() throws {
        let log = ConnectionLog()
        let server = try tcpBackend(.endlessBody, log: log)
        defer { try? server.close().wait() }
        let results = try probe(check(.http, port: server.localAddress!.port!), times: 3)
        XCTAssertTrue(results.allSatisfy { $0.ok && $0.reason.hasPrefix("HTTP 200") }, "\(results.map(\.reason))")
        waitUntilClosed(log, within: 0.5)
        XCTAssertEqual(log.stillOpen, 0, "backend connections still open")
    }

    func testWellBehavedBackendIsUp() throws {
        let log = ConnectionLog()
        let server = try tcpBackend(.answerOK, log: log)
        defer { try? server.close().wait() }
        var spec = check(.http, port: server.localAddress!.port!)
        spec.bodyContains = "ok"
        let results = try probe(spec, times: 3)
        XCTAssertTrue(results.allSatisfy { $0.ok && $0.reason == "HTTP 200" }, "\(results.map(\.reason))")
        waitUntilClosed(log, within: 0.5)
        XCTAssertEqual(log.stillOpen, 0, "backend connections still open")
    }

    // MARK: DNS

    func dnsBackend(_ behaviour: DNSBackend.Behaviour) throws -> (Channel, Channel?) {
        var elsewhere: Channel?
        if behaviour == .correctFromElsewhere {
            elsewhere = try DatagramBootstrap(group: serverGroup).bind(host: "127.0.0.1", port: 0).wait()
        }
        let server = try DatagramBootstrap(group: serverGroup)
            .channelInitializer { [elsewhere] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DNSBackend(behaviour, elsewhere: elsewhere))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        return (server, elsewhere)
    }

    func dnsProbe(_ behaviour: DNSBackend.Behaviour) throws -> ProbeResult {
        let (server, elsewhere) = try dnsBackend(behaviour)
        defer {
            try? server.close().wait()
            try? elsewhere?.close().wait()
        }
        var spec = check(.dns, port: server.localAddress!.port!)
        spec.queryName = "probe.example."
        let baseline = openDescriptors()
        let result = try probe(spec, times: 1)[0]
        XCTAssertLessThanOrEqual(descriptors(settlingTo: baseline, within: 0.5), baseline, "the probe's socket is not closed")
        return result
    }

    func testDNSEchoIsDown() throws {
        let result = try dnsProbe(.echo)
        XCTAssertFalse(result.ok, result.reason)
        XCTAssertTrue(result.reason.contains("QR=0"), result.reason)
    }

    func testDNSGarbageAfterTheHeaderIsDown() throws {
        let result = try dnsProbe(.garbage)
        XCTAssertFalse(result.ok, result.reason)
        XCTAssertTrue(result.reason.hasPrefix("bad reply"), result.reason)
    }

    func testDNSAnswerFromAnotherPortIsIgnored() throws {
        let result = try dnsProbe(.correctFromElsewhere)
        XCTAssertFalse(result.ok, result.reason)
        XCTAssertTrue(result.reason.contains("timeout"), result.reason)
    }

    func testDNSCorrectAnswerIsUpAfterAStrayReply() throws {
        let result = try dnsProbe(.correctAfterStray)
        XCTAssertTrue(result.ok, result.reason)
        XCTAssertEqual(result.reason, "rcode 0")
    }
}
