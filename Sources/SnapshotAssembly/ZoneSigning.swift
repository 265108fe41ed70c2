import Config
import DNSSEC
import DNSWire
import Health
import Steering
import SourceFiles
import Zones

#if canImport(Glibc)
import Glibc
#endif

/// Loads a zone with `dnssec:` and signs it with the keys of its key directory (DESIGN.md §3: signed
/// before any query arrives).
///
/// Keys are never replaced behind the operator's back: a key directory that holds no key of the zone
/// gets a new combined signing key only when `serve` starts (`KeyPolicy.createMissing`), and the
/// caller says so loudly; a reload refuses to go on without keys; `check` signs with a key it does not
/// keep, so that it accepts what `serve` accepts.
public enum KeyPolicy: Sendable {
    /// `serve` at start: create a CSK when the directory holds no key of the zone.
    case createMissing
    /// `check` and `explain`: sign with a temporary key when there is none (nothing is written).
    case temporaryIfMissing
    /// A reload: keys must be there.
    case requireExisting
}

public enum ZoneSigning {
    /// The zone at `zone.file`, signed when the config asks for it. `services` are the zone's GSLB
    /// services with their index in the snapshot: every answer they can give is signed, and their names
    /// get NSEC3 (or NSEC) records listing the types they answer.
    static func load(
        _ zone: MeridianConfig.Zone, owners: [[UInt8]], services: [(index: Int, service: CompiledService)], stateDir: String,
        keyPolicy: KeyPolicy, now: Int64, notes: inout [String]
    ) throws -> CompiledZone {
        guard let settings = zone.dnssec else {
            return try ZoneCompiler.load(path: zone.file, origin: zone.origin, extraOwners: owners)
        }
        var policy = SigningPolicy()
        policy.signatureValidity = Int64(settings.signatureValidity)
        policy.refresh = Int64(settings.refresh)
        policy.dnskeyTTL = UInt32(settings.dnskeyTTL)
        policy.denial = SigningPolicy.Denial(rawValue: settings.denial) ?? .nsec3
        var keys = try self.keys(zone, settings, stateDir: stateDir, keyPolicy: keyPolicy, now: now, notes: &notes)
        var due: Int64?
        if settings.manageKeys && keyPolicy != .temporaryIfMissing {
            (keys, due) = try roll(zone, settings, keys: keys, directory: settings.keyDirectory(stateDir: stateDir), now: now, notes: &notes)
        }
        return try GSLBZoneSigner.sign(
            path: zone.file, origin: zone.origin, owners: owners, services: services, keys: keys, policy: policy,
            serialPolicy: SerialPolicy(rawValue: settings.serialPolicy) ?? .unixtime, cdsDelete: settings.cdsDelete, now: now,
            due: due, declaredAt: settings.declaredAt, transferred: zone.transfer != nil, notes: &notes)
    }

    /// Carries out the rollover plan at `now` (`KeyRoller`): creates the keys it asks for and rewrites
    /// the timings it changes, in the key directory; returns the keys as they now are and when the plan
    /// next changes by itself. Every change is a note (logged).
    static func roll(
        _ zone: MeridianConfig.Zone, _ settings: MeridianConfig.DNSSECSettings, keys: [ZoneKey], directory: String, now: Int64,
        notes: inout [String]
    ) throws -> ([ZoneKey], Int64?) {
        var rollover = RolloverPolicy()
        rollover.zskLifetime = Int64(settings.zskLifetime)
        rollover.kskLifetime = Int64(settings.kskLifetime)
        rollover.propagationDelay = Int64(settings.propagationDelay)
        rollover.dnskeyTTL = Int64(settings.dnskeyTTL)
        rollover.zoneMaxTTL = Int64(settings.zoneMaxTTL)
        rollover.parentDSTTL = Int64(settings.parentDSTTL)
        let plan = KeyRoller.plan(keys: keys, dsSeen: KeyFiles.dsSeen(keys, directory: directory), policy: rollover, now: now)
        for message in plan.waiting { notes.append("\(zone.origin): \(message)") }
        guard !plan.isEmpty else { return (keys, plan.due) }
        let algorithm = keys.last?.algorithm ?? SigningAlgorithm(name: settings.algorithm) ?? .ecdsap256sha256
        do {
            for key in keys {
                guard let timing = plan.retime[key.tag] else { continue }
                try KeyFiles.retime(key, timing, directory: directory)
                notes.append(
                    "\(zone.origin): key \(key.tag) \(timing.inactive.map { "retires at \(KeyTime.format($0))" } ?? "keeps signing"), \(timing.delete.map { "leaves the zone at \(KeyTime.format($0))" } ?? "stays published")"
                )
            }
            var all = keys
            for new in plan.create {
                let key = try ZoneKey.generate(zone: zone.origin, algorithm: algorithm, role: new.role, timing: new.timing)
                try KeyFiles.write(key, ttl: UInt32(settings.dnskeyTTL), directory: directory)
                notes.append(
                    "\(zone.origin): rollover: new \(new.role.rawValue.uppercased()) \(key.tag) published, signing from \(KeyTime.format(new.timing.activate ?? now))\(new.timing.syncPublish.map { "; its CDS from \(KeyTime.format($0)): the roll completes once the parent publishes its DS" } ?? "")"
                )
                all.append(key)
            }
            return (all, plan.due)
        } catch {
            throw SourceProblem(settings.declaredAt, "dnssec: key rollover: \(error) (the last good signatures keep serving)")
        }
    }

    /// The zone's keys from its key directory (see `KeyPolicy` for a directory without any).
    static func keys(
        _ zone: MeridianConfig.Zone, _ settings: MeridianConfig.DNSSECSettings, stateDir: String, keyPolicy: KeyPolicy, now: Int64,
        notes: inout [String]
    ) throws -> [ZoneKey] {
        let directory = settings.keyDirectory(stateDir: stateDir)
        let found: [ZoneKey]
        do {
            found = try KeyFiles.load(zone: zone.origin, directory: directory)
        } catch {
            throw SourceProblem(settings.declaredAt, "dnssec: \(error) (the zone is not signed with new keys: fix or restore the key files)")
        }
        if !found.isEmpty { return found }
        guard let algorithm = SigningAlgorithm(name: settings.algorithm) else {
            throw SourceProblem(settings.declaredAt, "dnssec: unknown algorithm \(settings.algorithm)")
        }
        let timing = KeyTiming(created: now, publish: now, activate: now)
        switch keyPolicy {
        case .requireExisting:
            throw SourceProblem(
                settings.declaredAt,
                "dnssec: no key of \(zone.origin) in \(directory); a reload never makes new keys (restart, or run meridian dnssec keygen)")
        case .temporaryIfMissing:
            return [try ZoneKey.generate(zone: zone.origin, algorithm: algorithm, role: .csk, timing: timing)]
        case .createMissing:
            if settings.keys == nil { try StateDirectory.prepare(stateDir) }
            let key = try ZoneKey.generate(zone: zone.origin, algorithm: algorithm, role: .csk, timing: timing)
            let base = try KeyFiles.write(key, ttl: UInt32(settings.dnskeyTTL), directory: directory)
            notes.append(
                "\(zone.origin): no key in \(directory); created the combined signing key \(base) (tag \(key.tag)): give the parent its DS (meridian dnssec ds)"
            )
            return [key]
        }
    }
}
