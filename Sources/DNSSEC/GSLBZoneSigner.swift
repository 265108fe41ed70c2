import DNSWire
import SourceFiles
import Steering
import Zones

/// A zone file signed together with the answers of its GSLB services (DESIGN.md §3: every answer a
/// client can get is signed before any query arrives): the services' names get NSEC3 or NSEC records
/// listing the one set of types they answer for every client, and each of their possible answer
/// RRsets gets its signatures, for `ZoneSigner` to put in the compiled zone.
///
/// Kept apart from the config (SnapshotAssembly's `ZoneSigning` reads `dnssec:` and the key
/// directory, then calls this), so that tools that build snapshots without a config sign exactly as
/// `serve` does.
public enum GSLBZoneSigner {
    /// The most RRsets one GSLB service may have signed (its `AnswerSet`s); a service that could give
    /// more answers is refused in a signed zone.
    public static let maxAnswerSets = 4096

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

    /// Whether the zone file has address or CNAME records at the service's name (what a secondary,
    /// which cannot steer, serves there).
    public static func hasOwnRecords(_ service: CompiledService, in zone: CompiledZone) -> Bool {
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
    public static func answerTypes(_ service: CompiledService, declaredAt: String) throws -> [UInt16] {
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
