/// A service's geo map with its region names resolved to pool indices (control plane). Every
/// service's map is resolved, whatever its policy, so a wrong name is an error naming its map key;
/// the default list also decides clients of `nearest` and `latency` without coordinates.
struct ResolvedMap {
    var continent: [String: [Int32]] = [:]
    var country: [String: [Int32]] = [:]
    var subdivision: [String: [Int32]] = [:]
    /// For clients no entry places; empty: the zone's static records.
    let defaultList: [Int32]

    init(_ map: GeoMapSpec, _ orders: RegionOrders) throws {
        for (key, list) in map.continent { continent[key] = try orders.resolve(list, "map continent \(key)") }
        for (key, list) in map.country { country[key] = try orders.resolve(list, "map country \(key)") }
        for (key, list) in map.subdivision { subdivision[key] = try orders.resolve(list, "map subdivision \(key)") }
        defaultList = try orders.resolve(map.defaultRegions, "map default")
    }
}
