// swift-tools-version:6.0
// Measurement tools for Meridian, kept apart from the main package so that Sources/ holds the product only
// (see docs/PERFORMANCE.md):
//
//   AllocationGate  the query path must not allocate (DESIGN.md §3): counts mallocs per answered query
//                   (CMallocCounter interposes malloc & co.); `make alloc-gate`, `make microbench`
//   GeoLookupBench  ns per compiled geo-table lookup, IPv4 and IPv6 clients; `make microbench`
//
//   swift build -c release --package-path Benchmarks --product AllocationGate
//   MERIDIAN_GEOIP_DB=GeoLite2-City.mmdb Benchmarks/.build/release/AllocationGate   (from the repository root)
import PackageDescription

/// ldns (and the OpenSSL it calls) from its static archives, as the server links them (../Package.swift,
/// `staticC`); Meridian's CLDNS and CYAML module maps name no library.
let cArchives: [LinkerSetting] = ["libldns.a", "libssl.a", "libcrypto.a"].map { .unsafeFlags(["-Xlinker", "-l:\($0)"]) }

/// Meridian's library products by name.
func meridian(_ names: String...) -> [Target.Dependency] { names.map { .product(name: $0, package: "Meridian") } }

let package = Package(
    name: "MeridianBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Meridian", path: "..")
    ],
    targets: [
        .target(name: "CMallocCounter", linkerSettings: [.linkedLibrary("dl")]),
        .executableTarget(
            name: "AllocationGate",
            dependencies: ["CMallocCounter"] + meridian("DNSSEC", "DNSWire", "Engine", "Geo", "SourceFiles", "Steering", "Zones"),
            linkerSettings: cArchives),
        .executableTarget(
            name: "GeoLookupBench",
            dependencies: meridian("DNSWire", "Geo", "Steering")),
    ],
    swiftLanguageModes: [.v6]
)
