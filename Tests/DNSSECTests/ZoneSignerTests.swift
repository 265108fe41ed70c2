import CLDNS
import DNSSEC
import DNSWire
import Foundation
import TestSupport
import XCTest
import Zones

/// A zone signed by `ZoneSigner`, dumped and checked by ldns-verify-zone (every RRSIG valid, the NSEC3
/// chain complete and closed), with NSEC3 owner hashes compared with ldns-nsec3-hash.
final class ZoneSignerTests: XCTestCase {
    static let zoneText = """
        $TTL 300
        @        IN SOA ns1 hostmaster 2026120701 3600 600 86400 60
        @        IN NS  ns1
        @        IN MX  10 mail
        @        IN TXT "v=spf1 -all"
        ns1      IN A   192.0.2.53
        mail     IN A   192.0.2.25
        www      IN A   192.0.2.80
        www      IN AAAA 2001:db8::80
        alias    IN CNAME www
        *.wild   IN TXT "wildcard"
        a.b.c    IN A   192.0.2.7
        sub      IN NS  ns.sub
        ns.sub   IN A   192.0.2.54
        secure   IN NS  ns.elsewhere.example.
        secure   IN DS  12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF

        """

    var directory = ""

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-signer-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// The zone signed with `keys`; with `gslb`, geo.gslb.test. is a GSLB name answering A and AAAA
    /// (it has no records of its own, so a dump of the zone is not a complete zone then).
    func signedZone(_ keys: [ZoneKey], now: Int64, gslb: Bool = false, policy: SigningPolicy = SigningPolicy()) throws -> CompiledZone {
        let path = directory + "/zone"
        try Self.zoneText.write(toFile: path, atomically: true, encoding: .utf8)
        let geo = WireName.fromText("geo.gslb.test.")!
        let zone = try ZoneCompiler.load(
            path: path, origin: "gslb.test.", extraOwners: gslb ? [geo] : [],
            extraRecords: ZoneSigner.apexRecords(zone: "gslb.test.", keys: keys, policy: policy, now: now))
        return try ZoneSigner.sign(
            zone, keys: keys, policy: policy, now: now, gslbTypes: gslb ? [geo: [DNSType.a, DNSType.aaaa]] : [:])
    }

    /// CDS and CDNSKEY (RFC 7344) while a key's sync publication runs, the delete form (RFC 8078 §4)
    /// when asked for, none otherwise.
    func testCDSAndCDNSKEYFollowSyncTiming() throws {
        let now: Int64 = 1_796_619_600
        let syncing = try ZoneKey.generate(
            zone: "gslb.test.", algorithm: .ecdsap256sha256, role: .csk,
            timing: KeyTiming(created: now, publish: now, activate: now, syncPublish: now, syncDelete: now + 10))
        func cds(_ at: Int64, delete: Bool = false) throws -> [[UInt8]] {
            try ZoneSigner.apexRecords(zone: "gslb.test.", keys: [syncing], policy: SigningPolicy(), now: at, cdsDelete: delete)
                .filter { $0.type == DNSType.cds || $0.type == DNSType.cdnskey }.map { [UInt8($0.type)] + $0.rdata }
        }
        XCTAssertEqual(try cds(now), [[UInt8(DNSType.cds)] + syncing.dsRDATA!, [UInt8(DNSType.cdnskey)] + syncing.dnskeyRDATA])
        XCTAssertEqual(try cds(now + 10), [], "withdrawn at SyncDelete")
        XCTAssertEqual(try cds(now + 10, delete: true), [[UInt8(DNSType.cds), 0, 0, 0, 0, 0], [UInt8(DNSType.cdnskey), 0, 0, 3, 0, 0]])
        // signed by the key-signing key, and the zone still verifies
        let zone = try signedZone([syncing], now: now)
        XCTAssertNoThrow(try verify(zone))
    }

