import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOSSL

/// Reads one HTTP response: status, and the body up to `bodyLimit` bytes. A longer body ends the read
/// there: the verdict is the status's when no body substring is expected or the substring is in what
/// was read, else "response too large".
final class HTTPProbeHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    static let bodyLimit = 64 * 1024
    let check: CheckSpec
    let report: ProbeReport
    var status = 0
    var body: [UInt8] = []
    var bodyBytes = 0
    var certificateDaysLeft: Int?
    /// The promise is set: what else arrives is dropped.
    var finished = false

    init(check: CheckSpec, report: ProbeReport) {
        self.check = check
        self.report = report
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return } // the verdict is in; the connection is closing
        switch unwrapInboundIn(data) {
        case let .head(head):
            status = Int(head.status.code)
            if check.kind == .https, let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self),
                let cert = handler.peerCertificate
            {
                certificateDaysLeft = Int((Double(cert.notValidAfter) - Date().timeIntervalSince1970) / 86400)
            }
        case let .body(buffer):
            bodyBytes += buffer.readableBytes
            if check.bodyContains != nil {
                body += buffer.readableBytesView.prefix(Self.bodyLimit - body.count)
            }
            if bodyBytes > Self.bodyLimit { finish(overLimit: true) }
        case .end:
            finish(overLimit: false)
        }
    }

    func finish(overLimit: Bool) {
        var ok = check.expect.contains(status)
        var reason = "HTTP \(status)"
        if !ok {
            reason += " (expected \(check.expect.map(String.init).joined(separator: "/")))"
        } else if let needle = check.bodyContains, !String(decoding: body, as: UTF8.self).contains(needle) {
            ok = false
            reason += overLimit ? ", response too large (no '\(needle)' in its first \(Self.bodyLimit) bytes)" : ", body lacks '\(needle)'"
        } else if overLimit {
            reason += " (body over \(Self.bodyLimit) bytes, not read further)"
        }
        finished = true
        report.verdict(ok, reason, certificateDaysLeft: certificateDaysLeft)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finished = true
        report.verdict(
            false, status == 0 ? "connection closed before a response" : "HTTP \(status), response cut short",
            certificateDaysLeft: certificateDaysLeft)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let reason: String
        switch error {
        case is ReadLimit.Exceeded: reason = "response too large (over \(Probe.readLimit) bytes)"
        case let e as HTTPParserError where e == .headerOverflow: reason = "response headers too large"
        default: reason = Probe.describe(error)
        }
        finished = true
        report.verdict(false, reason) // and the connection closes
    }
}
