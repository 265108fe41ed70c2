import FoundationEssentials
import SourceFiles

/// Reads the YAML configuration (control plane). Every error names file:line; unknown keys are errors
/// (a typo must not silently fall back to a default). `${VAR}` and `${VAR:-default}` in scalar values
/// expand from the environment; relative paths are taken from the config file's directory.
///
/// `parse` only dispatches: each top-level key has its `ConfigSection` reader, and `ConfigDraft.finished`
/// applies the defaults and rules that span sections.
public enum ConfigLoader {
    /// Every top-level section, in the order the "unknown key" error lists them.
    static var sections: [any ConfigSection.Type] {
        [
            ListenSection.self, ZonesSection.self, IdentitySection.self, ServerSection.self, GeoSection.self,
            RegionsSection.self, ChecksSection.self, HealthSection.self, ControlSection.self, DecisionLogSection.self,
            StateDirSection.self, ServicesSection.self, TSIGKeysSection.self, RRLSection.self, CookiesSection.self, ClusterSection.self,
        ]
    }

    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MeridianConfig {
        let bytes: [UInt8]
        do { bytes = try SourceFile.readAll(path) } catch let problem as SourceProblem {
            throw ConfigError(file: path, line: 0, reason: problem.reason)
        }
        return try parse(String(decoding: bytes, as: UTF8.self), file: path, environment: environment)
    }

    public static func parse(_ text: String, file: String, environment: [String: String] = [:]) throws -> MeridianConfig {
        let root: YAMLNode
        do {
            guard let node = try YAMLDocumentParser.parse(text) else {
                throw ConfigError(file: file, line: 0, reason: "the file is empty")
            }
            root = node
        } catch let error as YAMLSyntaxError {
            throw ConfigError(file: file, line: error.line, reason: "YAML: \(error.description)")
        }
        let reader = NodeReader(file: file, environment: environment)
        var draft = ConfigDraft()
        draft.config.sourceFile = file
        for (key, value) in try reader.mapping(root, "the configuration") {
            guard let section = sections.first(where: { $0.key == key }) else {
                throw reader.error(value, "unknown key '\(key)' (expected \(sections.map { $0.key }.joined(separator: ", ")))")
            }
            try section.read(value, reader, into: &draft)
        }
        return try draft.finished(reader)
    }
}
