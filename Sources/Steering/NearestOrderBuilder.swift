import Geo
#if canImport(Glibc)
import Glibc
#endif

/// `nearest`: a database record's order is the regions by great-circle distance from its coordinates
/// (plus the region's `bias`); records without coordinates take the map default.
struct NearestOrderBuilder: OrderBuilder {
    func build(_ orders: inout RegionOrders, _ inputs: OrderInputs) throws -> OrderPlan {
        let byRecord = NearestRecordOrders(inputs)
        return try DecisionTableBuilder.build(&orders, inputs) { r, orders in byRecord.order(record: r, &orders) }
    }
}

/// Database records ordered by distance (shared by `nearest` and `latency`).
struct NearestRecordOrders {
    let records: [GeoRecord]
    let defaultList: [Int32]

    init(_ inputs: OrderInputs) {
        records = inputs.tables.sources.database?.records ?? []
        defaultList = inputs.map.defaultList
    }

    func order(record r: Int, _ orders: inout RegionOrders) -> Int32 {
        orders.intern(Self.byDistance(records[r].latitude, records[r].longitude, orders) ?? orders.withFallback(defaultList))
    }

    /// The pools by distance plus bias from (lat, lon), ties by pool index; pools whose region has no
    /// coordinates follow. nil without coordinates or when no region has any.
    static func byDistance(_ lat: Double?, _ lon: Double?, _ orders: RegionOrders) -> [Int32]? {
        guard let lat, let lon else { return nil }
        let spec = orders.spec
        var scored: [(Double, Int32)] = []
        var unplaced: [Int32] = []
        for (i, pool) in spec.pools.enumerated() {
            if let r = orders.regionByName[pool.region], let rlat = r.latitude, let rlon = r.longitude {
                scored.append((greatCircleKm(lat, lon, rlat, rlon) + (spec.bias[pool.region] ?? 0), Int32(i)))
            } else {
                unplaced.append(Int32(i))
            }
        }
        guard !scored.isEmpty else { return nil }
        return scored.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map(\.1) + unplaced
    }
}

/// Great-circle distance in kilometres (haversine, mean Earth radius 6371 km).
public func greatCircleKm(_ lat1: Double, _ lon1: Double, _ lat2: Double, _ lon2: Double) -> Double {
    let r = Double.pi / 180
    let dlat = (lat2 - lat1) * r, dlon = (lon2 - lon1) * r
    let a = sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * r) * cos(lat2 * r) * sin(dlon / 2) * sin(dlon / 2)
    return 2 * 6371 * asin(min(1, sqrt(a)))
}
