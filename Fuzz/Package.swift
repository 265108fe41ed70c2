// swift-tools-version:6.0
// libFuzzer targets for Meridian (FuzzQueryEngine: packets; FuzzLoaders: zone files, config, CSV tables, .mmdb;
// FuzzControl: the control API's HTTP connections; FuzzDNSCheck: replies to the DNS health check), kept apart from the main package so that the sanitizer flags
// (-sanitize=fuzzer,address) never reach the server build. See Fuzz/run.sh and DESIGN.md §7.
//
//   Fuzz/run.sh build            # release build with libFuzzer + ASan
//   Fuzz/run.sh fuzz SECONDS [T] # fuzz target T (query-engine, zone, config, tables, mmdb, control, dns-check) on a copy of its corpus
//   Fuzz/run.sh replay           # run every corpus and regression input once (used by `make test`)
import PackageDescription

/// ldns (with the OpenSSL it calls) and libyaml from their static archives, as the server links them
/// (../Package.swift, `staticC`); Meridian's CLDNS and CYAML module maps name no library.
let cArchives: [LinkerSetting] = ["libldns.a", "libssl.a", "libcrypto.a", "libyaml.a"].map {
    .unsafeFlags(["-Xlinker", "-l:\($0)"])
}

let package = Package(
    name: "MeridianFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "Meridian", path: ".."),
        // the same packages Meridian resolves (the control target drives an EmbeddedChannel and a Logger)
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver"]),
        .executableTarget(
            name: "FuzzQueryEngine",
            dependencies: [
                "FuzzSupport",
                .product(name: "DNSWire", package: "Meridian"),
                .product(name: "Zones", package: "Meridian"),
                .product(name: "Engine", package: "Meridian"),
                .product(name: "Steering", package: "Meridian"),
                .product(name: "Geo", package: "Meridian"),
                .product(name: "SourceFiles", package: "Meridian"),
            ], linkerSettings: cArchives),
        .executableTarget(
            name: "FuzzControl",
            dependencies: [
                "FuzzSupport",
                .product(name: "SourceFiles", package: "Meridian"),
                .product(name: "Control", package: "Meridian"),
                .product(name: "Verdicts", package: "Meridian"),
                .product(name: "Engine", package: "Meridian"),
                .product(name: "Geo", package: "Meridian"),
                .product(name: "Steering", package: "Meridian"),
                .product(name: "Zones", package: "Meridian"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ], linkerSettings: cArchives),
        .executableTarget(
            name: "FuzzLoaders",
            dependencies: [
                "FuzzSupport",
                .product(name: "Config", package: "Meridian"),
                .product(name: "Geo", package: "Meridian"),
                .product(name: "Zones", package: "Meridian"),
            ], linkerSettings: cArchives),
        .executableTarget(
            name: "FuzzDNSCheck",
            dependencies: [
                "FuzzSupport",
                .product(name: "Health", package: "Meridian"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
