import DNSWire
import Zones

/// Answers the server gives about itself: CHAOS TXT (version.bind, id.server) and NSID (RFC 5001).
/// A nil value means "refuse" (CHAOS) or "omit" (NSID).
public struct ServerIdentity: Sendable {
    public var version: String?
    public var id: String?
    public var nsid: [UInt8]?
    public init(version: String? = nil, id: String? = nil, nsid: [UInt8]? = nil) {
        self.version = version
        self.id = id
        self.nsid = nsid
    }
}

/// Everything the query path reads, compiled at load and never mutated: the zones, a name table to
/// find the zone of a query, and the identity answers. Reloads build a new snapshot and swap it whole.
public final class Snapshot: @unchecked Sendable {
    public let zones: [CompiledZone]
    /// Our EDNS UDP payload size (RFC 6891 §6.2.5); also the cap on UDP responses (DNS flag day 2020).
    public let udpPayloadSize: UInt16
    public let identity: ServerIdentity
    /// CHAOS TXT RDATA (one character-string) for version.bind / id.server, pre-encoded.
    let versionTXT: [UInt8]?
    let idTXT: [UInt8]?
    let apexSlots: [Int32]
    let apexMask: Int

    public init(zones: [CompiledZone], identity: ServerIdentity = ServerIdentity(), udpPayloadSize: UInt16 = 1232) {
        self.zones = zones
        self.identity = identity
        self.udpPayloadSize = max(512, udpPayloadSize)
        versionTXT = identity.version.map(Snapshot.txtRDATA)
        idTXT = identity.id.map(Snapshot.txtRDATA)
        var capacity = 8
        while capacity < zones.count * 2 { capacity <<= 1 }
        var slots = [Int32](repeating: -1, count: capacity)
        for (i, zone) in zones.enumerated() {
            var slot = zone.origin.withUnsafeBufferPointer {
                Int(truncatingIfNeeded: WireName.hash($0.baseAddress!, length: $0.count))
            } & (capacity - 1)
            while slots[slot] >= 0 { slot = (slot + 1) & (capacity - 1) }
            slots[slot] = Int32(i)
        }
        apexSlots = slots
        apexMask = capacity - 1
    }

    /// RFC 1035 §3.3.14: TXT RDATA as character-strings of at most 255 octets.
    static func txtRDATA(_ text: String) -> [UInt8] {
        var bytes = Array(text.utf8)
        var out: [UInt8] = []
        repeat {
            let chunk = bytes.prefix(255)
            out.append(UInt8(chunk.count))
            out.append(contentsOf: chunk)
            bytes.removeFirst(chunk.count)
        } while !bytes.isEmpty
        return out
    }

    /// The deepest zone containing `name` (lower-case wire form), or -1 (RFC 1034 §4.3.2 step 2).
    @inline(__always)
    public func findZone(_ name: UnsafePointer<UInt8>, length: Int) -> Int {
        var pos = 0
        while pos < length {
            let suffix = length - pos
            var slot = Int(truncatingIfNeeded: WireName.hash(name + pos, length: suffix)) & apexMask
            while true {
                let z = apexSlots[slot]
                if z < 0 { break }
                let origin = zones[Int(z)].origin
                let same = origin.withUnsafeBufferPointer { WireName.equal($0.baseAddress!, $0.count, name + pos, suffix) }
                if same { return Int(z) }
                slot = (slot + 1) & apexMask
            }
            if name[pos] == 0 { break }
            pos += Int(name[pos]) + 1
        }
        return -1
    }
}
