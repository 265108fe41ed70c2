import DNSWire
import Dispatch
import Engine
import Logging
import Synchronization
import Transfer

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
            let acknowledged = UDPExchange.ask(message, address: target.address, port: target.port) {
                NotifyMessage.acknowledges($0, id: id)
            }
            if let rcode = acknowledged {
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
}
