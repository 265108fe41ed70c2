/// One top-level section of the configuration file: its key and how its node is read into a draft.
///
/// `ConfigLoader.sections` lists every section in the order the "unknown key" error names them.
/// A section is read at most once per file: `NodeReader.mapping` refuses a duplicate top-level key.
protocol ConfigSection {
    /// The section's top-level key.
    static var key: String { get }
    /// Reads the section's node into `draft`; every error names file:line.
    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws
}
