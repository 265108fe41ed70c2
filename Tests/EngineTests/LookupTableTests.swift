import DNSWire
import Engine
import TestSupport
import XCTest

/// RFC 1034 §4.3.2 lookup and the EDNS/CHAOS/ECS/NSID behaviour as an argument table:
/// (qname, qtype, class, transport, EDNS) -> rcode, AA/TC and the three sections, decoded by ldns.
final class LookupTableTests: XCTestCase {
    enum Snap { case configured, bare, withChild }

    struct EDNS {
        var udp: UInt16 = 1232
        var version: UInt8 = 0
        var doBit = false
        var options: [UInt8] = []
    }

    struct Row {
        let label: String
        let qname: String
        let qtype: UInt16
        var qclass: UInt16 = 1
        var transport: Transport = .udp
        var edns: EDNS? = nil
        var snap: Snap = .configured
        let rcode: Int
        let aa: Bool
        var tc = false
        var answer: [String] = []
        var authority: [String] = []
        var additional: [String] = []
        /// Expected EDNS options in the response OPT (checked when the query had EDNS).
        var options: [(UInt16, [UInt8])] = []
    }

    static let negSOA = "gslb.test. 300 IN SOA ns1.gslb.test. hostmaster.gslb.test. 2024010101 3600 900 604800 300"
    static let extraNegSOA = "extra.test. 60 IN SOA ns.extra.test. admin.extra.test. 7 3600 600 86400 60"
    static let subNS = ["sub.gslb.test. 3600 IN NS ns.sub.gslb.test."]
    static let subGlue = ["ns.sub.gslb.test. 3600 IN A 127.0.0.3"]
    static let wwwA = "www.gslb.test. 300 IN A 192.0.2.10"
    static let apexNS = ["gslb.test. 3600 IN NS ns1.gslb.test.", "gslb.test. 3600 IN NS ns2.gslb.test."]
    static let apexSOA = "gslb.test. 3600 IN SOA ns1.gslb.test. hostmaster.gslb.test. 2024010101 3600 900 604800 300"
    static let bigTXT = (0..<20).map { i in
        "big.gslb.test. 300 IN TXT \"big-\(i < 10 ? "0" : "")\(i)-\(String(repeating: "x", count: 190))\""
    }
    static let manyA = (101...140).map { "many.gslb.test. 300 IN A 192.0.2.\($0)" }
    static let nsid = Array("meridian-acceptance".utf8)

