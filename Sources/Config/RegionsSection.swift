import Steering

/// `regions:` region names in declared order, each optionally `{ location: [latitude, longitude] }`
/// in degrees (latitude within ±90, longitude within ±180); an empty value is a region without one.
enum RegionsSection: ConfigSection {
    static let key = "regions"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        for (name, v) in try reader.mapping(node, "regions") {
            var region = RegionSpec(name: name)
            if case .mapping = v.kind {
                for (k, field) in try reader.mapping(v, "region \(name)") {
                    switch k {
                    case "location":
                        let items = try reader.sequence(field, "location")
                        guard items.count == 2, let lat = Double(try reader.string(items[0], "latitude")),
                            let lon = Double(try reader.string(items[1], "longitude")),
                            (-90...90).contains(lat), (-180...180).contains(lon)
                        else {
                            throw reader.error(field, "location must be [latitude, longitude] in degrees")
                        }
                        region.latitude = lat
                        region.longitude = lon
                    default: throw reader.error(field, "unknown region key '\(k)' (expected location)")
                    }
                }
            } else if try reader.optionalString(v, "region \(name)") != nil {
                throw reader.error(v, "region \(name) must be a mapping such as { location: [lat, lon] }")
            }
            draft.config.regions.append(region)
        }
    }
}
