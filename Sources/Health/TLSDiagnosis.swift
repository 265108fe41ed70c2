import FoundationEssentials
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Fetches the server certificate without verification, after a verification failure, to name the
/// cause: expired, not yet valid, or (otherwise) an untrusted chain or a name mismatch.
enum TLSDiagnosis {
    static let context: NIOSSLContext? = {
        var config = TLSConfiguration.makeClientConfiguration()
        config.certificateVerification = .none
        return try? NIOSSLContext(configuration: config)
    }()

    /// The cause of a verification failure, or nil (no answer within the check's timeout, no
    /// certificate). The connection closes when the diagnosis is set or `done` (the probe's result) is.
    static func explain(
        _ check: CheckSpec, address: String, on loop: EventLoop,
        done: EventLoopFuture<ProbeResult>
    ) -> EventLoopFuture<String?> {
        guard let context else { return loop.makeSucceededFuture(nil) }
        let promise = loop.makePromise(of: String?.self)
        let timeout = loop.scheduleTask(in: .nanoseconds(Int64(check.timeout * 1e9))) { promise.succeed(nil) }
        promise.futureResult.whenComplete { _ in timeout.cancel() }
        done.whenComplete { _ in promise.succeed(nil) }
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
                case let .success(channel):
                    Probe.closeWhenDone(channel, promise.futureResult)
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
                let cert = handler.peerCertificate
            {
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
            promise.succeed(nil) // and the connection closes
        }
    }
}