    static let rows: [Row] = [
        // apex
        Row(label: "apex SOA", qname: "gslb.test.", qtype: 6, rcode: 0, aa: true, answer: [apexSOA]),
        Row(label: "apex NS", qname: "gslb.test.", qtype: 2, rcode: 0, aa: true, answer: apexNS),
        Row(label: "apex MX", qname: "gslb.test.", qtype: 15, rcode: 0, aa: true, answer: ["gslb.test. 3600 IN MX 10 mail.gslb.test."]),
        Row(label: "apex TXT", qname: "gslb.test.", qtype: 16, rcode: 0, aa: true, answer: ["gslb.test. 3600 IN TXT \"v=spf1 -all\""]),
        Row(
            label: "apex CAA", qname: "gslb.test.", qtype: 257, rcode: 0, aa: true,
            answer: ["gslb.test. 3600 IN CAA 0 issue \"ca.example.net\""]),
        Row(label: "apex A (NODATA)", qname: "gslb.test.", qtype: 1, rcode: 0, aa: true, authority: [negSOA]),
        // plain data
        Row(label: "www A", qname: "www.gslb.test.", qtype: 1, rcode: 0, aa: true, answer: [wwwA]),
        Row(
            label: "www AAAA", qname: "www.gslb.test.", qtype: 28, rcode: 0, aa: true,
            answer: ["www.gslb.test. 300 IN AAAA 2001:db8::10"]),
        Row(label: "ns1 AAAA", qname: "ns1.gslb.test.", qtype: 28, rcode: 0, aa: true, answer: ["ns1.gslb.test. 3600 IN AAAA ::1"]),
        Row(
            label: "SRV", qname: "_sip._tcp.gslb.test.", qtype: 33, rcode: 0, aa: true,
            answer: ["_sip._tcp.gslb.test. 3600 IN SRV 10 60 5060 www.gslb.test."]),
        Row(label: "TXT", qname: "txt.gslb.test.", qtype: 16, rcode: 0, aa: true, answer: ["txt.gslb.test. 3600 IN TXT \"hello world\""]),
        Row(
            label: "GSLB default A (30 s)", qname: "geo.gslb.test.", qtype: 1, rcode: 0, aa: true,
            answer: ["geo.gslb.test. 30 IN A 192.0.2.100"]),
        // CNAME
        Row(
            label: "CNAME chased to A", qname: "alias.gslb.test.", qtype: 1, rcode: 0, aa: true,
            answer: ["alias.gslb.test. 300 IN CNAME www.gslb.test.", wwwA]),
        Row(
            label: "CNAME chased to AAAA", qname: "alias.gslb.test.", qtype: 28, rcode: 0, aa: true,
            answer: ["alias.gslb.test. 300 IN CNAME www.gslb.test.", "www.gslb.test. 300 IN AAAA 2001:db8::10"]),
        Row(
            label: "CNAME asked for", qname: "alias.gslb.test.", qtype: 5, rcode: 0, aa: true,
            answer: ["alias.gslb.test. 300 IN CNAME www.gslb.test."]),
        Row(
            label: "CNAME then NODATA", qname: "alias.gslb.test.", qtype: 16, rcode: 0, aa: true,
            answer: ["alias.gslb.test. 300 IN CNAME www.gslb.test."], authority: [negSOA]),
        Row(
            label: "cdn -> geo AAAA", qname: "cdn.gslb.test.", qtype: 28, rcode: 0, aa: true,
            answer: ["cdn.gslb.test. 300 IN CNAME geo.gslb.test.", "geo.gslb.test. 30 IN AAAA 2001:db8:100::1"]),
        Row(
            label: "CNAME to a missing name", qname: "dangling.extra.test.", qtype: 1, rcode: 3, aa: true,
            answer: ["dangling.extra.test. 600 IN CNAME nowhere.extra.test."], authority: [extraNegSOA]),
        Row(
            label: "CNAME out of zone not followed", qname: "out.extra.test.", qtype: 1, rcode: 0, aa: true,
            answer: ["out.extra.test. 600 IN CNAME www.gslb.test."]),
        Row(
            label: "CNAME chain of two", qname: "chain1.extra.test.", qtype: 1, rcode: 0, aa: true,
            answer: [
                "chain1.extra.test. 600 IN CNAME chain2.extra.test.", "chain2.extra.test. 600 IN CNAME target.extra.test.",
                "target.extra.test. 600 IN A 192.0.2.77",
            ]),
        Row(
            label: "wildcard CNAME", qname: "x.w.extra.test.", qtype: 1, rcode: 0, aa: true,
            answer: ["x.w.extra.test. 600 IN CNAME target.extra.test.", "target.extra.test. 600 IN A 192.0.2.77"]),
        // wildcards (RFC 4592)
        Row(
            label: "wildcard TXT", qname: "foo.wild.gslb.test.", qtype: 16, rcode: 0, aa: true,
            answer: ["foo.wild.gslb.test. 3600 IN TXT \"wildcard\""]),
        Row(
            label: "wildcard two labels down", qname: "a.b.wild.gslb.test.", qtype: 16, rcode: 0, aa: true,
            answer: ["a.b.wild.gslb.test. 3600 IN TXT \"wildcard\""]),
        Row(label: "wildcard NODATA", qname: "foo.wild.gslb.test.", qtype: 1, rcode: 0, aa: true, authority: [negSOA]),
        Row(
            label: "wildcard owner asked literally", qname: "*.wild.gslb.test.", qtype: 16, rcode: 0, aa: true,
            answer: ["*.wild.gslb.test. 3600 IN TXT \"wildcard\""]),
        Row(label: "parent of the wildcard is an ENT", qname: "wild.gslb.test.", qtype: 16, rcode: 0, aa: true, authority: [negSOA]),
        // negative answers (RFC 2308): SOA TTL = min(3600, 300)
        Row(label: "NXDOMAIN", qname: "nope.gslb.test.", qtype: 1, rcode: 3, aa: true, authority: [negSOA]),
        Row(label: "NXDOMAIN below an existing name", qname: "x.y.www.gslb.test.", qtype: 1, rcode: 3, aa: true, authority: [negSOA]),
        Row(label: "NODATA", qname: "www.gslb.test.", qtype: 15, rcode: 0, aa: true, authority: [negSOA]),
        Row(
            label: "NODATA with DO", qname: "www.gslb.test.", qtype: 15, edns: EDNS(doBit: true), rcode: 0, aa: true,
            authority: [negSOA]),
        Row(label: "empty non-terminal", qname: "b.gslb.test.", qtype: 1, rcode: 0, aa: true, authority: [negSOA]),
        Row(label: "empty non-terminal ANY", qname: "b.gslb.test.", qtype: 255, rcode: 0, aa: true, authority: [negSOA]),
        Row(
            label: "below the empty non-terminal", qname: "a.b.gslb.test.", qtype: 1, rcode: 0, aa: true,
            answer: ["a.b.gslb.test. 3600 IN A 192.0.2.30"]),
        Row(label: "sibling under the ENT", qname: "x.b.gslb.test.", qtype: 1, rcode: 3, aa: true, authority: [negSOA]),
        // delegation
        Row(
            label: "referral below the cut", qname: "www.sub.gslb.test.", qtype: 1, rcode: 0, aa: false,
            authority: subNS, additional: subGlue),
        Row(label: "referral at the cut", qname: "sub.gslb.test.", qtype: 1, rcode: 0, aa: false, authority: subNS, additional: subGlue),
        Row(
            label: "NS at the cut is a referral", qname: "sub.gslb.test.", qtype: 2, rcode: 0, aa: false,
            authority: subNS, additional: subGlue),
        Row(label: "DS at the cut answered by the parent", qname: "sub.gslb.test.", qtype: 43, rcode: 0, aa: true, authority: [negSOA]),
        Row(label: "glue name itself", qname: "ns.sub.gslb.test.", qtype: 1, rcode: 0, aa: false, authority: subNS, additional: subGlue),
        Row(
            label: "DS below the cut", qname: "deep.ns.sub.gslb.test.", qtype: 43, rcode: 0, aa: false,
            authority: subNS, additional: subGlue),
        Row(
            label: "referral over TCP with EDNS", qname: "www.sub.gslb.test.", qtype: 28, transport: .tcp, edns: EDNS(),
            rcode: 0, aa: false, authority: subNS, additional: subGlue),
        // not ours
        Row(label: "out of zone", qname: "example.com.", qtype: 1, rcode: 5, aa: false),
        Row(label: "root", qname: ".", qtype: 2, rcode: 5, aa: false),
        Row(label: "parent of the zone", qname: "test.", qtype: 6, rcode: 5, aa: false),
        Row(label: "zone name as a prefix", qname: "gslb.test.example.", qtype: 1, rcode: 5, aa: false),
        Row(label: "label-suffix look-alike", qname: "xgslb.test.", qtype: 1, rcode: 5, aa: false),
        // letter case (RFC 4343): the question is echoed as sent; pointers refer to it
        Row(label: "mixed case", qname: "WwW.GsLb.TeSt.", qtype: 1, rcode: 0, aa: true, answer: ["WwW.GsLb.TeSt. 300 IN A 192.0.2.10"]),
        Row(
            label: "mixed case NXDOMAIN", qname: "NoPe.GSLB.test.", qtype: 1, rcode: 3, aa: true,
            authority: [negSOA.replacingOccurrences(of: "gslb.test. 300", with: "GSLB.test. 300")]),
        Row(
            label: "mixed case CNAME", qname: "ALIAS.GSLB.TEST.", qtype: 1, rcode: 0, aa: true,
            answer: ["ALIAS.GSLB.TEST. 300 IN CNAME www.gslb.test.", "www.GSLB.TEST. 300 IN A 192.0.2.10"]),
        // ANY (RFC 8482)
        Row(label: "ANY at apex over UDP: one RRset", qname: "gslb.test.", qtype: 255, rcode: 0, aa: true, answer: apexNS),
        Row(
            label: "ANY at apex over TCP: all", qname: "gslb.test.", qtype: 255, transport: .tcp, rcode: 0, aa: true,
            answer: apexNS + [
                apexSOA, "gslb.test. 3600 IN MX 10 mail.gslb.test.", "gslb.test. 3600 IN TXT \"v=spf1 -all\"",
                "gslb.test. 3600 IN CAA 0 issue \"ca.example.net\"",
            ]),
        Row(label: "ANY www over UDP", qname: "www.gslb.test.", qtype: 255, rcode: 0, aa: true, answer: [wwwA]),
        Row(
            label: "ANY www over TCP", qname: "www.gslb.test.", qtype: 255, transport: .tcp, rcode: 0, aa: true,
            answer: [wwwA, "www.gslb.test. 300 IN AAAA 2001:db8::10"]),
        Row(
            label: "ANY at a CNAME", qname: "alias.gslb.test.", qtype: 255, rcode: 0, aa: true,
            answer: ["alias.gslb.test. 300 IN CNAME www.gslb.test."]),
        Row(label: "ANY NXDOMAIN", qname: "nope.gslb.test.", qtype: 255, rcode: 3, aa: true, authority: [negSOA]),
        // size limits and truncation (RFC 1035 §4.2.1, RFC 6891 §6.2.5, RFC 2181 §9)
        Row(label: "big TXT over UDP without EDNS", qname: "big.gslb.test.", qtype: 16, rcode: 0, aa: true, tc: true),
        Row(label: "big TXT over UDP with EDNS 1232", qname: "big.gslb.test.", qtype: 16, edns: EDNS(), rcode: 0, aa: true, tc: true),
        Row(
            label: "big TXT with EDNS 4096 is capped at 1232", qname: "big.gslb.test.", qtype: 16, edns: EDNS(udp: 4096),
            rcode: 0, aa: true, tc: true),
        Row(label: "big TXT over TCP", qname: "big.gslb.test.", qtype: 16, transport: .tcp, rcode: 0, aa: true, answer: bigTXT),
        Row(label: "many A over UDP without EDNS", qname: "many.gslb.test.", qtype: 1, rcode: 0, aa: true, tc: true),
        Row(label: "many A with EDNS 1232", qname: "many.gslb.test.", qtype: 1, edns: EDNS(), rcode: 0, aa: true, answer: manyA),
        Row(label: "many A with EDNS 512", qname: "many.gslb.test.", qtype: 1, edns: EDNS(udp: 512), rcode: 0, aa: true, tc: true),
        Row(
            label: "many A with EDNS 100 (raised to 512)", qname: "many.gslb.test.", qtype: 1, edns: EDNS(udp: 100),
            rcode: 0, aa: true, tc: true),
        Row(
            label: "many A with EDNS 700 (fits 693)", qname: "many.gslb.test.", qtype: 1, edns: EDNS(udp: 700),
            rcode: 0, aa: true, answer: manyA),
        Row(label: "many A over TCP", qname: "many.gslb.test.", qtype: 1, transport: .tcp, rcode: 0, aa: true, answer: manyA),
        // EDNS (RFC 6891)
        Row(label: "EDNS www", qname: "www.gslb.test.", qtype: 1, edns: EDNS(), rcode: 0, aa: true, answer: [wwwA]),
        Row(label: "BADVERS", qname: "www.gslb.test.", qtype: 1, edns: EDNS(version: 1), rcode: 16, aa: false),
        Row(label: "BADVERS version 255 out of zone", qname: "example.com.", qtype: 1, edns: EDNS(version: 255), rcode: 16, aa: false),
        Row(label: "DO copied", qname: "www.gslb.test.", qtype: 1, edns: EDNS(doBit: true), rcode: 0, aa: true, answer: [wwwA]),
        Row(
            label: "unknown option not echoed", qname: "www.gslb.test.", qtype: 1,
            edns: EDNS(options: Wire.option(65001, [1, 2, 3]) + Wire.option(10, [1, 2, 3, 4, 5, 6, 7, 8])),
            rcode: 0, aa: true, answer: [wwwA]),
        // ECS (RFC 7871): echoed with scope 0 for static answers
        Row(
            label: "ECS v4 echoed, scope 0", qname: "www.gslb.test.", qtype: 1,
            edns: EDNS(options: Wire.ecs(family: 1, source: 24, address: [192, 0, 2])),
            rcode: 0, aa: true, answer: [wwwA], options: [(8, [0, 1, 24, 0, 192, 0, 2])]),
        Row(
            label: "ECS query scope 16 -> 0", qname: "geo.gslb.test.", qtype: 1,
            edns: EDNS(options: Wire.ecs(family: 1, source: 22, scope: 16, address: [198, 51, 100])),
            rcode: 0, aa: true, answer: ["geo.gslb.test. 30 IN A 192.0.2.100"], options: [(8, [0, 1, 22, 0, 198, 51, 100])]),
        Row(
            label: "ECS v6 /56 echoed", qname: "www.gslb.test.", qtype: 28,
            edns: EDNS(options: Wire.ecs(family: 2, source: 56, address: [0x20, 0x01, 0x0D, 0xB8, 0, 1, 2])),
            rcode: 0, aa: true, answer: ["www.gslb.test. 300 IN AAAA 2001:db8::10"],
            options: [(8, [0, 2, 56, 0, 0x20, 0x01, 0x0D, 0xB8, 0, 1, 2])]),
        Row(
            label: "ECS /0 echoed", qname: "nope.gslb.test.", qtype: 1, edns: EDNS(options: Wire.ecs(family: 1, source: 0, address: [])),
            rcode: 3, aa: true, authority: [negSOA], options: [(8, [0, 1, 0, 0])]),
        // NSID (RFC 5001)
        Row(
            label: "NSID configured", qname: "www.gslb.test.", qtype: 1, edns: EDNS(options: Wire.option(3, [])),
            rcode: 0, aa: true, answer: [wwwA], options: [(3, nsid)]),
        Row(
            label: "NSID not configured", qname: "www.gslb.test.", qtype: 1, edns: EDNS(options: Wire.option(3, [])), snap: .bare,
            rcode: 0, aa: true, answer: [wwwA]),
        Row(label: "NSID configured but not asked", qname: "www.gslb.test.", qtype: 1, edns: EDNS(), rcode: 0, aa: true, answer: [wwwA]),
        Row(
            label: "NSID and ECS", qname: "www.gslb.test.", qtype: 1,
            edns: EDNS(options: Wire.option(3, []) + Wire.ecs(family: 1, source: 24, address: [192, 0, 2])),
            rcode: 0, aa: true, answer: [wwwA], options: [(8, [0, 1, 24, 0, 192, 0, 2]), (3, nsid)]),
        Row(
            label: "NSID on REFUSED", qname: "example.com.", qtype: 1, edns: EDNS(options: Wire.option(3, [])),
            rcode: 5, aa: false, options: [(3, nsid)]),
        // CHAOS
        Row(
            label: "version.bind", qname: "version.bind.", qtype: 16, qclass: 3, rcode: 0, aa: true,
            answer: ["version.bind. 0 CH TXT \"Meridian\""]),
        Row(
            label: "VERSION.BIND mixed case", qname: "VERSION.Bind.", qtype: 16, qclass: 3, rcode: 0, aa: true,
            answer: ["VERSION.Bind. 0 CH TXT \"Meridian\""]),
        Row(
            label: "version.server", qname: "version.server.", qtype: 16, qclass: 3, rcode: 0, aa: true,
            answer: ["version.server. 0 CH TXT \"Meridian\""]),
        Row(
            label: "id.server", qname: "id.server.", qtype: 16, qclass: 3, rcode: 0, aa: true,
            answer: ["id.server. 0 CH TXT \"meridian-acceptance\""]),
        Row(
            label: "hostname.bind", qname: "hostname.bind.", qtype: 16, qclass: 3, rcode: 0, aa: true,
            answer: ["hostname.bind. 0 CH TXT \"meridian-acceptance\""]),
        Row(
            label: "version.bind ANY", qname: "version.bind.", qtype: 255, qclass: 3, rcode: 0, aa: true,
            answer: ["version.bind. 0 CH TXT \"Meridian\""]),
        Row(
            label: "version.bind with EDNS", qname: "version.bind.", qtype: 16, qclass: 3, edns: EDNS(), rcode: 0, aa: true,
            answer: ["version.bind. 0 CH TXT \"Meridian\""]),
        Row(label: "version.bind not configured", qname: "version.bind.", qtype: 16, qclass: 3, snap: .bare, rcode: 5, aa: false),
        Row(label: "id.server not configured", qname: "id.server.", qtype: 16, qclass: 3, snap: .bare, rcode: 5, aa: false),
        Row(label: "version.bind A", qname: "version.bind.", qtype: 1, qclass: 3, rcode: 5, aa: false),
        Row(label: "other CHAOS name", qname: "authors.bind.", qtype: 16, qclass: 3, rcode: 5, aa: false),
        Row(label: "zone name in CHAOS", qname: "www.gslb.test.", qtype: 1, qclass: 3, rcode: 5, aa: false),
        // other classes and types
        Row(label: "class ANY", qname: "www.gslb.test.", qtype: 1, qclass: 255, rcode: 5, aa: false),
        Row(label: "class HS", qname: "www.gslb.test.", qtype: 1, qclass: 4, rcode: 5, aa: false),
        Row(label: "AXFR", qname: "gslb.test.", qtype: 252, rcode: 5, aa: false),
        Row(label: "AXFR over TCP", qname: "gslb.test.", qtype: 252, transport: .tcp, rcode: 5, aa: false),
        Row(label: "IXFR", qname: "gslb.test.", qtype: 251, rcode: 5, aa: false),
        Row(label: "MAILB", qname: "gslb.test.", qtype: 253, rcode: 4, aa: false),
        Row(label: "QTYPE OPT", qname: "gslb.test.", qtype: 41, rcode: 1, aa: false),
        Row(label: "QTYPE TSIG", qname: "gslb.test.", qtype: 250, rcode: 1, aa: false),
        // several zones
        Row(label: "second zone", qname: "ns.extra.test.", qtype: 1, rcode: 0, aa: true, answer: ["ns.extra.test. 600 IN A 192.0.2.53"]),
        Row(
            label: "second zone NXDOMAIN has its own SOA", qname: "zz.extra.test.", qtype: 1, rcode: 3, aa: true,
            authority: [extraNegSOA]),
        Row(
            label: "child zone served: deepest zone answers", qname: "www.sub.gslb.test.", qtype: 1, snap: .withChild, rcode: 0, aa: true,
            answer: ["www.sub.gslb.test. 60 IN A 198.51.100.80"]),
        Row(
            label: "child zone apex SOA", qname: "sub.gslb.test.", qtype: 6, snap: .withChild, rcode: 0, aa: true,
            answer: ["sub.gslb.test. 120 IN SOA ns.sub.gslb.test. admin.sub.gslb.test. 3 3600 600 86400 30"]),
        Row(
            label: "child zone NXDOMAIN", qname: "nope.sub.gslb.test.", qtype: 1, snap: .withChild, rcode: 3, aa: true,
            authority: ["sub.gslb.test. 30 IN SOA ns.sub.gslb.test. admin.sub.gslb.test. 3 3600 600 86400 30"]),
        Row(
            label: "parent still answers beside the child", qname: "www.gslb.test.", qtype: 1, snap: .withChild, rcode: 0, aa: true,
            answer: [wwwA]),
    ]

