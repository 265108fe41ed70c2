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
    /// The most RRsets one GSLB service may have signed (its `AnswerSet`s); a service that could give
    /// more answers is refused in a signed zone.
    static let maxAnswerSets = 4096

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
        return try sign(
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

    /// The zone file at `path` compiled and signed with `keys` at the signing epoch of `now`: its apex
    /// keys, the serial of `serialPolicy`, every RRset, the NSEC3 or NSEC chain (GSLB names listing the types
    /// their services answer) and every answer of `services` (the zone's GSLB services, with their
    /// index in the snapshot). Refuses services whose answers no single type bitmap proves, or that
    /// have more than `maxAnswerSets` answers; errors name `declaredAt`. `transferred`: the zone goes to
    /// secondaries (GSLB names without records of their own get a note).
    public static func sign(
        path: String, origin: String, owners: [[UInt8]], services: [(index: Int, service: CompiledService)], keys: [ZoneKey],
        policy: SigningPolicy, serialPolicy: SerialPolicy = .unixtime, cdsDelete: Bool = false, now: Int64, due: Int64? = nil,
        declaredAt: String, transferred: Bool = false, notes: inout [String]
    ) throws -> CompiledZone {
        let epoch = SigningEpoch(now: now, policy: policy, keys: keys)
        var gslbTypes: [[UInt8]: [UInt16]] = [:]
        var answers: [ZoneSigner.Answer] = []
        for (index, service) in services {
            gslbTypes[service.name] = try answerTypes(service, declaredAt: declaredAt)
            guard let sets = service.answerSets(limit: maxAnswerSets) else {
                throw SourceProblem(
                    service.spec.declaredAt,
                    "service \(WireName.toText(service.name)) can give more than \(maxAnswerSets) different answers (pools too large for its select/max_answers); a signed zone (\(declaredAt)) signs each ahead of time: use smaller pools or max_answers"
                )
            }
            for set in sets {
                let key = AnswerKey(service: Int32(index), pool: set.pool, type: set.type, mask: set.mask)
                answers.append(ZoneSigner.Answer(key: key, owner: service.name, bodies: set.bodies, records: set.records))
            }
        }
        do {
            let compiled = try ZoneCompiler.load(
                path: path, origin: origin, extraOwners: owners,
                extraRecords: ZoneSigner.apexRecords(zone: origin, keys: keys, policy: policy, now: epoch.start, cdsDelete: cdsDelete),
                serial: { epoch.serial(serialPolicy, fileSerial: $0) })
            if serialPolicy == .unixtime && Int64(compiled.serial) > now + 86400 {
                notes.append(
                    "\(origin): the zone file's serial \(compiled.serial) lies ahead of the clock (a date?); with serial_policy unixtime re-signing cannot raise it until the clock passes it: write date +%s as the serial, or use serial_policy increment"
                )
            }
            for (_, service) in services where service.usesStaticRecords {
                try checkStaticTypes(service, in: compiled, declaredAt: declaredAt, serviceTypes: gslbTypes[service.name] ?? [])
            }
            if transferred {
                for (_, service) in services where !hasOwnRecords(service, in: compiled) {
                    notes.append(
                        "\(origin): GSLB name \(WireName.toText(service.name)) has no records of its own in the zone file, so secondaries get only its \(policy.denial == .nsec ? "NSEC" : "NSEC3") record, whose types (\((gslbTypes[service.name] ?? []).map { $0 == DNSType.a ? "A" : $0 == DNSType.aaaa ? "AAAA" : "CNAME" }.joined(separator: " "))) they cannot answer: give it the records secondaries should serve"
                    )
                }
            }
            return try ZoneSigner.sign(
                compiled, keys: keys, policy: policy, now: epoch.start, gslbTypes: gslbTypes, answers: answers,
                resignAt: min(epoch.next, due ?? .max))
        } catch let error as DNSSECError {
            throw SourceProblem(declaredAt, "dnssec: \(error)")
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

    /// Whether the zone file has address or CNAME records at the service's name (what a secondary,
    /// which cannot steer, serves there).
    static func hasOwnRecords(_ service: CompiledService, in zone: CompiledZone) -> Bool {
        let node = service.name.withUnsafeBufferPointer { zone.find($0.baseAddress!, length: $0.count) }
        return node >= 0 && [DNSType.a, DNSType.aaaa, DNSType.cname].contains { zone.rrset(of: node, type: $0) >= 0 }
    }

    /// A service that answers some clients from the zone's own records at its name: those records must
    /// have the same address types as its pools, or the NSEC3 or NSEC of the name would lie to some clients.
    static func checkStaticTypes(_ service: CompiledService, in zone: CompiledZone, declaredAt: String, serviceTypes: [UInt16]) throws {
        let node = service.name.withUnsafeBufferPointer { zone.find($0.baseAddress!, length: $0.count) }
        guard node >= 0 else { return }
        for type in [DNSType.a, DNSType.aaaa, DNSType.cname] {
            let hasStatic = zone.rrset(of: node, type: type) >= 0
            guard hasStatic == serviceTypes.contains(type) else {
                throw SourceProblem(
                    service.spec.declaredAt,
                    "service \(WireName.toText(service.name)) answers some clients from the zone's records, which \(hasStatic ? "have" : "lack") \(type == DNSType.a ? "A" : type == DNSType.aaaa ? "AAAA" : "CNAME") records while its pools \(hasStatic ? "lack" : "have") them: in a signed zone (\(declaredAt)) every client must get the same types"
                )
            }
        }
    }

    /// The types a GSLB name answers, the same for every client; refused when clients could get
    /// different types (no single NSEC3 or NSEC type bitmap proves the absence of the others for all).
    static func answerTypes(_ service: CompiledService, declaredAt: String) throws -> [UInt16] {
        let pools = service.pools.prefix(service.regularPools)
        let cnames = pools.filter { $0.cnameOffset >= 0 }.count
        let name = WireName.toText(service.name)
        if cnames > 0 {
            guard cnames == pools.count else {
                throw SourceProblem(
                    service.spec.declaredAt,
                    "service \(name) mixes CNAME pools with address pools: in a signed zone (\(declaredAt)) every client must get the same types")
            }
            return [DNSType.cname]
        }
        var types: [UInt16] = []
        for type in [DNSType.a, DNSType.aaaa] where pools.contains(where: { $0.has(type) }) {
            guard pools.allSatisfy({ $0.has(type) }) else {
                throw SourceProblem(
                    service.spec.declaredAt,
                    "service \(name): some regions have no \(type == DNSType.a ? "A" : "AAAA") records: in a signed zone (\(declaredAt)) every region must answer the same types"
                )
            }
            types.append(type)
        }
        return types
    }
}
