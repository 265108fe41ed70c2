import SourceFiles
#if canImport(Glibc)
import Glibc
#endif

/// One row of an operator's CIDR table: a network and the values on its line.
public struct NetworkEntry: Sendable, Equatable {
    public let prefix: IPPrefix
    public let values: [String]
    public let file: String
    public let line: Int
}

/// The operator's own CIDR tables in `geoip/` (CSV). Two shapes:
/// - region table: `network,region[,region...]` — a region or an ordered region list per network;
/// - latency table: a header `network,REGION,REGION,...` then `network,RTT,RTT,...` in milliseconds
///   (an empty cell means "not measured").
/// `#` starts a comment line. Errors carry file:line.
public enum NetworkTable {
    public static func readRegionTable(path: String) throws -> [NetworkEntry] {
        var out: [NetworkEntry] = []
        for (line, fields) in try rows(path: path) {
            guard let prefix = IPPrefix.parse(fields[0]) else {
                throw GeoError(file: path, line: line, reason: "'\(fields[0])' is not a network in CIDR form with zero host bits")
            }
            let regions = fields.dropFirst().flatMap { $0.split(separator: " ").map(String.init) }.filter { !$0.isEmpty }
            guard !regions.isEmpty else { throw GeoError(file: path, line: line, reason: "no region for \(prefix)") }
            out.append(NetworkEntry(prefix: prefix, values: regions, file: path, line: line))
        }
        return out
    }

    /// Returns the region names of the header and, per network, the RTT per region (nil = unmeasured).
    public static func readLatencyTable(path: String) throws -> (regions: [String], rows: [(NetworkEntry, [Double?])], headerLine: Int) {
        var header: [String]?
        var headerLine = 0
        var out: [(NetworkEntry, [Double?])] = []
        for (line, fields) in try rows(path: path) {
            guard let regions = header else {
                guard fields.count >= 2 else { throw GeoError(file: path, line: line, reason: "header must be network,REGION,...") }
                header = Array(fields.dropFirst())
                headerLine = line
                continue
            }
            guard let prefix = IPPrefix.parse(fields[0]) else {
                throw GeoError(file: path, line: line, reason: "'\(fields[0])' is not a network in CIDR form with zero host bits")
            }
            guard fields.count - 1 <= regions.count else {
                throw GeoError(file: path, line: line, reason: "\(fields.count - 1) values for \(regions.count) regions")
            }
            var rtts: [Double?] = []
            for (i, cell) in fields.dropFirst().enumerated() {
                if cell.isEmpty { rtts.append(nil); continue }
                guard let v = Double(cell), v >= 0 else {
                    throw GeoError(file: path, line: line, reason: "RTT '\(cell)' for \(regions[i]) is not a number of milliseconds")
                }
                rtts.append(v)
            }
            while rtts.count < regions.count { rtts.append(nil) }
            out.append((NetworkEntry(prefix: prefix, values: [], file: path, line: line), rtts))
        }
        return (header ?? [], out, headerLine)
    }

    /// Non-empty, non-comment lines split on commas, fields trimmed, with 1-based line numbers.
    static func rows(path: String) throws -> [(Int, [String])] {
        let bytes = try SourceFile.readAll(path)
        var out: [(Int, [String])] = []
        for (i, raw) in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = raw.trimmingWhitespace()
            if text.isEmpty || text.hasPrefix("#") { continue }
            out.append((i + 1, text.split(separator: ",", omittingEmptySubsequences: false).map { String($0.trimmingWhitespace()) }))
        }
        return out
    }
}
