// swift-tools-version:6.0
// Meridian: an authoritative DNS server that acts as a global server load balancer.
// Module graph (dependencies point one way): DNSWire <- Zones <- Engine <- Server <- meridian;
// Engine, Health <- Verdicts <- Control <- meridian;
// Config feeds SnapshotAssembly (config -> snapshot), which the executable calls. See docs/ARCHITECTURE.md.
import PackageDescription

/// Links C libraries from their static archives (`-l:libX.a`): only the objects the server calls are
/// linked, and none of the dynamic loader's per-library work (relocating a library's data, touching its
/// symbol tables) costs resident pages. Measured in docs/PERFORMANCE.md ("What limits each figure", RSS).
/// The libraries are load-time parsers (zone files, YAML); ldns's OpenSSL is only reached by DNSSEC code.
/// Unsafe flags, so set on the executable and test targets only, never on a library product another
/// package links: Fuzz/Package.swift and Benchmarks/Package.swift give their executables the same archives.
func staticC(_ archives: [String]) -> [LinkerSetting] {
    archives.map { .unsafeFlags(["-Xlinker", "-l:\($0)"]) }
}

/// The archives of the C libraries that CLDNS (ldns, with the OpenSSL it calls) and CYAML (libyaml)
/// wrap, in link order (a library before the ones it calls). Their module maps name no library.
let cArchives = ["libldns.a", "libssl.a", "libcrypto.a", "libyaml.a"]

/// Products of SwiftNIO by name (`nio("NIOCore", "NIOPosix")`), and the other packages' products.
func nio(_ names: String...) -> [Target.Dependency] { names.map { .product(name: $0, package: "swift-nio") } }
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let atomics: Target.Dependency = .product(name: "Atomics", package: "swift-atomics")
let nioSSL: Target.Dependency = .product(name: "NIOSSL", package: "swift-nio-ssl")

