/// `health:` where admin overrides persist, what a corrupt state file does, and the endpoints' state
/// before their first check result (`initial: wait | up | down`, `wait_first_round`).
enum HealthSection: ConfigSection {
    static let key = "health"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        for (k, v) in try reader.mapping(node, "health") {
            switch k {
            case "state_file":
                draft.stateFile = .some(try reader.optionalString(v, k).map { reader.resolve($0) })
            case "strict_state_file": draft.config.strictStateFile = try reader.bool(v, k)
            case "wait_first_round": draft.config.waitForFirstRound = try reader.bool(v, k)
            case "initial":
                // wait: GSLB answers wait for one round of checks (bounded); up / down: start so
                let text = try reader.string(v, k)
                switch text {
                case "wait": draft.config.waitForFirstRound = true
                case "up", "down": draft.config.waitForFirstRound = false; draft.config.initialState = text
                default: throw reader.error(v, "initial must be wait, up or down")
                }
            default: throw reader.error(v, "unknown health key '\(k)' (expected state_file, strict_state_file, wait_first_round, initial)")
            }
        }
    }
}