    func snapshot(_ s: Snap) -> Snapshot {
        switch s {
        case .configured: return TestZones.shared.configured
        case .bare: return TestZones.shared.bare
        case .withChild: return TestZones.shared.withChild
        }
    }

    func testLookupTable() {
        for r in Self.rows {
            var additional: [[UInt8]] = []
            if let e = r.edns { additional.append(Wire.opt(udp: e.udp, version: e.version, doBit: e.doBit, rdata: e.options)) }
            let query = Wire.query(r.qname, r.qtype, qclass: r.qclass, id: 0x5A5A, flags: 0x0100, additional: additional)
            let response = answer(query, transport: r.transport, snapshot: snapshot(r.snap))
            let l = r.label
            guard let d = LDNS.decode(response) else {
                XCTFail("\(l): ldns cannot decode \(Wire.hex(response))")
                continue
            }
            XCTAssertEqual(d.id, 0x5A5A, l)
            XCTAssertTrue(d.qr, l)
            XCTAssertEqual(d.opcode, 0, l)
            XCTAssertTrue(d.rd, "\(l): RD copied")
            XCTAssertFalse(d.ra, l)
            XCTAssertFalse(d.cd, l)
            XCTAssertEqual(d.rcode, r.rcode, l)
            XCTAssertEqual(d.aa, r.aa, "\(l): AA")
            XCTAssertEqual(d.tc, r.tc, "\(l): TC")
            XCTAssertEqual(d.qdcount, 1, l)
            XCTAssertEqual(d.question.first?.split(separator: " ").first.map(String.init), r.qname, "\(l): question echoed as sent")
            XCTAssertEqual(d.answer, r.answer, l)
            XCTAssertEqual(d.authority, r.authority, l)
            XCTAssertEqual(d.additional, r.additional, l)
            // raw counts agree with the sections (OPT counted in ARCOUNT on the wire)
            XCTAssertEqual(Int(response[6]) << 8 | Int(response[7]), r.answer.count, l)
            XCTAssertEqual(Int(response[8]) << 8 | Int(response[9]), r.authority.count, l)
            XCTAssertEqual(Int(response[10]) << 8 | Int(response[11]), r.additional.count + (r.edns == nil ? 0 : 1), l)
            // size limit for the transport
            let limit: Int
            switch r.transport {
            case .tcp: limit = 65535
            case .udp: limit = r.edns.map { max(512, min(Int($0.udp), 1232)) } ?? 512
            }
            XCTAssertLessThanOrEqual(response.count, limit, l)
            if let e = r.edns {
                XCTAssertTrue(d.hasOPT, "\(l): OPT expected")
                XCTAssertEqual(d.optUDPSize, 1232, l)
                XCTAssertEqual(d.optVersion, 0, l)
                XCTAssertEqual(d.optDO, e.doBit, "\(l): DO")
                XCTAssertEqual(d.options.map { "\($0.code):\(Wire.hex($0.data))" }, r.options.map { "\($0.0):\(Wire.hex($0.1))" }, l)
                // OPT is the last record on the wire: root owner, TYPE 41
                let optAt = response.count - 11 - r.options.reduce(0) { $0 + 4 + $1.1.count }
                XCTAssertEqual(Array(response[optAt..<(optAt + 3)]), [0, 0, 41], "\(l): OPT at the end")
            } else {
                XCTAssertFalse(d.hasOPT, "\(l): no OPT without EDNS in the query")
            }
        }
    }

