/// The moment a zone's signatures are dated from, and when the next one begins.
///
/// Instances that share key files and configuration must serve the same DNSKEY set and SOA serial
/// (an NS set). So a signing is dated not from when an instance happens to sign (start, reload) but
/// from a time every instance computes alike from the clock, the key files and the policy: the latest
/// of the last re-signing boundary (multiples of `signature_validity - refresh` since 1970) and the
/// last key event (publish, activate, inactive, delete, sync publish, sync delete). No key event lies
/// between the epoch and now, so the keys in force at the epoch are those in force now. A zone is
/// signed again when the next epoch begins, which also advances its serial.
public struct SigningEpoch: Sendable, Equatable {
    /// UNIX time the signatures are dated from (inception = start - inception offset).
    public let start: Int64
    /// UNIX time of the next epoch: the next re-signing boundary or key event, whichever comes first.
    public let next: Int64

    public init(now: Int64, policy: SigningPolicy, keys: [ZoneKey]) {
        let period = max(policy.signatureValidity - policy.refresh, 1)
        let boundary = now - ((now % period) + period) % period
        let events = keys.flatMap(\.timing.events)
        start = max(boundary, events.filter { $0 <= now }.max() ?? boundary)
        next = min(boundary + period, events.filter { $0 > now }.min() ?? .max)
    }

    /// The zone's SOA serial under `policy` for a zone file whose serial is `fileSerial`.
    ///
    /// `unixtime`: the later of the file's serial and the epoch (RFC 1982 arithmetic is not needed:
    /// both only grow). An operator who edits the file writes the time of the edit (`date +%s`) as its
    /// serial, and every instance given that file serves the same serial.
    /// `increment`: the file's serial plus the epoch in minutes since 1970, so that every new epoch
    /// (re-signing boundaries and key events are minutes apart) moves it, and a raised file serial too.
    public func serial(_ policy: SerialPolicy, fileSerial: UInt32) -> UInt32 {
        switch policy {
        case .unixtime:
            return max(fileSerial, UInt32(truncatingIfNeeded: start))
        case .increment:
            return fileSerial &+ UInt32(truncatingIfNeeded: start / 60)
        }
    }
}

/// How a signed zone's SOA serial follows its signing (Knot's `serial-policy`).
public enum SerialPolicy: String, Sendable, Equatable, CaseIterable {
    /// The signing epoch's UNIX time (or the file's serial when that is later).
    case unixtime
    /// The file's serial plus the epoch in minutes.
    case increment
}
