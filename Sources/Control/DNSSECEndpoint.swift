import DNSSEC
import Engine

#if canImport(Glibc)
import Glibc
#endif

extension ControlEndpoints {
    /// `GET /v1/dnssec`: per signed zone, its serial, when its earliest signature expires and when it is
    /// signed again (from the snapshot being served), and its keys as the key directory holds them now
    /// (`KeyStatus`; a directory that cannot be read gives an `error` and no keys).
    func dnssec() -> JSONValue {
        let (snapshot, _) = context.store.current()
        let now = Int64(time(nil))
        let zones: [JSONValue] = context.keyDirectories.map { origin, directory in
            var entry: [String: JSONValue] = ["zone": .string(origin), "key_directory": .string(directory)]
            if let zone = snapshot.zones.first(where: { $0.originText == origin }) {
                entry["serial"] = .int(Int(zone.serial))
                if let signatures = zone.signatures {
                    entry["signatures_expire"] = .string(KeyTime.format(signatures.expires))
                    entry["signed_again"] = .string(KeyTime.format(signatures.resignAt))
                    entry["denial"] = .string(signatures.tables.usesNSEC ? "nsec" : "nsec3")
                }
            }
            do {
                entry["keys"] = .array(
                    try KeyStatus.list(zone: origin, directory: directory, now: now).map { key in
                        [
                            "file": .string(key.baseName), "algorithm": .string(key.algorithm), "role": .string(key.role),
                            "tag": .int(Int(key.tag)), "state": .string(key.state), "ds_seen": key.dsSeen.map { .string(KeyTime.format($0)) } ?? .null,
                            "events": .object(Dictionary(key.events.map { ($0.name, JSONValue.string(KeyTime.format($0.time))) }) { a, _ in a }),
                            "summary": .string(key.summary),
                        ]
                    })
            } catch {
                entry["error"] = .string("\(error)")
            }
            return .object(entry)
        }
        return ["zones": .array(zones)]
    }
}