    func testSignedWithACombinedKeyVerifies() throws {
        let now = Int64(Date().timeIntervalSince1970)
        let csk = try ZoneKey.generate(
            zone: "gslb.test.", algorithm: .ecdsap256sha256, role: .csk, timing: KeyTiming(created: now, publish: now, activate: now))
        let zone = try signedZone([csk], now: now)
        let text = try verify(zone)
        // signed: every authoritative RRset; not signed: the delegation's NS and the glue
        XCTAssertTrue(text.contains("RRSIG\tDNSKEY 13"))
        XCTAssertTrue(text.contains("RRSIG\tDS 13"))
        XCTAssertFalse(text.contains("RRSIG\tNS 13 3 300"), "sub.gslb.test.'s NS at the cut is not signed")
        // apex, ns1, mail, www, alias, wild, *.wild, c, b.c, a.b.c, sub, secure (not ns.sub, below the cut)
        XCTAssertEqual(zone.signatures?.tables.chain.count, 12, "one NSEC3 per authoritative name, empty non-terminals included")
        XCTAssertGreaterThan(zone.signatures?.expires ?? 0, now + 10 * 86400)
    }

    func testSignedWithKSKAndZSKVerifies() throws {
        let now = Int64(Date().timeIntervalSince1970)
        let timing = KeyTiming(created: now, publish: now, activate: now)
        let ksk = try ZoneKey.generate(zone: "gslb.test.", algorithm: .ed25519, role: .ksk, timing: timing)
        let zsk = try ZoneKey.generate(zone: "gslb.test.", algorithm: .ed25519, role: .zsk, timing: timing)
        let text = try verify(try signedZone([ksk, zsk], now: now))
        // the KSK signs the DNSKEY RRset only; the ZSK everything else
        let rrsigs = text.split(separator: "\n").filter { $0.contains("\tRRSIG\t") }
        for line in rrsigs {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            let tag = UInt16(fields[10])!
            XCTAssertEqual(tag, fields[4] == "DNSKEY" ? ksk.tag : zsk.tag, String(line))
        }
    }

    /// NSEC denial: ldns-verify-zone checks the chain (canonical order, closed, bitmaps); names without
    /// data have no NSEC and point at the one that covers them; no NSEC3PARAM at the apex.
    func testNSECChainVerifiesAndCoversEmptyNonTerminals() throws {
        let now = Int64(Date().timeIntervalSince1970)
        let csk = try ZoneKey.generate(
            zone: "gslb.test.", algorithm: .ecdsap256sha256, role: .csk, timing: KeyTiming(created: now, publish: now, activate: now))
        var policy = SigningPolicy()
        policy.denial = .nsec
        let zone = try signedZone([csk], now: now, policy: policy)
        let text = try verify(zone)
        XCTAssertFalse(text.contains("NSEC3"), "neither NSEC3 nor NSEC3PARAM")
        let signatures = try XCTUnwrap(zone.signatures).tables
        XCTAssertTrue(signatures.usesNSEC)
        // apex, alias, a.b.c, mail, ns1, secure, sub, *.wild, www: not the empty c, b.c, wild, nor ns.sub below the cut
        XCTAssertEqual(signatures.chain.count, 9)
        func owner(ofProofFor name: String) -> String {
            let wire = WireName.fromText(name)!
            let (owner, length) = signatures.name(of: signatures.matching[Int(zone.find(wire, length: wire.count))])
            return WireName.toText(Array(UnsafeBufferPointer(start: owner, count: length)))
        }
        XCTAssertEqual(owner(ofProofFor: "www.gslb.test."), "www.gslb.test.")
        XCTAssertEqual(owner(ofProofFor: "b.c.gslb.test."), "alias.gslb.test.", "alias < c < b.c < a.b.c: alias's NSEC covers b.c")
        XCTAssertEqual(owner(ofProofFor: "wild.gslb.test."), "sub.gslb.test.")
        // at the insecure delegation: NS, and RRSIG and NSEC for the NSEC itself (RFC 4035 §2.3); the next
        // name skips the empty wild.gslb.test.; TTL: the SOA's negative TTL (RFC 9077)
        XCTAssertTrue(text.contains("sub.gslb.test.\t60\tIN\tNSEC\t*.wild.gslb.test. NS RRSIG NSEC"), text)
    }