    /// Truncated answers keep the question and drop every record (RFC 2181 §9), within the size limit.
    func testTruncatedResponsesKeepOnlyQuestion() {
        let snap = TestZones.shared.configured
        let plain = answer(Wire.query("big.gslb.test.", 16), snapshot: snap)
        XCTAssertEqual(plain.count, 12 + 15 + 4)
        XCTAssertEqual(Array(plain[2..<12]), [0x87, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])
        let edns = answer(Wire.query("big.gslb.test.", 16, additional: [Wire.opt()]), snapshot: snap)
        XCTAssertEqual(edns.count, 12 + 15 + 4 + 11)
        XCTAssertEqual(Array(edns[2..<12]), [0x87, 0x00, 0, 1, 0, 0, 0, 0, 0, 1])
        // 'many' fits 1232: 12 + 16 + 40 * 16 + 11 = 679
        let many = answer(Wire.query("many.gslb.test.", 1, additional: [Wire.opt()]), snapshot: snap)
        XCTAssertEqual(many.count, 12 + 16 + 4 + 40 * 16 + 11)
        let big = answer(Wire.query("big.gslb.test.", 16), transport: .tcp, snapshot: snap)
        XCTAssertEqual(big.count, 12 + 15 + 4 + 20 * (2 + 10 + 198))
    }

