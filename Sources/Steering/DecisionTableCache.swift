import Geo

/// The decision partitions of one build's services (control plane). A partition is a function of
/// the build's geo sources (database and global table, fixed per cache), the service's own networks
/// and the order each key maps to: services with the same pools and map produce identical ones and
/// share one copy of their arrays (with GeoLite2-City, some megabytes per service).
public final class DecisionTableCache {
    /// Everything a partition depends on besides `sources`.
    struct Key: Hashable {
        let family: Int
        let defaultOrder: Int32
        /// Order id per key: database records, global rows, then the service's rows.
        let keyOrder: [Int32]
        /// The service's own networks of this family and their keys.
        let networks: [IPPrefix]
        let networkKeys: [Int32]

        /// `keyOrder` (one entry per database record) is hashed as one run of bytes.
        func hash(into hasher: inout Hasher) {
            hasher.combine(family)
            hasher.combine(defaultOrder)
            keyOrder.withUnsafeBytes { hasher.combine(bytes: $0) }
            hasher.combine(networks)
            hasher.combine(networkKeys)
        }
    }

    public let sources: GeoSources
    /// The endpoint ids of the build's services.
    public let endpoints = EndpointIndex()
    private var tables: [Key: PrefixPartition] = [:]
    /// The database records' codes as numbers, for every geo service of the build (made at the first).
    lazy var recordCodes = RecordCodes(records: sources.database?.records ?? [])
    /// Partitions taken from the cache instead of built (tests read it).
    public private(set) var reused = 0

    public init(sources: GeoSources) { self.sources = sources }

    /// The partition for `key`: the cached one, else `build()`'s, cached.
    func table(for key: Key, build: () -> PrefixPartition) -> PrefixPartition {
        if let table = tables[key] { reused += 1; return table }
        let table = build()
        tables[key] = table
        return table
    }
}

/// The continent, country and subdivision codes of a database's records as small numbers: record
/// r's country is the code numbered `country[r]` in `countryNumbers` (-1: the record has none).
/// Geo services match records to map entries by these numbers, once per build, not by strings.
struct RecordCodes {
    var continent: [Int32] = [], country: [Int32] = [], subdivision: [Int32] = []
    var continentNumbers: [String: Int32] = [:], countryNumbers: [String: Int32] = [:], subdivisionNumbers: [String: Int32] = [:]

    init(records: [GeoRecord]) {
        func number(_ code: String?, _ numbers: inout [String: Int32]) -> Int32 {
            guard let code else { return -1 }
            if let n = numbers[code] { return n }
            let n = Int32(numbers.count)
            numbers[code] = n
            return n
        }
        for r in records {
            continent.append(number(r.continent, &continentNumbers))
            country.append(number(r.country, &countryNumbers))
            subdivision.append(number(r.subdivision, &subdivisionNumbers))
        }
    }
}
