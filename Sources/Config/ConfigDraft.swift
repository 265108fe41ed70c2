/// A configuration being read: the values of the sections read so far, plus what the defaults and
/// rules that span sections need (where a key was written, and whether it was written at all).
struct ConfigDraft {
    var config = MeridianConfig()
    /// Where `control:` is, for errors about it.
    var controlNode: YAMLNode?
    /// `control.socket` as written: nil when not written, `.some(nil)` when turned off.
    var controlSocket: String??
    /// `health.state_file` as written: nil when not written, `.some(nil)` for `~` (memory only).
    var stateFile: String??

    /// The finished configuration: defaults that depend on `state_dir` filled in, then the rules that
    /// span sections checked (zones present and declared once, a non-loopback control API has a
    /// token, every pool's check is defined).
    func finished(_ reader: NodeReader) throws -> MeridianConfig {
        var config = self.config
        let file = reader.file
        guard !config.zones.isEmpty else { throw ConfigError(file: file, line: 0, reason: "no zones configured") }
        config.stateFile = stateFile ?? config.stateDir + "/overrides.json"
        config.controlSocket = controlSocket ?? config.stateDir + "/control.sock"
        // writes open to the network are refused (a token is required off loopback); on loopback,
        // serve warns that any local user may write
        if let listen = config.controlListen, config.controlToken == nil, !listen.isLoopback, let node = controlNode {
            throw reader.error(node, "control.listen \(listen) is not a loopback address and no control.token is set: writes would be open to the network")
        }
        let checkNames = Set(config.checks.map(\.name))
        for service in config.services {
            for pool in service.pools {
                if let check = pool.check, !checkNames.contains(check) {
                    throw ConfigError(
                        file: file, line: Int(pool.declaredAt.split(separator: ":").last ?? "0") ?? 0,
                        reason: "pool \(pool.region) of \(service.name) uses check '\(check)', which is not defined under checks")
                }
            }
        }
        var seen: [String: String] = [:]
        for zone in config.zones {
            let key = zone.origin.lowercased()
            if let first = seen[key] {
                throw ConfigError(
                    file: file, line: Int(zone.declaredAt.split(separator: ":").last ?? "0") ?? 0,
                    reason: "zone \(zone.origin) declared twice (first at \(first))")
            }
            seen[key] = zone.declaredAt
            let keyNames = Set(config.tsigKeys.map { $0.name.lowercased() })
            let used = (zone.transfer?.allow.compactMap(\.key) ?? []) + (zone.transfer?.notify.compactMap(\.key) ?? [])
            if let missing = used.first(where: { !keyNames.contains($0.lowercased()) }) {
                throw ConfigError(
                    file: file, line: Int(zone.transfer?.declaredAt.split(separator: ":").last ?? "0") ?? 0,
                    reason: "zone \(zone.origin) transfer uses TSIG key '\(missing)', which is not defined under tsig_keys")
            }
        }
        return config
    }
}
