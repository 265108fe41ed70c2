// libFuzzer entry point for the packet parser and the query engine (DESIGN.md §7).
//
// Every input is one DNS message as it would arrive over UDP or TCP (without the TCP length prefix).
// It is answered twice, once per transport, against a snapshot built once from the acceptance
// fixture zone (delegation with glue, wildcard, CNAME chains, an empty non-terminal, RRsets too large
// for UDP) plus GSLB services of every policy (`GSLBFixture.services`: geo over a CIDR table, nearest,
// failover with a region down, weighted, all, hash, CNAME pools, all-down fallback), from a client
// address picked by the query ID. It is answered again by the same zone signed (the services that a
// signed zone accepts, a temporary key), where queries with DO=1 get signatures and NSEC3 proofs; and
// a transfer request (AXFR, IXFR) goes through the zone transfer path too (ACL, TSIG, the messages).
// Address sanitizer catches memory errors; the checks below trap on wrong responses.
import FuzzFixtures
import FuzzSupport
import DNSSEC
import DNSWire
import Engine
import Geo
import SnapshotAssembly
import SourceFiles
import Steering
import Transfer
import Zones

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The fixture zone (Tests/Fixtures/zones/gslb.test.zone, a copy of the acceptance kit's), found next
/// to this source file at build time, or at $MERIDIAN_FUZZ_ZONE.
let fixtureZone: String = {
    let path =
        getenv("MERIDIAN_FUZZ_ZONE").map { String(cString: $0) }
        ?? (String(#filePath).split(separator: "/").dropLast(4).map(String.init).reduce("") { $0 + "/" + $1 } + "/Tests/Fixtures/zones/gslb.test.zone")
    guard let bytes = try? SourceFile.readAll(path) else { fatalError("fuzz setup: cannot read \(path)") }
    return String(decoding: bytes, as: UTF8.self)
}()

/// Our EDNS UDP payload size in the snapshot; UDP answers never exceed it (RFC 6891 §6.2.5).
let udpPayloadSize: UInt16 = 1232
let capacity = 65535

/// State built on the first input and kept for the whole run (libFuzzer calls us on one thread).
final class Harness {
    let snapshot: Snapshot
    /// The zone signed (NSEC3 denial), with the services a signed zone accepts.
    let signedSnapshot: Snapshot
    /// The same signed with NSEC denial.
    let nsecSnapshot: Snapshot
    /// Transfers allowed from 127.0.0.0/8 and with the key `xfr`.
    static let transferRules = TransferRules(
        zones: [
            WireName.fromText("gslb.test.")!: TransferRules.Zone(
                allow: [TransferACL(network: IPPrefix.parse("127.0.0.0/8"), key: nil), TransferACL(network: nil, key: "xfr")], notify: [])
        ],
        keys: [TSIGKey(name: "xfr", algorithm: "hmac-sha256", secret: "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0")])
    let processor: QueryProcessor = {
        let p = QueryProcessor()
        p.rateLimiter = ResponseRateLimiter(capacity: 256, seed: 1)
        p.keepaliveTimeout = 100
        return p
    }()
    /// Inputs seen: the processor's clock advances a second every 64 of them (token refills).
    var inputs: UInt32 = 0
    let response = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    // initialised: the parser's lower-casing reads whole words past the name
    let qname = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 256); p.initialize(repeating: 0, count: 256); return p
    }()
    let qnameLower = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 256); p.initialize(repeating: 0, count: 256); return p
    }()
    let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    /// MERIDIAN_FUZZ_VERBOSE=1: print a summary of each answer (for reading a corpus or a crash input).
    let verbose = getenv("MERIDIAN_FUZZ_VERBOSE") != nil

    init() {
        var template = Array("/tmp/meridian-fuzz-zone-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { fatalError("fuzz setup: mkstemp failed") }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let bytes = Array(fixtureZone.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        close(fd)
        guard written == bytes.count else { fatalError("fuzz setup: short write to \(path)") }
        var networksTemplate = Array("/tmp/meridian-fuzz-networks-XXXXXX".utf8CString)
        let nfd = networksTemplate.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard nfd >= 0 else { fatalError("fuzz setup: mkstemp failed") }
        let networksPath = networksTemplate.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let table = Array(GSLBFixture.networks.utf8)
        let tableWritten = table.withUnsafeBytes { write(nfd, $0.baseAddress!, $0.count) }
        close(nfd)
        guard tableWritten == table.count else { fatalError("fuzz setup: short write to \(networksPath)") }
        defer {
            unlink(path)
            unlink(networksPath)
        }
        do {
            let services = try GSLBFixture.services(networksPath: networksPath)
            let zone = try ZoneCompiler.load(path: path, origin: "gslb.test.", extraOwners: services.map(\.name))
            let identity = ServerIdentity(
                version: "meridian-fuzz 1.0", id: "fuzz-1.example",
                nsid: Array("fuzz-nsid".utf8))
            // failover's first region is down, so answers there come from the next one (degraded TTL)
            let health = HealthTable(
                up: services.map { s in
                    s.name == Harness.failoverName
                        ? [false] + [Bool](repeating: true, count: s.pools.count - 1)
                        : [Bool](repeating: true, count: s.pools.count)
                },
                addressUp: services.map { [Bool](repeating: true, count: $0.weights.count) },
                degraded: services.map { $0.name == Harness.failoverName })
            // cookies and response rate limiting on (a low rate, so that inputs reach the limited, slipped
            // and BADCOOKIE paths as well as the answers), one network exempt
            snapshot = try Snapshot(
                zones: [zone], services: services, health: health, identity: identity,
                udpPayloadSize: udpPayloadSize,
                cookies: ServerCookies(enabled: true, secret: ServerCookies.Secret(hex: "000102030405060708090a0b0c0d0e0f")!),
                rateLimit: RateLimitPolicy(
                    rate: 20, slip: 2, badCookieSlip: true, exempt: [(network: IPAddress(family: .v4, value: 0xC000_0200), length: 24)]))
            // a signed zone refuses services whose clients could get different types: sign the others
            let now = Int64(time(nil))
            let key = try ZoneKey.generate(
                zone: "gslb.test.", algorithm: .ecdsap256sha256, role: .csk, timing: KeyTiming(created: now, publish: now, activate: now))
            var notes: [String] = []
            var signable: [CompiledService] = []
            for service in services {
                if (try? GSLBZoneSigner.sign(
                    path: path, origin: "gslb.test.", owners: [service.name], services: [(0, service)], keys: [key],
                    policy: SigningPolicy(), now: now, declaredAt: "fuzz", notes: &notes)) != nil
                {
                    signable.append(service)
                }
            }
            guard signable.count >= 3 else { fatalError("fuzz setup: only \(signable.count) services can be signed") }
            let signed = try GSLBZoneSigner.sign(
                path: path, origin: "gslb.test.", owners: signable.map(\.name),
                services: signable.enumerated().map { ($0.offset, $0.element) }, keys: [key], policy: SigningPolicy(), now: now,
                declaredAt: "fuzz", notes: &notes)
            signedSnapshot = try Snapshot(
                zones: [signed], services: signable, identity: identity, udpPayloadSize: udpPayloadSize,
                transfer: Harness.transferRules)
            var nsec = SigningPolicy()
            nsec.denial = .nsec
            let nsecSigned = try GSLBZoneSigner.sign(
                path: path, origin: "gslb.test.", owners: signable.map(\.name),
                services: signable.enumerated().map { ($0.offset, $0.element) }, keys: [key], policy: nsec, now: now,
                declaredAt: "fuzz", notes: &notes)
            nsecSnapshot = try Snapshot(zones: [nsecSigned], services: signable, identity: identity, udpPayloadSize: udpPayloadSize)
        } catch {
            fatalError("fuzz setup: cannot load the fixture zone: \(error)")
        }
    }

    static let failoverName = [UInt8]([2]) + Array("fo".utf8) + [4] + Array("gslb".utf8) + [4] + Array("test".utf8) + [0]

    /// Clients the query ID picks from: inside and outside every table entry, v4 and v6.
    static let clients: [IPAddress?] = [
        IPAddress(family: .v4, value: 0xC633_6407), // 198.51.100.7
        IPAddress(family: .v4, value: 0xC000_0205), // 192.0.2.5
        IPAddress(family: .v4, value: 0xCB00_71F0), // 203.0.113.240
        IPAddress(family: .v4, value: 0x0A01_0203), // 10.1.2.3
        IPAddress(family: .v4, value: 0x0808_0808), // 8.8.8.8
        IPAddress(family: .v6, value: 0x2001_0DB8_0001_0000_0000_0000_0000_0001), // 2001:db8:1::1
        IPAddress(family: .v6, value: 0x2001_0DB8_00FF_0000_0000_0000_0000_0001), // 2001:db8:ff::1
        IPAddress(family: .v6, value: 0x2A00_1450_0000_0000_0000_0000_0000_200E), // 2a00:1450::200e
    ]

    /// Answers `query` over `transport` and checks what must hold for every input.
    func check(_ query: UnsafeRawBufferPointer, transport: Transport, udpLimit: Int, snapshot: Snapshot) {
        let client = Harness.clients[query.count >= 2 ? Int(query[1]) % Harness.clients.count : 0]
        let length = processor.process(
            query: query, response: response, capacity: capacity,
            transport: transport, client: client, snapshot: snapshot)
        guard length >= 0, length <= capacity else {
            fatalError("invariant: response length \(length) outside 0...\(capacity) (\(transport))")
        }
        if verbose { describe(length: length, transport: transport) }
        guard length > 0 else { return }
        guard length >= WireLimits.headerLength else {
            fatalError("invariant: response of \(length) octets is shorter than a header (\(transport))")
        }
        guard query.count >= 2, response[0] == query[0], response[1] == query[1] else {
            fatalError("invariant: response ID does not echo the query ID (\(transport))")
        }
        guard response[2] & 0x80 != 0 else {
            fatalError("invariant: QR bit clear in a response (\(transport))")
        }
        if transport == .udp, length > udpLimit {
            fatalError("invariant: UDP response of \(length) octets exceeds \(udpLimit) (\(transport))")
        }
    }

    func describe(length: Int, transport: Transport) {
        guard length >= WireLimits.headerLength else {
            print("\(transport): no answer (\(length) octets)")
            return
        }
        func word(_ i: Int) -> Int { Int(response[i]) << 8 | Int(response[i + 1]) }
        let flags = word(2)
        print(
            "\(transport): \(length) octets, id \(word(0)), flags 0x\(String(flags, radix: 16)), "
                + "rcode \(flags & 0xF), qd \(word(4)) an \(word(6)) ns \(word(8)) ar \(word(10))")
    }

    func run(_ query: UnsafeRawBufferPointer) {
        // UDP size limit the answer must respect: 512 without EDNS (RFC 1035 §4.2.1), else at most
        // our payload size. Error answers (header + question) are always below 512.
        inputs &+= 1
        processor.now = 1_800_000_000 &+ inputs / 64
        var q = ParsedQuery()
        _ = QueryParser.parse(query, into: &q, qname: qname, qnameLower: qnameLower, scratch: scratch)
        let udpLimit = q.hasEDNS ? Int(udpPayloadSize) : WireLimits.classicUDPSize
        for snapshot in [snapshot, signedSnapshot, nsecSnapshot] {
            check(query, transport: .udp, udpLimit: udpLimit, snapshot: snapshot)
            check(query, transport: .tcp, udpLimit: capacity, snapshot: snapshot)
        }
        if ZoneTransfer.isTransfer(query) { transfer(query) }
    }

    /// A transfer request through the TCP path's transfer handling: every message a DNS message of at
    /// most 65535 octets with the request's ID and QR set; the stream ends.
    func transfer(_ query: UnsafeRawBufferPointer) {
        // even IDs from loopback (inside the ACL), odd ones from the usual clients (only a key lets them in)
        let loopback = IPAddress(family: .v4, value: 0x7F00_0001)
        let client = query[1] & 1 == 0 ? loopback : Harness.clients[Int(query[1]) % Harness.clients.count] ?? loopback
        let stream = ZoneTransfer.respond(
            query: Array(query), client: client, zones: signedSnapshot.zones, rules: Harness.transferRules, now: Int64(time(nil)))
        var messages = 0
        while let message = stream.next() {
            messages += 1
            guard messages < 10_000 else { fatalError("invariant: a transfer stream does not end") }
            guard message.count >= WireLimits.headerLength, message.count <= capacity else {
                fatalError("invariant: transfer message of \(message.count) octets")
            }
            guard message[0] == query[0], message[1] == query[1], message[2] & 0x80 != 0 else {
                fatalError("invariant: transfer message without the request's ID or QR")
            }
        }
        if verbose { print("transfer: \(messages) message(s), rcode \(stream.responseCode)") }
    }
}

/// Built on the first input (a lazy global) and kept for the whole run; libFuzzer calls on one thread.
nonisolated(unsafe) let harness = Harness()

/// SwiftPM links executables on Linux with `--defsym main=FuzzQueryEngine_main`: libFuzzer runs from here
/// (see FuzzSupport's `runFuzzer`).
@_cdecl("FuzzQueryEngine_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { harness.run($0) }
}