    func testHeaderBitsAndID() {
        let snap = TestZones.shared.configured
        for (flags, rd, cd) in [
            (UInt16(0x0000), false, false), (0x0100, true, false), (0x0010, false, true), (0x0110, true, true),
            (0x0620, false, false), (0x0730, true, true),
        ] as [(UInt16, Bool, Bool)] {
            let r = answer(Wire.query("www.gslb.test.", 1, id: 0xFFFE, flags: flags), snapshot: snap)
            let d = LDNS.decode(r)
            XCTAssertEqual(d?.id, 0xFFFE)
            XCTAssertEqual(d?.rd, rd, "flags \(flags)")
            XCTAssertEqual(d?.cd, cd, "flags \(flags)")
            XCTAssertEqual(d?.aa, true, "flags \(flags): AA from the server, not the query")
            XCTAssertEqual(d?.tc, false, "flags \(flags)")
            XCTAssertEqual(d?.ra, false)
            XCTAssertEqual(r[3] & 0x60, 0, "Z/AD bits clear")
        }
    }

    func testDroppedAndErrorMessages() {
        let snap = TestZones.shared.configured
        // QR=1: not answered
        XCTAssertEqual(answer(Wire.query("www.gslb.test.", 1, flags: 0x8100), snapshot: snap), [])
        XCTAssertEqual(answer(Wire.query("www.gslb.test.", 1, flags: 0x8400), transport: .tcp, snapshot: snap), [])
        // shorter than a header
        XCTAssertEqual(answer([0x12, 0x34, 1, 0], snapshot: snap), [])
        XCTAssertEqual(answer([], snapshot: snap), [])

        // opcode 15 -> NOTIMP, opcode echoed, question echoed
        let notimp = answer(Wire.query("www.gslb.test.", 1, id: 9, flags: 0x7900), snapshot: snap)
        let n = LDNS.decode(notimp)
        XCTAssertEqual(n?.rcode, 4)
        XCTAssertEqual(n?.opcode, 15)
        XCTAssertEqual(n?.qr, true)
        XCTAssertEqual(n?.aa, false)
        XCTAssertEqual(n?.rd, true)
        XCTAssertEqual(n?.question, ["www.gslb.test. IN A"])
        XCTAssertEqual(n?.answer, [])
        XCTAssertEqual(Array(notimp[0..<4]), [0, 9, 0xF9, 0x04])
        // with CD and AD set: RD is copied, CD and AD are not (ISC genreport "opcodeflg")
        let flagged = answer(Wire.query("www.gslb.test.", 1, id: 9, flags: 0x7900 | 0x0030), snapshot: snap)
        XCTAssertEqual(Array(flagged[2..<4]), [0xF9, 0x04])

        // opcode 2 (STATUS), 4 (NOTIFY), 5 (UPDATE) -> NOTIMP
        for opcode: UInt16 in [1, 2, 4, 5, 6] {
            let r = answer(Wire.query("gslb.test.", 6, flags: opcode << 11), snapshot: snap)
            XCTAssertEqual(LDNS.decode(r)?.rcode, 4, "opcode \(opcode)")
            XCTAssertEqual(Int(r[2] >> 3) & 0xF, Int(opcode))
        }

        // two OPT -> FORMERR with the question, no OPT in the answer
        let formerr = answer(Wire.query("www.gslb.test.", 1, additional: [Wire.opt(), Wire.opt()]), snapshot: snap)
        let f = LDNS.decode(formerr)
        XCTAssertEqual(f?.rcode, 1)
        XCTAssertEqual(f?.question, ["www.gslb.test. IN A"])
        XCTAssertEqual(f?.hasOPT, false)
        XCTAssertEqual(f?.answer, [])

        // QDCOUNT 0 -> FORMERR with no question
        let empty = answer(Wire.u16(7) + Wire.u16(0) + [0, 0, 0, 0, 0, 0, 0, 0], snapshot: snap)
        XCTAssertEqual(empty, [0, 7, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0])

        // bad ECS -> FORMERR
        let badECS = answer(
            Wire.query(
                "www.gslb.test.", 1,
                additional: [Wire.opt(rdata: Wire.ecs(family: 1, source: 23, address: [192, 0, 3]))]),
            snapshot: snap)
        XCTAssertEqual(LDNS.decode(badECS)?.rcode, 1)
        XCTAssertEqual(LDNS.decode(badECS)?.answer, [])

        // every prefix of a valid EDNS query: no answer or FORMERR, never a trap
        let full = Wire.query("www.gslb.test.", 1, additional: [Wire.opt(rdata: Wire.option(3, []))])
        for length in 0..<full.count {
            let r = answer(Array(full[0..<length]), snapshot: snap)
            if length < 12 {
                XCTAssertEqual(r, [], "prefix \(length)")
            } else {
                XCTAssertEqual(Int(r[3] & 0x0F), 1, "prefix \(length): FORMERR")
            }
        }
    }

