/// The timings of automatic key rollovers (RFC 7583), Knot's policy settings as the model.
public struct RolloverPolicy: Sendable, Equatable {
    /// How long a ZSK signs before its successor takes over; 0: never rolled.
    public var zskLifetime: Int64 = 30 * 86400
    /// How long a KSK or CSK is used before a successor is started; 0: never rolled.
    public var kskLifetime: Int64 = 0
    /// How long a change takes to reach every secondary and every instance (Dprp).
    public var propagationDelay: Int64 = 3600
    /// TTL of the DNSKEY RRset (TTLkey).
    public var dnskeyTTL: Int64 = 3600
    /// The largest TTL of the zone's signed records (TTLsig): how long an old signature may be cached.
    public var zoneMaxTTL: Int64 = 86400
    /// TTL of the DS at the parent (TTLds), and the parent's own propagation delay is taken as ours.
    public var parentDSTTL: Int64 = 86400

    public init() {}

    /// Publication interval: from a DNSKEY's publication until every cache that holds the DNSKEY RRset
    /// holds it (RFC 7583 §3.2.1: Ipub = Dprp + TTLkey).
    public var publicationInterval: Int64 { propagationDelay + dnskeyTTL }
}

/// Plans key rollovers by writing key timings, so that every instance given the key files rolls alike
/// (the times are in the files, `SigningEpoch` follows them). Pure: it returns the plan, the caller
/// creates and rewrites the key files.
///
/// - ZSK, pre-publication (RFC 7583 §3.2.1): `publicationInterval` before the active ZSK's lifetime
///   ends, a successor is published; it activates when the old one goes inactive; the old DNSKEY
///   stays until its signatures have left the caches (Dprp + TTLsig later).
/// - KSK or CSK, double-KSK with CDS (RFC 7583 §3.3.2, RFC 7344): a successor is published, and once its
///   DNSKEY is in every cache it signs (double signatures meanwhile) and its CDS/CDNSKEY replace the old
///   key's. The old key stays active until the parent's DS for the successor has been seen (DS seen:
///   queried at the parent, or `meridian dnssec ds-seen`) and the old DS has left the caches
///   (Dprp + TTLds); its DNSKEY leaves after its signatures (Dprp + max(TTLkey, TTLsig)).
public enum KeyRoller {
    /// What to change: keys to create and new timings for existing ones (by key tag), and what the
    /// plan is waiting for.
    public struct Plan: Sendable, Equatable {
        public var create: [NewKey] = []
        public var retime: [UInt16: KeyTiming] = [:]
        public var waiting: [String] = []
        /// The next time the plan would change by itself (a lifetime running out), if any.
        public var due: Int64?

        public var isEmpty: Bool { create.isEmpty && retime.isEmpty }
    }

    /// A key the plan asks for.
    public struct NewKey: Sendable, Equatable {
        public let role: KeyRole
        public let timing: KeyTiming

        public init(role: KeyRole, timing: KeyTiming) {
            self.role = role
            self.timing = timing
        }
    }

    /// The plan at `now` for the zone's `keys`, with `dsSeen` (key tag -> when the parent's DS for it
    /// was seen).
    public static func plan(keys: [ZoneKey], dsSeen: [UInt16: Int64], policy: RolloverPolicy, now: Int64) -> Plan {
        var plan = Plan()
        let ipub = policy.publicationInterval
        let zsks = keys.filter { !$0.isSecureEntryPoint }
        let seps = keys.filter(\.isSecureEntryPoint)

        // the oldest active key with no end in sight; its successor is a later key of the same kind,
        // not yet retiring
        func current(_ list: [ZoneKey]) -> ZoneKey? {
            list.filter { $0.timing.isActive(at: now) && $0.timing.inactive == nil }.min { ($0.timing.activate ?? 0) < ($1.timing.activate ?? 0) }
        }
        func successor(of key: ZoneKey, in list: [ZoneKey]) -> ZoneKey? {
            list.first { $0.tag != key.tag && $0.timing.inactive == nil && ($0.timing.activate ?? .max) > (key.timing.activate ?? 0) }
        }

        // ZSK pre-publication
        if policy.zskLifetime > 0, !zsks.isEmpty, let old = current(zsks), successor(of: old, in: zsks) == nil {
            let rollAt = (old.timing.activate ?? now) + policy.zskLifetime - ipub
            if now < rollAt { plan.due = min(plan.due ?? .max, rollAt) }
            if now >= rollAt {
                let activate = now + ipub
                plan.create.append(NewKey(role: .zsk, timing: KeyTiming(created: now, publish: now, activate: activate)))
                var timing = old.timing
                timing.inactive = activate
                timing.delete = activate + policy.propagationDelay + policy.zoneMaxTTL
                plan.retime[old.tag] = timing
            }
        }

        // KSK/CSK: start a successor, then retire the old key once the successor's DS is seen
        let role: KeyRole = zsks.isEmpty ? .csk : .ksk
        if let old = current(seps) {
            if let new = successor(of: old, in: seps) {
                if let seen = dsSeen[new.tag], new.timing.syncPublish != nil {
                    var timing = old.timing
                    timing.inactive = max(seen, new.timing.activate ?? seen) + policy.propagationDelay + policy.parentDSTTL
                    timing.delete = timing.inactive! + policy.propagationDelay + max(policy.dnskeyTTL, policy.zoneMaxTTL)
                    timing.syncDelete = min(timing.syncDelete ?? .max, new.timing.syncPublish ?? now)
                    plan.retime[old.tag] = timing
                    var next = new.timing
                    next.syncDelete = timing.delete // the CDS has done its work once the old key is gone
                    plan.retime[new.tag] = next
                } else if let ready = new.timing.syncPublish, now >= ready {
                    plan.waiting.append("key \(new.tag) waits for its DS at the parent (published as CDS since \(KeyTime.format(ready)))")
                }
            } else if policy.kskLifetime > 0, now < (old.timing.activate ?? now) + policy.kskLifetime - ipub {
                plan.due = min(plan.due ?? .max, (old.timing.activate ?? now) + policy.kskLifetime - ipub)
            } else if policy.kskLifetime > 0 {
                let ready = now + ipub
                plan.create.append(NewKey(role: role, timing: KeyTiming(created: now, publish: now, activate: ready, syncPublish: ready)))
                var timing = old.timing
                timing.syncDelete = ready
                plan.retime[old.tag] = timing
            }
        }
        return plan
    }
}
