/// `state_dir:` the directory for everything Meridian persists; a non-empty path without NUL bytes,
/// resolved from the config's directory. The overrides file and the control socket default into it.
enum StateDirSection: ConfigSection {
    static let key = "state_dir"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        let text = try reader.string(node, key)
        guard !text.isEmpty, !text.utf8.contains(0) else { throw reader.error(node, "state_dir must be a directory path") }
        draft.config.stateDir = reader.resolve(text)
    }
}