    /// Keys from PEM files (Knot's form; made here by openssl genpkey): the DNSKEY holds the file's
    /// public key, and a zone signed with the key verifies.
    func testKeysImportedFromPEMSign() throws {
        let now = Int64(Date().timeIntervalSince1970)
        for (arguments, algorithm, publicLength) in [
            (["-algorithm", "ED25519"], SigningAlgorithm.ed25519, 32),
            (["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], .ecdsap256sha256, 64),
        ] {
            let path = directory + "/\(algorithm.name).pem"
            _ = try Tool.output("/usr/bin/openssl", ["genpkey"] + arguments + ["-out", path])
            let key = try ZoneKey.fromPEM(
                try String(contentsOfFile: path, encoding: .utf8), zone: "GSLB.test", role: .csk,
                timing: KeyTiming(created: now, publish: now, activate: now))
            XCTAssertEqual(key.algorithm, algorithm)
            XCTAssertEqual(key.zone, "gslb.test.")
            // the SubjectPublicKeyInfo ends with the raw public key (P-256: 0x04, then x and y)
            let spki = try Tool.output("/usr/bin/openssl", ["pkey", "-in", path, "-pubout"])
                .split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
            let der = [UInt8](try XCTUnwrap(Data(base64Encoded: spki)))
            XCTAssertEqual(Array(key.dnskeyRDATA[4...]), Array(der.suffix(publicLength)), algorithm.name)
            XCTAssertNoThrow(try verify(try signedZone([key], now: now)), algorithm.name)
        }
        XCTAssertThrowsError(try ZoneKey.fromPEM("not a key", zone: "gslb.test.", role: .csk, timing: KeyTiming(created: now)))
    }

    func testNSEC3OwnersAreTheHashesLdnsComputes() throws {
        let now = Int64(Date().timeIntervalSince1970)
        let csk = try ZoneKey.generate(
            zone: "gslb.test.", algorithm: .ecdsap256sha256, role: .csk, timing: KeyTiming(created: now, publish: now, activate: now))
        let zone = try signedZone([csk], now: now, gslb: true)
        let signatures = try XCTUnwrap(zone.signatures).tables
        for name in ["gslb.test.", "www.gslb.test.", "b.c.gslb.test.", "geo.gslb.test.", "sub.gslb.test."] {
            let node = zone.find(WireName.fromText(name)!, length: WireName.fromText(name)!.count)
            XCTAssertGreaterThanOrEqual(node, 0, name)
            let match = signatures.matching[Int(node)]
            XCTAssertGreaterThanOrEqual(match, 0, name)
            let (owner, length) = signatures.name(of: match)
            let ours = WireName.toText(Array(UnsafeBufferPointer(start: owner, count: length)))
            let theirs = try Tool.output("/usr/bin/ldns-nsec3-hash", ["-a", "1", "-t", "0", name])
            // ldns-nsec3-hash prints the hashed label alone ("35i0...au.")
            XCTAssertEqual(ours, theirs.lowercased() + "gslb.test.", name)
        }
        // the GSLB name's NSEC3 lists the types its service answers
        let geo = WireName.fromText("geo.gslb.test.")!
        let entry = signatures.chain[Int(signatures.matching[Int(zone.find(geo, length: geo.count))])]
        let body = Array(signatures.bodies(entry.record))
        XCTAssertEqual(Array(body[10..<16]), [1, 0, 0, 0, 0, 20], "SHA-1, no opt-out, 0 iterations, no salt, 20-octet hash")
        XCTAssertEqual(Array(body[36...]), [0, 6, 0x40, 0, 0, 8, 0, 2], "window 0: A (1), AAAA (28), RRSIG (46)")
        // below the cut: no NSEC3 for the glue name
        let glue = WireName.fromText("ns.sub.gslb.test.")!
        XCTAssertEqual(signatures.matching[Int(zone.find(glue, length: glue.count))], -1)
    }

    /// Dumps the zone as text through ldns, runs ldns-verify-zone on it, returns the text.
    @discardableResult
    func verify(_ zone: CompiledZone, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        var text = ""
        for (owner, body) in zone.contents() {
            let wire = owner + body
            var rr: UnsafeMutablePointer<ldns_rr>?
            var pos = 0
            let status = wire.withUnsafeBufferPointer { ldns_wire2rr(&rr, $0.baseAddress, $0.count, &pos, LDNS_SECTION_ANSWER) }
            XCTAssertEqual(status, LDNS_STATUS_OK, file: file, line: line)
            guard let rr, let s = ldns_rr2str(rr) else { continue }
            text += String(cString: s)
            free(s)
            ldns_rr_free(rr)
        }
        let path = directory + "/signed.zone"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let output = try Tool.run("/usr/bin/ldns-verify-zone", ["-V", "2", path])
        XCTAssertTrue(output.status == 0, "ldns-verify-zone: \(output.output)\n\(text)", file: file, line: line)
        return text
    }

}
