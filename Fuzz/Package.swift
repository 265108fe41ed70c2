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
let cArchives: [LinkerSetting] = ["libldns.a", "libssl.a", "libcrypto.a", "libyaml.a"].map { .unsafeFlags(["-Xlinker", "-l:\($0)"]) }

/// Meridian's library products by name.
func meridian(_ names: String...) -> [Target.Dependency] { names.map { .product(name: $0, package: "Meridian") } }

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
        // the GSLB services FuzzQueryEngine and FuzzControl answer for
        .target(name: "FuzzFixtures", dependencies: meridian("Geo", "Steering")),
        .executableTarget(
            name: "FuzzQueryEngine",
            dependencies: ["FuzzSupport", "FuzzFixtures"]
                + meridian("DNSWire", "Zones", "Engine", "Steering", "Geo", "SourceFiles", "DNSSEC", "SnapshotAssembly", "Transfer"),
            linkerSettings: cArchives),
        .executableTarget(
            name: "FuzzControl",
            dependencies: ["FuzzSupport", "FuzzFixtures", .product(name: "Logging", package: "swift-log")]
                + meridian("SourceFiles", "Control", "Verdicts", "Engine", "Geo", "Steering", "Zones")
                + ["NIOCore", "NIOEmbedded", "NIOHTTP1"].map { .product(name: $0, package: "swift-nio") },
            linkerSettings: cArchives),
        .executableTarget(
            name: "FuzzLoaders",
            dependencies: ["FuzzSupport"] + meridian("Config", "Geo", "Zones"), linkerSettings: cArchives),
        .executableTarget(
            name: "FuzzDNSCheck",
            dependencies: ["FuzzSupport"] + meridian("Health")),
    ],
    swiftLanguageModes: [.v6]
)
