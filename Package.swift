// swift-tools-version:6.0
// Meridian: an authoritative DNS server that acts as a global server load balancer.
// Module graph (dependencies point one way): DNSWire <- Zones <- Engine <- Server <- meridian;
// Config feeds the executable only. See docs/ARCHITECTURE.md.
import PackageDescription

/// Links C libraries from their static archives (`-l:libX.a`): only the objects the server calls are
/// linked, and none of the dynamic loader's per-library work (relocating a library's data, touching its
/// symbol tables) costs resident pages. Measured in docs/PERFORMANCE.md ("What limits each figure", RSS).
/// The libraries are load-time parsers (zone files, YAML); ldns's OpenSSL is only reached by DNSSEC code.
func staticC(_ archives: [String]) -> [LinkerSetting] {
    archives.map { .unsafeFlags(["-Xlinker", "-l:\($0)"]) }
}

let package = Package(
    name: "Meridian",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "meridian", targets: ["meridian"]),
        .library(name: "DNSWire", targets: ["DNSWire"]),
        .library(name: "Zones", targets: ["Zones"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Steering", targets: ["Steering"]),
        .library(name: "Geo", targets: ["Geo"]),
        .library(name: "SourceFiles", targets: ["SourceFiles"]),
        .library(name: "Config", targets: ["Config"]),
        .library(name: "Control", targets: ["Control"]),
        .library(name: "Health", targets: ["Health"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // ldns (and the OpenSSL it calls), libyaml: linked from their static archives (see staticC above).
        .systemLibrary(name: "CLDNS", providers: [.apt(["libldns-dev", "libssl-dev"])]),
        .systemLibrary(name: "CYAML", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CMaxMindDB", pkgConfig: "libmaxminddb", providers: [.apt(["libmaxminddb-dev"])]),
        .target(name: "SourceFiles"),
        .target(name: "CFileCopy"),
        .target(name: "Geo", dependencies: ["DNSWire", "CMaxMindDB", "CFileCopy", "SourceFiles"]),
        .target(name: "CSocket"),
        .target(name: "CProbe"),
        .target(name: "DNSWire"),
        .target(name: "Zones", dependencies: ["DNSWire", "CLDNS", "SourceFiles"],
                linkerSettings: staticC(["libldns.a", "libssl.a", "libcrypto.a"])),
        .target(name: "Steering", dependencies: ["DNSWire", "Geo", "SourceFiles"]),
        .target(name: "Engine", dependencies: ["DNSWire", "Zones", "Steering", .product(name: "Atomics", package: "swift-atomics")]),
        .target(name: "Health", dependencies: [
            "CProbe", "SourceFiles",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Config", dependencies: ["Steering", "Health", "SourceFiles", "CYAML"],
                linkerSettings: staticC(["libyaml.a"])),
        .target(name: "Server", dependencies: [
            "Engine", "CSocket",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Atomics", package: "swift-atomics"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Control", dependencies: [
            "Engine", "Server", "Health", "Steering", "Geo", "DNSWire", "SourceFiles",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "meridian", dependencies: [
            "Server", "Engine", "Zones", "Config", "Steering", "Geo", "DNSWire", "Health", "Control",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SourceFilesTests", dependencies: ["SourceFiles"]),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "DNSWireTests", dependencies: ["DNSWire", "TestSupport"]),
        .testTarget(name: "ZonesTests", dependencies: ["Zones", "CLDNS"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Zones", "DNSWire", "CLDNS", "TestSupport"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config"]),
        .testTarget(name: "GeoTests", dependencies: ["Geo", "TestSupport"]),
        .testTarget(name: "SteeringTests", dependencies: ["Steering", "Geo", "Engine", "Zones", "DNSWire", "TestSupport"]),
        .testTarget(name: "IntegrationTests", dependencies: []),
        .testTarget(name: "HealthTests", dependencies: [
            "Health",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)

// Allocation gate (DESIGN.md §3): `swift build -c release --product AllocationGate` then run
// .build/release/AllocationGate GeoLite2-City.mmdb; CMallocCounter interposes malloc & co. in it.
package.targets += [
    .target(name: "CMallocCounter", linkerSettings: [.linkedLibrary("dl")]),
    .executableTarget(name: "AllocationGate", dependencies: ["Engine", "Zones", "Steering", "Geo", "DNSWire", "SourceFiles", "CMallocCounter"]),
]

// Geo lookup micro-benchmark (`make microbench`): ns per compiled-table lookup, IPv4 and IPv6 clients.
package.targets += [
    .executableTarget(name: "GeoLookupBench", dependencies: ["DNSWire", "Geo", "Steering", "TestSupport"]),
]
