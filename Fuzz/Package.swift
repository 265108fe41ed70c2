// swift-tools-version:6.0
// libFuzzer targets for Meridian (FuzzQueryEngine: packets; FuzzLoaders: zone files, config, CSV tables, .mmdb), kept apart from the main package so that the sanitizer flags
// (-sanitize=fuzzer,address) never reach the server build. See Fuzz/run.sh and DESIGN.md §7.
//
//   Fuzz/run.sh build            # release build with libFuzzer + ASan
//   Fuzz/run.sh fuzz SECONDS [T] # fuzz target T (query-engine, zone, config, tables, mmdb) on a copy of its corpus
//   Fuzz/run.sh replay           # run every corpus and regression input once (used by `make test`)
import PackageDescription

let package = Package(
    name: "MeridianFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Meridian", path: ".."),
    ],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(name: "FuzzQueryEngine", dependencies: [
            "CFuzzerDriver",
            .product(name: "DNSWire", package: "Meridian"),
            .product(name: "Zones", package: "Meridian"),
            .product(name: "Engine", package: "Meridian"),
            .product(name: "Steering", package: "Meridian"),
            .product(name: "Geo", package: "Meridian"),
            .product(name: "SourceFiles", package: "Meridian"),
        ]),
        .executableTarget(name: "FuzzLoaders", dependencies: [
            "CFuzzerDriver",
            .product(name: "Config", package: "Meridian"),
            .product(name: "Geo", package: "Meridian"),
            .product(name: "Zones", package: "Meridian"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
