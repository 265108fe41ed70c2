/// A problem in one of the operator's files (configuration, zone, CIDR or latency table, database),
/// located where it is known: "file:line: reason", "file: reason", or the bare reason.
///
/// Every control-plane module reports load errors with this one type (Zones as `ZoneError`, Config
/// as `ConfigError`, Geo as `GeoError`, Steering as `SteeringError`, Health as `HealthConfigError`),
/// so a rejected reload prints the same shape whatever failed.
public struct SourceProblem: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file, or "" when none is known.
    public let file: String
    /// 1-based line, or 0 when the problem is not tied to a line.
    public let line: Int
    public let reason: String

    public init(file: String, line: Int = 0, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    /// From a location as the config loader records declarations ("file:line", "file" or "").
    public init(_ location: String, _ reason: String) {
        if let colon = location.lastIndex(of: ":"), let line = Int(location[location.index(after: colon)...]), line > 0 {
            self.init(file: String(location[..<colon]), line: line, reason: reason)
        } else {
            self.init(file: location, line: 0, reason: reason)
        }
    }

    /// "file:line", "file", or "".
    public var location: String { line > 0 ? "\(file):\(line)" : file }

    public var description: String { location.isEmpty ? reason : "\(location): \(reason)" }
}
