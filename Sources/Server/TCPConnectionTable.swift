import Atomics
import DNSWire
import NIOConcurrencyHelpers
import NIOCore

/// One open connection as the connection table sees it: its channel, its client, and whether it is
/// idle (no message in progress, nothing waiting to be written), which its own event loop updates
/// with atomic stores and another loop may turn into "evicted" with a compare-and-exchange.
final class TCPConnectionSlot: @unchecked Sendable {
    /// busy -> idle and idle -> busy are the owning loop's; idle -> evicted is the table's (under its lock).
    enum State: UInt8 {
        case busy, idle, evicted
    }

    let channel: Channel
    let client: IPAddress?
    private let state = ManagedAtomic<UInt8>(State.idle.rawValue)

    // The table's list in accept order; read and written only under the table's lock.
    var older: TCPConnectionSlot?
    var newer: TCPConnectionSlot?
    var linked = false

    init(channel: Channel, client: IPAddress?) {
        self.channel = channel
        self.client = client
    }

    var isEvicted: Bool { state.load(ordering: .relaxed) == State.evicted.rawValue }

    /// The owning loop starts or finishes work; false when the table already evicted the connection.
    @discardableResult
    func set(idle: Bool) -> Bool {
        let (from, to): (State, State) = idle ? (.busy, .idle) : (.idle, .busy)
        return state.compareExchange(expected: from.rawValue, desired: to.rawValue, ordering: .acquiringAndReleasing).exchanged
    }

    /// Claims an idle connection for closing; fails when it is busy (or already evicted).
    func evictIfIdle() -> Bool {
        state.compareExchange(expected: State.idle.rawValue, desired: State.evicted.rawValue, ordering: .acquiringAndReleasing).exchanged
    }
}

/// Every open TCP connection of the server, across its event loops: admits or refuses a new
/// connection against the global and per-client caps (RFC 7766 §6.2.2), choosing the oldest idle
/// connection to close when a cap is reached, and says when more than half the slots are in use.
/// Its lock is taken when a connection opens or closes, never per query; the owning loops mark their
/// connections busy or idle with atomics on the slot.
final class TCPConnectionTable: Sendable {
    /// What `admit` decided.
    enum Admission {
        /// Accepted; `evicted` (if any) was marked evicted and must be closed by the caller;
        /// `enteredBusy` lists the connections to tell that the busy idle timeout now applies.
        case accepted(evicted: TCPConnectionSlot?, enteredBusy: [Channel])
        case refused
    }

    private struct State {
        var oldest: TCPConnectionSlot?
        var newest: TCPConnectionSlot?
        var count = 0
        var perClient: [IPAddress?: Int] = [:]
        var lastBusyNotice = NIODeadline.uptimeNanoseconds(0)
    }

    let maxConnections: Int
    let maxPerClient: Int
    let busyNoticeInterval: TimeAmount
    private let state = NIOLockedValueBox(State())
    private let open = ManagedAtomic<Int>(0)
    private let busy = ManagedAtomic<Bool>(false)

    init(maxConnections: Int, maxPerClient: Int, busyNoticeInterval: TimeAmount) {
        self.maxConnections = maxConnections
        self.maxPerClient = maxPerClient
        self.busyNoticeInterval = busyNoticeInterval
    }

    /// Connections open right now.
    var count: Int { open.load(ordering: .relaxed) }
    /// More than half of the slots are in use: connections get the short idle timeout.
    var isBusy: Bool { busy.load(ordering: .relaxed) }

    func admit(_ slot: TCPConnectionSlot) -> Admission {
        state.withLockedValue { s in
            var victim: TCPConnectionSlot?
            if s.perClient[slot.client, default: 0] >= maxPerClient {
                victim = Self.oldestIdle(in: s, client: slot.client, anyClient: false)
                if victim == nil { return .refused }
            } else if s.count >= maxConnections {
                victim = Self.oldestIdle(in: s, client: nil, anyClient: true)
                if victim == nil { return .refused }
            }
            if let victim { Self.unlink(victim, in: &s) }
            Self.link(slot, in: &s)
            let wasBusy = busy.load(ordering: .relaxed)
            let nowBusy = s.count > maxConnections / 2
            open.store(s.count, ordering: .relaxed)
            busy.store(nowBusy, ordering: .relaxed)
            // Entering busy: the open connections' timers still run at the long idle timeout, so each
            // is told to re-arm. At most once per interval, so that connections opened and closed at the
            // boundary cannot make every accept walk the whole table.
            var notify: [Channel] = []
            let now = NIODeadline.now()
            if nowBusy && !wasBusy && now - s.lastBusyNotice >= busyNoticeInterval {
                s.lastBusyNotice = now
                notify.reserveCapacity(s.count)
                var cursor = s.oldest
                while let c = cursor {
                    if c !== slot { notify.append(c.channel) }
                    cursor = c.newer
                }
            }
            return .accepted(evicted: victim, enteredBusy: notify)
        }
    }

    /// Forgets a closed connection (no-op when it was evicted and already unlinked).
    func remove(_ slot: TCPConnectionSlot) {
        state.withLockedValue { s in
            guard slot.linked else { return }
            Self.unlink(slot, in: &s)
            open.store(s.count, ordering: .relaxed)
            busy.store(s.count > maxConnections / 2, ordering: .relaxed)
        }
    }

    /// The oldest connection (of `client`, or of anyone when `anyClient`) that is idle, claimed for
    /// eviction. Connections are counted per source address; nil stands for a peer without one.
    private static func oldestIdle(in s: State, client: IPAddress?, anyClient: Bool) -> TCPConnectionSlot? {
        var cursor = s.oldest
        while let c = cursor {
            if anyClient || c.client == client, c.evictIfIdle() { return c }
            cursor = c.newer
        }
        return nil
    }

    private static func link(_ slot: TCPConnectionSlot, in s: inout State) {
        slot.older = s.newest
        slot.newer = nil
        s.newest?.newer = slot
        s.newest = slot
        if s.oldest == nil { s.oldest = slot }
        slot.linked = true
        s.count += 1
        s.perClient[slot.client, default: 0] += 1
    }

    private static func unlink(_ slot: TCPConnectionSlot, in s: inout State) {
        if let older = slot.older { older.newer = slot.newer } else { s.oldest = slot.newer }
        if let newer = slot.newer { newer.older = slot.older } else { s.newest = slot.older }
        slot.older = nil
        slot.newer = nil
        slot.linked = false
        s.count -= 1
        let left = s.perClient[slot.client, default: 1] - 1
        s.perClient[slot.client] = left > 0 ? left : nil
    }
}
