/// A key's life as BIND records it in the private key file's timing metadata (v1.3 format): each event
/// is a UNIX time, absent when not scheduled. The times come only from the files, so instances that
/// share the key files agree on which keys are published and active at any moment.
public struct KeyTiming: Sendable, Equatable {
    public var created: Int64
    /// The DNSKEY is in the zone from this time.
    public var publish: Int64?
    /// The key signs from this time.
    public var activate: Int64?
    /// The key no longer signs from this time.
    public var inactive: Int64?
    /// The DNSKEY leaves the zone at this time.
    public var delete: Int64?
    /// CDS/CDNSKEY for this key are published from this time (RFC 7344), and withdrawn at `syncDelete`.
    public var syncPublish: Int64?
    public var syncDelete: Int64?

    public init(
        created: Int64, publish: Int64? = nil, activate: Int64? = nil, inactive: Int64? = nil, delete: Int64? = nil,
        syncPublish: Int64? = nil, syncDelete: Int64? = nil
    ) {
        self.created = created
        self.publish = publish
        self.activate = activate
        self.inactive = inactive
        self.delete = delete
        self.syncPublish = syncPublish
        self.syncDelete = syncDelete
    }

    /// The DNSKEY is in the zone at `time`.
    public func isPublished(at time: Int64) -> Bool {
        guard let publish, publish <= time else { return false }
        return delete.map { time < $0 } ?? true
    }

    /// The key signs at `time`.
    public func isActive(at time: Int64) -> Bool {
        guard let activate, activate <= time else { return false }
        return inactive.map { time < $0 } ?? true
    }

    /// CDS and CDNSKEY for the key are published at `time`.
    public func isSyncPublished(at time: Int64) -> Bool {
        guard let syncPublish, syncPublish <= time else { return false }
        return syncDelete.map { time < $0 } ?? true
    }

    /// Every scheduled event after creation (a change of what the zone publishes or signs with).
    public var events: [Int64] {
        [publish, activate, inactive, delete, syncPublish, syncDelete].compactMap { $0 }
    }

    /// The metadata lines BIND writes, in its order, for the events that are set.
    var lines: [(String, Int64)] {
        [
            ("Created", created), ("Publish", publish), ("Activate", activate), ("Inactive", inactive), ("Delete", delete),
            ("SyncPublish", syncPublish), ("SyncDelete", syncDelete),
        ].compactMap { name, time in time.map { (name, $0) } }
    }

    /// Sets the event named as in a key file (`Publish`), false for a name that is not a timing field.
    mutating func set(_ name: String, _ time: Int64) -> Bool {
        switch name {
        case "Created": created = time
        case "Publish": publish = time
        case "Activate": activate = time
        case "Inactive": inactive = time
        case "Delete": delete = time
        case "SyncPublish": syncPublish = time
        case "SyncDelete": syncDelete = time
        default: return false
        }
        return true
    }
}

/// BIND's timestamp form, YYYYMMDDHHMMSS in UTC (as in RRSIG presentation, RFC 4034 §3.2).
public enum KeyTime {
    /// The text of a UNIX time.
    public static func format(_ time: Int64) -> String {
        let (y, mo, d) = civil(fromDays: time >= 0 ? time / 86400 : (time - 86399) / 86400)
        let s = ((time % 86400) + 86400) % 86400
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)\(two(mo))\(two(d))\(two(s / 3600))\(two(s / 60 % 60))\(two(s % 60))"
    }

    /// The UNIX time of a YYYYMMDDHHMMSS text, nil when it is not one.
    public static func parse(_ text: Substring) -> Int64? {
        guard text.count == 14, text.allSatisfy(\.isASCII), let all = Int64(text) else { return nil }
        let y = all / 10_000_000_000, mo = all / 100_000_000 % 100, d = all / 1_000_000 % 100
        let h = all / 10_000 % 100, mi = all / 100 % 100, s = all % 100
        guard (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        return days(fromCivil: y, mo, d) * 86400 + h * 3600 + mi * 60 + s
    }

    // Howard Hinnant's days-from-civil and its inverse (proleptic Gregorian calendar).
    static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d)
    }
}
