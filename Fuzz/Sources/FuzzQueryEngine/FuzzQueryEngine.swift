// libFuzzer entry point for the packet parser and the query engine (DESIGN.md §7).
//
// Every input is one DNS message as it would arrive over UDP or TCP (without the TCP length prefix).
// It is answered twice, once per transport, against a snapshot built once from the acceptance
// fixture zone (delegation with glue, wildcard, CNAME chains, an empty non-terminal, RRsets too large
// for UDP). Address sanitizer catches memory errors; the checks below trap on wrong responses.
import CFuzzerDriver
import DNSWire
import Engine
import Zones

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Copy of shared/acceptance/fixture/gslb.test.zone.
let fixtureZone = #"""
; Acceptance-kit fixture zone (RFC 1035 master file).
; Every server under test must load this zone (plus the GSLB behaviour in gslb.json).
; SOA TTL (3600) deliberately differs from SOA MINIMUM (300): negative answers must carry TTL 300.
$ORIGIN gslb.test.
$TTL 3600
@        3600 IN SOA ns1.gslb.test. hostmaster.gslb.test. 2024010101 3600 900 604800 300
@             IN NS    ns1
@             IN NS    ns2
@             IN MX    10 mail
@             IN TXT   "v=spf1 -all"
@             IN CAA   0 issue "ca.example.net"
; name servers live on loopback so that any tool that follows the NS set stays on this machine
ns1           IN A     127.0.0.1
ns1           IN AAAA  ::1
ns2           IN A     127.0.0.2
www       300 IN A     192.0.2.10
www       300 IN AAAA  2001:db8::10
alias     300 IN CNAME www
mail          IN A     192.0.2.25
txt           IN TXT   "hello world"
_sip._tcp     IN SRV   10 60 5060 www
*.wild        IN TXT   "wildcard"
; a.b exists, so b.gslb.test is an empty non-terminal (NOERROR/NODATA, never NXDOMAIN)
a.b           IN A     192.0.2.30
; delegation to a child zone (referral: AA=0, NS in authority, glue in additional)
sub           IN NS    ns.sub
ns.sub        IN A     127.0.0.3
; GSLB names: these static records are the DEFAULT answers (no geo match / no ECS from a
; routable address). The geo/subnet-table answers are described in gslb.json.
geo        30 IN A     192.0.2.100
geo        30 IN AAAA  2001:db8:100::1
lat        30 IN A     192.0.2.100
lat        30 IN AAAA  2001:db8:100::1
hc         30 IN A     127.0.1.2
cdn       300 IN CNAME geo
; large RRsets: 'big' (~4 KB of TXT) must be truncated over UDP and complete over TCP;
; 'many' (40 A, ~700 bytes) exceeds 512 bytes but fits an EDNS 1232-byte buffer.
big      300 IN TXT "big-00-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-01-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-02-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-03-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-04-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-05-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-06-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-07-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-08-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-09-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-10-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-11-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-12-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-13-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-14-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-15-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-16-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-17-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-18-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
big      300 IN TXT "big-19-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
many     300 IN A 192.0.2.101
many     300 IN A 192.0.2.102
many     300 IN A 192.0.2.103
many     300 IN A 192.0.2.104
many     300 IN A 192.0.2.105
many     300 IN A 192.0.2.106
many     300 IN A 192.0.2.107
many     300 IN A 192.0.2.108
many     300 IN A 192.0.2.109
many     300 IN A 192.0.2.110
many     300 IN A 192.0.2.111
many     300 IN A 192.0.2.112
many     300 IN A 192.0.2.113
many     300 IN A 192.0.2.114
many     300 IN A 192.0.2.115
many     300 IN A 192.0.2.116
many     300 IN A 192.0.2.117
many     300 IN A 192.0.2.118
many     300 IN A 192.0.2.119
many     300 IN A 192.0.2.120
many     300 IN A 192.0.2.121
many     300 IN A 192.0.2.122
many     300 IN A 192.0.2.123
many     300 IN A 192.0.2.124
many     300 IN A 192.0.2.125
many     300 IN A 192.0.2.126
many     300 IN A 192.0.2.127
many     300 IN A 192.0.2.128
many     300 IN A 192.0.2.129
many     300 IN A 192.0.2.130
many     300 IN A 192.0.2.131
many     300 IN A 192.0.2.132
many     300 IN A 192.0.2.133
many     300 IN A 192.0.2.134
many     300 IN A 192.0.2.135
many     300 IN A 192.0.2.136
many     300 IN A 192.0.2.137
many     300 IN A 192.0.2.138
many     300 IN A 192.0.2.139
many     300 IN A 192.0.2.140
"""#

/// Our EDNS UDP payload size in the snapshot; UDP answers never exceed it (RFC 6891 §6.2.5).
let udpPayloadSize: UInt16 = 1232
let capacity = 65535

/// State built on the first input and kept for the whole run (libFuzzer calls us on one thread).
final class Harness {
    let snapshot: Snapshot
    let processor = QueryProcessor()
    let response = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    let qname = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
    let qnameLower = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
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
        defer { unlink(path) }
        do {
            let zone = try ZoneCompiler.load(path: path, origin: "gslb.test.")
            let identity = ServerIdentity(version: "meridian-fuzz 1.0", id: "fuzz-1.example",
                                          nsid: Array("fuzz-nsid".utf8))
            snapshot = Snapshot(zones: [zone], identity: identity, udpPayloadSize: udpPayloadSize)
        } catch {
            fatalError("fuzz setup: cannot load the fixture zone: \(error)")
        }
    }

    /// Answers `query` over `transport` and checks what must hold for every input.
    func check(_ query: UnsafeRawBufferPointer, transport: Transport, udpLimit: Int) {
        let client = ClientAddress(family: 1, high: UInt64(0xC633_6407) << 32, low: 0) // 198.51.100.7
        let length = processor.process(query: query, response: response, capacity: capacity,
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
        print("\(transport): \(length) octets, id \(word(0)), flags 0x\(String(flags, radix: 16)), "
              + "rcode \(flags & 0xF), qd \(word(4)) an \(word(6)) ns \(word(8)) ar \(word(10))")
    }

    func run(_ query: UnsafeRawBufferPointer) {
        // UDP size limit the answer must respect: 512 without EDNS (RFC 1035 §4.2.1), else at most
        // our payload size. Error answers (header + question) are always below 512.
        var q = ParsedQuery()
        _ = QueryParser.parse(query, into: &q, qname: qname, qnameLower: qnameLower, scratch: scratch)
        let udpLimit = q.hasEDNS ? Int(udpPayloadSize) : WireLimits.classicUDPSize
        check(query, transport: .udp, udpLimit: udpLimit)
        check(query, transport: .tcp, udpLimit: capacity)
    }
}

nonisolated(unsafe) var harness: Harness?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let h: Harness
    if let existing = harness {
        h = existing
    } else {
        h = Harness()
        harness = h
    }
    h.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// SwiftPM links executables on Linux with `--defsym main=FuzzQueryEngine_main`, so this replaces
/// libFuzzer's main(); it runs libFuzzer with the same command line (flags, corpus dirs, files).
@_cdecl("FuzzQueryEngine_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        fuzz(data!, size)
    }
}
