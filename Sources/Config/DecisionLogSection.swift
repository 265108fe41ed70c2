/// `decision_log:` the JSON-lines log of GSLB decisions (`file`, off unless set) and its sampling
/// (`sample`: one in N answers).
enum DecisionLogSection: ConfigSection {
    static let key = "decision_log"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        for (k, v) in try reader.mapping(node, "decision_log") {
            switch k {
            case "file": draft.config.decisionLog = try reader.optionalString(v, k).map { reader.resolve($0) }
            case "sample": draft.config.decisionLogSample = try reader.int(v, k, in: 1...1_000_000)
            default: throw reader.error(v, "unknown decision_log key '\(k)' (expected file, sample)")
            }
        }
    }
}
