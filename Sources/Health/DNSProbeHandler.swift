import NIOCore

/// Waits for the reply to a DNS check's query from the probed server (address and port) and judges it
/// (`DNSCheckReply`): datagrams from elsewhere or with another ID are ignored (the probe keeps waiting
/// until its timeout); a reply with our ID that is not a well-formed answer to our question fails the
/// probe with the reason; an answer is up when its RCODE is the expected one.
final class DNSProbeHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let query: DNSCheckQuery
    let server: SocketAddress
    let expect: Int
    let report: ProbeReport

    init(query: DNSCheckQuery, server: SocketAddress, expect: Int, report: ProbeReport) {
        self.query = query
        self.server = server
        self.expect = expect
        self.report = report
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == server else { return }
        switch envelope.data.withUnsafeReadableBytes({ DNSCheckReply.judge($0, for: query) }) {
        case .notOurs:
            return
        case let .invalid(why):
            report.verdict(false, "bad reply: \(why)")
        case let .answer(rcode):
            report.verdict(rcode == expect, "rcode \(rcode)\(rcode == expect ? "" : " (expected \(expect))")")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        report.verdict(false, "\(error)")
    }
}
