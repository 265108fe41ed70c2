import Geo

/// `geo`: a database record's order is its subdivision's map entry, else its country's, else its
/// continent's, else the map default; CIDR tables override the database (`DecisionTableBuilder`).
struct GeoOrderBuilder: OrderBuilder {
    func build(_ orders: inout RegionOrders, _ inputs: OrderInputs) throws -> OrderPlan {
        let hasRecords = !(inputs.tables.sources.database?.records.isEmpty ?? true)
        var byRecord = GeoRecordOrders(inputs.map, codes: hasRecords ? inputs.tables.recordCodes : RecordCodes(records: []))
        return try DecisionTableBuilder.build(&orders, inputs) { r, orders in byRecord.order(record: r, &orders) }
    }
}

/// The map entries by code number (`RecordCodes`): a record's entry is found by its codes' numbers,
/// and an entry's order is interned once, at the first record that uses it.
struct GeoRecordOrders {
    /// Per code number of one level: `ids[n]` is -1 without a map entry, -2 for an entry not interned
    /// yet (its list in `lists[n]`), else the entry's order id.
    struct Level {
        var ids: [Int32]
        var lists: [[Int32]]

        init(_ entries: [String: [Int32]], _ numbers: [String: Int32]) {
            ids = [Int32](repeating: -1, count: numbers.count)
            lists = [[Int32]](repeating: [], count: numbers.count)
            for (code, list) in entries { if let n = numbers[code] { ids[Int(n)] = -2; lists[Int(n)] = list } }
        }

        /// The entry's order id if code number `n` has a map entry (interned at its first use).
        mutating func order(_ n: Int32, _ orders: inout RegionOrders) -> Int32? {
            guard n >= 0 else { return nil }
            let id = ids[Int(n)]
            if id >= 0 { return id }
            if id == -1 { return nil }
            let interned = orders.intern(orders.withFallback(lists[Int(n)]))
            ids[Int(n)] = interned
            return interned
        }
    }

    let codes: RecordCodes
    var subdivision: Level, country: Level, continent: Level
    let defaultList: [Int32]
    /// The map default's order id, once a record needed it.
    var defaultId: Int32?

    init(_ map: ResolvedMap, codes: RecordCodes) {
        self.codes = codes
        subdivision = Level(map.subdivision, codes.subdivisionNumbers)
        country = Level(map.country, codes.countryNumbers)
        continent = Level(map.continent, codes.continentNumbers)
        defaultList = map.defaultList
    }

    /// The order id of database record `r`: the most specific map entry of its codes, else the default.
    mutating func order(record r: Int, _ orders: inout RegionOrders) -> Int32 {
        if let id = subdivision.order(codes.subdivision[r], &orders) { return id }
        if let id = country.order(codes.country[r], &orders) { return id }
        if let id = continent.order(codes.continent[r], &orders) { return id }
        if let id = defaultId { return id }
        let id = orders.intern(orders.withFallback(defaultList))
        defaultId = id
        return id
    }
}
