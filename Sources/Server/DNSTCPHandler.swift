import DNSWire
import Engine
import NIOCore
import Transfer

#if canImport(Glibc)
import Glibc
#endif

/// Told to a connection when the server starts running more than half full: its idle timer is re-armed
/// with the short busy timeout.
struct TCPBusyNotice: Sendable {}

/// One DNS-over-TCP connection: splits the byte stream into two-octet-length framed messages
/// (RFC 1035 §4.2.2, RFC 7766 §8) and answers each in order (pipelining, RFC 7766 §6.2.1.1).
///
/// Backpressure: before answering a message it checks the channel is writable; above the high
/// water mark it flushes and pauses, holding the messages already read and the next `read()`, and
/// resumes when writability returns (the socket drained below the low mark). A client that sends and
/// never reads therefore holds at most the write buffer's high mark plus one reply in user space,
/// and at most `maxInboundBytes` of unparsed input (more closes the connection).
///
/// Timeouts (RFC 7766 §6.2.3), one scheduled task per connection, re-armed only when it fires or
/// when a deadline moves earlier: the idle timeout since the last byte read or the last write
/// progress (the busy timeout while the server is more than half full), and the message deadline: a
/// message begun must be complete within `messageTimeout`. It tells its connection-table slot when it
/// goes busy (a message partly read, replies paused or waiting to be written) or idle, so that the
/// table can close its oldest idle connections to make room (RFC 7766 §6.2.2).
final class DNSTCPHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let store: SnapshotStore
    let state: TCPLoopState
    let slot: TCPConnectionSlot
    let table: TCPConnectionTable
    let timeouts: TCPLimits.Timeouts
    let maxInboundBytes: Int
    let maxQueries: Int

    /// Bytes read and not yet answered: a partial message, or whole ones held while paused.
    private var inbound: ByteBuffer?
    /// A zone transfer being sent: its messages are made as the channel takes them, and the messages
    /// after it wait until it is done (RFC 5936 §4.2: answers on a connection stay in order).
    private var transfer: TransferStream?
    /// Not writable: answering and reading stop until writability returns.
    private var paused = false
    /// A `read()` not passed on while paused.
    private var readHeld = false
    /// Inside `drain` (writability events fired by its own writes and flushes must not re-enter it).
    private var draining = false
    /// What the slot was last told.
    private var reportedIdle = true
    private var lastActivity = NIODeadline.now()
    /// When the first octet of the partly read message arrived.
    private var messageStart: NIODeadline?
    private var timer: Scheduled<Void>?
    private var timerDue = NIODeadline.distantFuture
    /// Messages answered on this connection, and when it opened (`TCPLimits.maxQueriesPerConnection`,
    /// `maxLifetime`).
    private var answered = 0
    private var openedAt = NIODeadline.now()
    /// At a limit: the answers written so far are flushed, then the connection closes; what is read
    /// after this is discarded.
    private var closing = false
    /// Set once the sending side is shut down: the connection is closed outright at this deadline if
    /// the client has not closed its side by then.
    private var lingerUntil: NIODeadline?
    /// How long a connection closed at a limit keeps reading (and discarding) for the client to close.
    static let lingerTimeout = TimeAmount.seconds(2)

    init(store: SnapshotStore, state: TCPLoopState, slot: TCPConnectionSlot, table: TCPConnectionTable, limits: TCPLimits) {
        self.store = store
        self.state = state
        self.slot = slot
        self.table = table
        timeouts = TCPLimits.Timeouts(limits)
        maxInboundBytes = limits.maxInboundBytes
        maxQueries = limits.maxQueriesPerConnection
    }

    // MARK: inbound

    func channelActive(context: ChannelHandlerContext) {
        lastActivity = .now()
        openedAt = lastActivity
        armTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        inbound = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        inbound = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Evicted by the table (it was idle), or closing at a limit: what arrives now is not answered.
        guard !slot.isEvicted, !closing else { return }
        var bytes = unwrapInboundIn(data)
        lastActivity = .now()
        if inbound == nil {
            inbound = bytes
        } else {
            inbound!.discardReadBytes()
            inbound!.writeBuffer(&bytes)
        }
        guard inbound!.readableBytes <= maxInboundBytes else {
            inbound = nil
            context.close(promise: nil)
            return
        }
        drain(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        reportIdleness(context: context)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            lastActivity = .now() // the client is reading: progress, not idleness
            if paused && !draining {
                drain(context: context)
                context.flush()
                reportIdleness(context: context)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TCPBusyNotice {
            armTimer(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    // MARK: outbound

    /// Reads are held while paused: the client's data then waits in the kernel, whose buffer fills and
    /// makes the client's sends block (TCP flow control) instead of our memory growing.
    func read(context: ChannelHandlerContext) {
        if paused {
            readHeld = true
        } else {
            context.read()
        }
    }

    // MARK: answering

    /// Answers the whole messages in `inbound` while the channel is writable and keeps the rest;
    /// passes on a held `read()` unless it paused again.
    private func drain(context: ChannelHandlerContext) {
        paused = false
        draining = true
        defer { draining = false }
        var buffer = inbound
        inbound = nil // `buffer` is now the only reference: no copy-on-write below
        while true {
            if !context.channel.isWritable {
                context.flush()
                if !context.channel.isWritable {
                    paused = true
                    break
                }
            }
            if let stream = transfer {
                if let message = stream.next() {
                    var out = context.channel.allocator.buffer(capacity: message.count + 2)
                    out.writeInteger(UInt16(message.count))
                    out.writeBytes(message)
                    context.write(wrapOutboundOut(out), promise: nil)
                } else {
                    transfer = nil
                }
                continue
            }
            guard buffer != nil, let length = buffer!.getInteger(at: buffer!.readerIndex, as: UInt16.self) else { break }
            guard length > 0 else {
                context.close(promise: nil) // a zero length is not a DNS message: close
                return
            }
            guard buffer!.readableBytes >= 2 + Int(length) else { break }
            buffer!.moveReaderIndex(forwardBy: 2)
            messageStart = nil
            answer(buffer!.readSlice(length: Int(length))!, context: context)
            answered += 1
            // a zone transfer in progress finishes first; the next message finds the limit again
            if transfer == nil && (answered >= maxQueries || NIODeadline.now() >= openedAt + timeouts.lifetime) {
                closeAfterWrites(context: context)
                return
            }
        }
        if let buffer, buffer.readableBytes > 0 {
            inbound = buffer
            if !paused && messageStart == nil {
                // The start of a message: it must be complete by the message deadline.
                messageStart = .now()
                armTimer(context: context)
            }
        }
        if !paused && readHeld {
            readHeld = false
            context.read()
        }
    }

    private func answer(_ query: ByteBuffer, context: ChannelHandlerContext) {
        if state.generation != store.generation || state.snapshot == nil {
            (state.snapshot, state.generation) = store.current()
        }
        let snapshot = state.snapshot!
        let client = slot.client // decoded once, at accept
        if query.withUnsafeReadableBytes({ ZoneTransfer.isTransfer($0) }), let client {
            transfer = ZoneTransfer.respond(
                query: Array(query.readableBytesView), client: client, zones: snapshot.zones, rules: snapshot.transfer,
                now: Int64(time(nil)))
            return
        }
        state.processor.now = wallClockSeconds()
        let length = query.withUnsafeReadableBytes { bytes in
            state.processor.process(
                query: bytes, response: state.response, capacity: WireLimits.maxTCPMessage,
                transport: .tcp, client: client, snapshot: snapshot)
        }
        guard length > 0 else { return }
        var out = context.channel.allocator.buffer(capacity: length + 2)
        out.writeInteger(UInt16(length))
        out.writeBytes(UnsafeRawBufferPointer(start: state.response, count: length))
        context.write(wrapOutboundOut(out), promise: nil)
    }

    /// Flushes what is written, then closes gracefully (a limit was reached): once the answers are
    /// sent it shuts down the sending side only (FIN), and goes on reading and discarding until the
    /// client closes too or `lingerTimeout` passes.
    ///
    /// Closing the socket outright while the client's pipelined queries are still arriving would
    /// make the kernel answer them with a reset, and a reset can destroy answers the client has not
    /// read yet (RFC 7766 §6.2.3 asks servers to close so that the client sees every response; the
    /// same lingering close as HTTP/1.1 servers, RFC 9112 §9.6).
    private func closeAfterWrites(context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        inbound = nil
        transfer = nil
        let sent = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: sent)
        sent.futureResult.whenComplete { [self] result in
            guard case .success = result, context.channel.isActive else {
                context.close(promise: nil)
                return
            }
            lingerUntil = .now() + Self.lingerTimeout
            let outputClosed = context.eventLoop.makePromise(of: Void.self)
            context.close(mode: .output, promise: outputClosed)
            outputClosed.futureResult.whenFailure { _ in context.close(promise: nil) }
            armTimer(context: context)
        }
    }

    /// Idle for the connection table: no message partly read or held, and nothing waiting to be written.
    private func reportIdleness(context: ChannelHandlerContext) {
        var idle = inbound == nil && !paused
        if idle, let pending = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes), pending > 0 {
            idle = false
        }
        guard idle != reportedIdle else { return }
        reportedIdle = idle
        slot.set(idle: idle)
    }

    // MARK: timeouts

    /// The earlier of the idle deadline and the partly read message's deadline.
    private func nextDeadline() -> NIODeadline {
        if let lingerUntil { return lingerUntil }
        let idle = lastActivity + (table.isBusy ? timeouts.busyIdle : timeouts.idle)
        // the lifetime is enforced when no message is in progress (else when it is answered, in `drain`)
        guard let start = messageStart else { return transfer == nil ? min(idle, openedAt + timeouts.lifetime) : idle }
        return min(idle, start + timeouts.message)
    }

    /// Schedules the timer for `nextDeadline()` unless one already fires at or before it (that one
    /// re-checks when it fires).
    private func armTimer(context: ChannelHandlerContext) {
        let due = nextDeadline()
        if timer != nil {
            guard due < timerDue else { return }
            timer!.cancel()
        }
        timerDue = due
        let loop = context.eventLoop.assumeIsolated()
        timer = loop.scheduleTask(deadline: due) { [self] in
            self.timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        timer = nil
        timerDue = .distantFuture
        guard context.channel.isActive else { return }
        let now = NIODeadline.now()
        if let lingerUntil {
            if now >= lingerUntil {
                context.close(promise: nil) // the client kept its side open past the linger time
            } else {
                armTimer(context: context)
            }
            return
        }
        if let start = messageStart, now >= start + timeouts.message {
            context.close(promise: nil) // RFC 7766 §6.2.3: a message must not hold the connection indefinitely
            return
        }
        if now >= lastActivity + (table.isBusy ? timeouts.busyIdle : timeouts.idle) {
            context.close(promise: nil) // RFC 7766 §6.2.3: idle connections are closed by the server
            return
        }
        if now >= openedAt + timeouts.lifetime && transfer == nil && messageStart == nil {
            closeAfterWrites(context: context) // open too long (`TCPLimits.maxLifetime`)
            return
        }
        armTimer(context: context)
    }
}