/// Swift settings every Swift target shares.
let common: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Meridian",
    platforms: [.macOS(.v15)],
    products: [.executable(name: "meridian", targets: ["meridian"])]
        + [
            "DNSWire", "Zones", "Engine", "Steering", "Geo", "SourceFiles", "Config", "Control", "Health", "SnapshotAssembly", "Verdicts", "DNSSEC", "Transfer",
            "Cluster",
        ]
        .map { .library(name: $0, targets: [$0]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // ldns (and the OpenSSL it calls), libyaml: the executable and the tests link their archives (cArchives).
        .systemLibrary(name: "CLDNS", providers: [.apt(["libldns-dev", "libssl-dev"])]),
        .systemLibrary(name: "CYAML", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CMaxMindDB", pkgConfig: "libmaxminddb", providers: [.apt(["libmaxminddb-dev"])]),
        .target(name: "SourceFiles"),
        .target(name: "CFileCopy"),
        .target(name: "Geo", dependencies: ["DNSWire", "CMaxMindDB", "CFileCopy", "SourceFiles"]),
        .target(name: "CSocket"),
        .target(name: "CProbe"),
        .target(name: "DNSWire"),
        .target(name: "Zones", dependencies: ["DNSWire", "CLDNS", "SourceFiles"]),
        .target(name: "Steering", dependencies: ["DNSWire", "Geo", "SourceFiles"]),
        // DNSSEC keys (BIND-format files) and signing, through ldns
        .target(name: "DNSSEC", dependencies: ["DNSWire", "Zones", "Steering", "CLDNS", "SourceFiles"]),
        .target(name: "Transfer", dependencies: ["DNSWire", "Zones", "Geo", "CLDNS"]),
        // Engine uses Synchronization (SnapshotStore) and Atomics (counters): each file sees the members of
        // its own imports only, or `UInt64.AtomicRepresentation` is ambiguous.
        .target(
            name: "Engine", dependencies: ["DNSWire", "Zones", "Steering", "Transfer", atomics],
            swiftSettings: [.enableUpcomingFeature("MemberImportVisibility")]),
        .target(
            name: "Health",
            dependencies: ["CProbe", "SourceFiles", nioSSL, logging]
                + nio("NIOCore", "NIOPosix", "NIOHTTP1", "NIOConcurrencyHelpers", "NIOTLS")),
        // health verdicts and overrides -> the snapshot's health table, and its publication
        .target(name: "Verdicts", dependencies: ["Engine", "Steering", "Health"]),
        // an NS set sharing verdicts and overrides through etcd (its v3 JSON gateway over NIO HTTP/1.1)
        .target(
            name: "Cluster",
            dependencies: ["Health", nioSSL, logging] + nio("NIOCore", "NIOPosix", "NIOHTTP1")),
        .target(name: "Config", dependencies: ["Steering", "Health", "SourceFiles", "Geo", "DNSWire", "CYAML"]),
        .target(
            name: "Server",
            dependencies: ["Engine", "DNSWire", "Transfer", "CSocket", atomics, logging]
                + nio("NIOCore", "NIOConcurrencyHelpers", "NIOPosix")),
        .target(
            name: "Control",
            dependencies: ["Engine", "Zones", "Verdicts", "Health", "Cluster", "Steering", "Geo", "DNSWire", "DNSSEC", "Transfer", "SourceFiles", logging]
                + nio("NIOCore", "NIOConcurrencyHelpers", "NIOPosix", "NIOHTTP1")),
        // config -> geo sources -> compiled services -> zones -> Snapshot, shared by every command and reload
        .target(
            name: "SnapshotAssembly",
            dependencies: ["Config", "Engine", "Zones", "Steering", "Geo", "DNSWire", "Health", "Verdicts", "DNSSEC", "Transfer", "SourceFiles", "CLDNS"]),
        .executableTarget(
            name: "meridian",
            dependencies: [
                "Server", "Engine", "Zones", "Config", "Steering", "Geo", "DNSWire", "Health", "Verdicts", "Control", "DNSSEC",
                "SnapshotAssembly", "SourceFiles", "Cluster", nioSSL, logging, .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ] + nio("NIOCore", "NIOPosix", "NIOHTTP1"), linkerSettings: staticC(cArchives)),
        .testTarget(name: "SourceFilesTests", dependencies: ["SourceFiles"]),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .target(name: "GSLBFixtures", dependencies: ["Engine", "Steering", "Geo"], path: "Tests/GSLBFixtures"),
        .testTarget(name: "DNSWireTests", dependencies: ["DNSWire", "TestSupport"]),
        .testTarget(name: "ZonesTests", dependencies: ["Zones", "DNSWire", "CLDNS"], linkerSettings: staticC(cArchives)),
        .testTarget(
            name: "EngineTests", dependencies: ["Engine", "Zones", "Steering", "Geo", "DNSWire", "CLDNS", "TestSupport", "GSLBFixtures"],
            linkerSettings: staticC(cArchives)),
        .testTarget(name: "ConfigTests", dependencies: ["Config"], linkerSettings: staticC(cArchives)),
        .testTarget(name: "SnapshotAssemblyTests", dependencies: ["SnapshotAssembly", "Config", "Engine"], linkerSettings: staticC(cArchives)),
        .testTarget(name: "GeoTests", dependencies: ["Geo", "TestSupport"]),
        .testTarget(
            name: "SteeringTests", dependencies: ["Steering", "Geo", "Engine", "Zones", "DNSWire", "TestSupport", "GSLBFixtures"],
            linkerSettings: staticC(cArchives)),
        .testTarget(name: "IntegrationTests", dependencies: ["TestSupport"]),
        .testTarget(
            name: "ControlTests",
            dependencies: ["Control", "Engine", "Verdicts", "Health", "Steering", "Zones", "Geo", "DNSSEC", logging]
                + nio("NIOCore", "NIOEmbedded", "NIOHTTP1")),
        .testTarget(name: "DNSSECTests", dependencies: ["DNSSEC", "Zones", "DNSWire", "CLDNS", "TestSupport"], linkerSettings: staticC(cArchives)),
        .testTarget(
            name: "TransferTests", dependencies: ["Transfer", "Zones", "DNSWire", "Geo", "CLDNS"], linkerSettings: staticC(cArchives)),
        .testTarget(name: "VerdictsTests", dependencies: ["Verdicts", "Engine", "Steering", "Health"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "Health"] + nio("NIOCore", "NIOPosix")),
        .testTarget(
            name: "HealthTests",
            dependencies: ["Health", nioSSL] + nio("NIOCore", "NIOPosix", "NIOConcurrencyHelpers")),
    ]
)

// Every Swift target: the shared settings.
for target in package.targets where target.type != .system {
    target.swiftSettings = common + (target.swiftSettings ?? [])
}