    /// Processing does not depend on state left by earlier queries (scratch reuse across queries).
    func testProcessorReuse() {
        let snap = TestZones.shared.configured
        let p = QueryProcessor()
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 65535)
        defer { buffer.deallocate() }
        func run(_ q: [UInt8]) -> [UInt8] {
            let n = q.withUnsafeBytes { p.process(query: $0, response: buffer, capacity: 65535, transport: .udp, client: .none, snapshot: snap) }
            return Array(UnsafeBufferPointer(start: buffer, count: n))
        }
        let a1 = run(Wire.query("alias.gslb.test.", 1))
        _ = run(Wire.query("x.w.extra.test.", 1, additional: [Wire.opt(rdata: Wire.ecs(family: 1, source: 24, address: [1, 2, 3]))]))
        _ = run(Wire.query("www.gslb.test.", 1, additional: [Wire.opt(), Wire.opt()]))
        let a2 = run(Wire.query("alias.gslb.test.", 1))
        XCTAssertEqual(a1, a2)
        XCTAssertEqual(p.counters.value(WorkerCounters.Slot.queries), 4)
        XCTAssertEqual(p.counters.value(WorkerCounters.Slot.rcodeBase + 0), 3)
        XCTAssertEqual(p.counters.value(WorkerCounters.Slot.rcodeBase + 1), 1)
        XCTAssertEqual(p.counters.value(WorkerCounters.Slot.clientSubnet), 1)
    }

    /// A CNAME loop stops after `maxChainLength` steps with what was gathered.
    func testCNAMELoopIsBounded() {
        let r = answer(Wire.query("loop1.extra.test.", 1), transport: .tcp, snapshot: TestZones.shared.configured)
        let d = LDNS.decode(r)
        XCTAssertEqual(d?.rcode, 0)
        XCTAssertEqual(d?.aa, true)
        XCTAssertEqual(d?.answer.count, QueryProcessor.maxChainLength)
        XCTAssertEqual(d?.answer.first, "loop1.extra.test. 600 IN CNAME loop2.extra.test.")
        XCTAssertTrue(d?.answer.allSatisfy { $0.contains(" IN CNAME ") } ?? false)
    }
}
