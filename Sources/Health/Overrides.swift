import FoundationEssentials
import Glibc
import NIOConcurrencyHelpers

/// An operator's override of health: force up, force down, or drain (out of answers, still probed).
public enum OverrideState: String, Sendable, Codable, CaseIterable {
    case up, down, drain
}

/// What an override applies to: one endpoint address, a region (in every service, or in one), or
/// a whole service.
public struct OverrideTarget: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Scope: String, Sendable, Codable { case endpoint, region, service }
    public let scope: Scope
    /// Address (endpoint), region name (region), or service name (service).
    public let name: String
    /// For a region: limit to this service (nil = every service).
    public let service: String?

    public init(scope: Scope, name: String, service: String? = nil) {
        self.scope = scope
        self.name = name
        self.service = service.map { $0.hasSuffix(".") ? $0.lowercased() : $0.lowercased() + "." }
    }

    public var description: String {
        switch scope {
        case .endpoint: return "endpoint \(name)"
        case .region: return service.map { "region \(name) of \($0)" } ?? "region \(name)"
        case .service: return "service \(name)"
        }
    }
}

/// The overrides in force, persisted to a JSON state file (written atomically) so that they survive
/// restarts. Thread-safe.
public final class OverrideStore: @unchecked Sendable {
    struct Entry: Codable {
        let target: OverrideTarget
        let state: OverrideState
    }

    public let path: String?
    private let lock = NIOLock()
    private var entries: [OverrideTarget: OverrideState] = [:]

    /// Loads `path` if it exists (a missing file is an empty store).
    public init(path: String?) throws {
        self.path = path
        if let path, let data = FileManager.default.contents(atPath: path), !data.isEmpty {
            do {
                for e in try JSONDecoder().decode([Entry].self, from: data) { entries[e.target] = e.state }
            } catch {
                throw HealthConfigError(path, "override state file is not valid: \(error)")
            }
        }
    }

    public var current: [OverrideTarget: OverrideState] { lock.withLock { entries } }

    /// Sets (or with nil clears) an override and persists the store.
    public func set(_ target: OverrideTarget, _ state: OverrideState?) throws {
        let snapshot: [OverrideTarget: OverrideState] = lock.withLock {
            entries[target] = state
            return entries
        }
        guard let path else { return }
        let list = snapshot.map { Entry(target: $0.key, state: $0.value) }.sorted { $0.target.description < $1.target.description }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(list)
        let tmp = path + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: data) else {
            throw HealthConfigError(path, "cannot write the override state file")
        }
        if rename(tmp, path) != 0 { throw HealthConfigError(path, "cannot replace the override state file") }
    }
}
