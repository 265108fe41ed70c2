import NIOCore

/// Passes on at most `limit` bytes of a connection's input; past that, drops the rest and raises
/// `Exceeded` once (the probe fails, unless it had its verdict from what was passed on, and closes the
/// connection).
final class ReadLimit: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    /// The error `ReadLimit` raises.
    struct Exceeded: Error {}
    let limit: Int
    var read = 0

    init(limit: Int) { self.limit = limit }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard read <= limit else { return }
        var buffer = unwrapInboundIn(data)
        let count = buffer.readableBytes
        if read + count <= limit {
            read += count
            context.fireChannelRead(data)
            return
        }
        // the part within the limit, then the error
        let allowed = limit - read
        read += count
        if allowed > 0, let head = buffer.readSlice(length: allowed) { context.fireChannelRead(wrapInboundOut(head)) }
        context.fireErrorCaught(Exceeded())
    }
}
