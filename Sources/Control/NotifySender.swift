import DNSWire
import Dispatch
import Engine
import Logging
import Synchronization
import Transfer

#if canImport(Glibc)
import Glibc
#endif

/// Tells a zone's secondaries of a new serial with NOTIFY (RFC 1996) over UDP: after every published
/// snapshot whose serial for the zone differs from the one last notified (the first snapshot
/// included). Each secondary is tried up to five times, one second apart, until it acknowledges
/// (§3.6); the outcome is logged. Runs on its own queue: a slow or absent secondary delays nothing else.
public final class NotifySender: Sendable {
    let logger: Logger
    let queue = DispatchQueue(label: "meridian.notify")
    /// The serial last notified per zone (lower-case wire origin).
    let notified = Mutex<[[UInt8]: UInt32]>([:])
    static let attempts = 5

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Called with every snapshot published by a load or reload.
    public func published(_ snapshot: Snapshot) {
        for zone in snapshot.zones {
            guard let rules = snapshot.transfer.zones[zone.origin], !rules.notify.isEmpty else { continue }
            let changed = notified.withLock { last -> Bool in
                defer { last[zone.origin] = zone.serial }
                return last[zone.origin] != zone.serial
            }
            guard changed else { continue }
            for target in rules.notify {
                let key = target.key.flatMap { snapshot.transfer.keys[$0] }
                let origin = zone.origin
                let serial = zone.serial
                queue.async { [self] in send(origin: origin, serial: serial, to: target, key: key) }
            }
        }
    }

    func send(origin: [UInt8], serial: UInt32, to target: NotifyTarget, key: TSIGKey?) {
        let zone = WireName.toText(origin)
        let peer = "\(target.address):\(target.port)"
        for attempt in 1...Self.attempts {
            let id = UInt16.random(in: 0...UInt16.max)
            guard let message = NotifyMessage.make(origin: origin, id: id, key: key) else {
                logger.error("NOTIFY not sent: cannot sign it", metadata: ["zone": "\(zone)", "secondary": "\(peer)"])
                return
            }
            if let rcode = exchange(message, id: id, with: target) {
                logger.info(
                    "NOTIFY acknowledged",
                    metadata: ["zone": "\(zone)", "serial": "\(serial)", "secondary": "\(peer)", "rcode": "\(rcode)", "attempt": "\(attempt)"])
                return
            }
        }
        logger.warning(
            "NOTIFY not acknowledged; the secondary picks up the serial at its next refresh",
            metadata: ["zone": "\(zone)", "serial": "\(serial)", "secondary": "\(peer)", "attempts": "\(Self.attempts)"])
    }

    /// Sends `message` and waits up to a second for its acknowledgement; its RCODE, nil on timeout.
    func exchange(_ message: [UInt8], id: UInt16, with target: NotifyTarget) -> UInt16? {
        let v6 = target.address.family == .v6
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let host = "\(target.address)"
        var sent = -1
        if v6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(target.port).bigEndian)
            guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else { return nil }
            sent = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, message, message.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(target.port).bigEndian)
            guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return nil }
            sent = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, message, message.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard sent == message.count else { return nil }
        var reply = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &reply, reply.count, 0)
            guard n > 0 else { return nil } // timeout or error
            if let rcode = NotifyMessage.acknowledges(Array(reply.prefix(n)), id: id) { return rcode }
        }
    }
}
