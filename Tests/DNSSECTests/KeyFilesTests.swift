import DNSSEC
import Foundation
import TestSupport
import XCTest

/// Keys written and read as BIND-format files: a round trip, keys made by ldns-keygen, the DS as an
/// independent SHA-256 computes it, and every kind of bad key directory refused with the file named.
final class KeyFilesTests: XCTestCase {
    var directory = ""

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-keys-\(UUID().uuidString)").path
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testKeyTimeIsBINDsUTCForm() {
        XCTAssertEqual(KeyTime.parse("20261207050000"), 1_796_619_600)
        XCTAssertEqual(KeyTime.format(1_796_619_600), "20261207050000")
        XCTAssertEqual(KeyTime.format(0), "19700101000000")
        XCTAssertEqual(KeyTime.parse("20240229235959").map(KeyTime.format), "20240229235959")
        XCTAssertNil(KeyTime.parse("20261307050000"), "month 13")
        XCTAssertNil(KeyTime.parse("2026120705000"), "13 digits")
        XCTAssertNil(KeyTime.parse("2026120705000x"))
    }

    func testWrittenKeysReadBackAlike() throws {
        for algorithm in SigningAlgorithm.allCases {
            for role in KeyRole.allCases {
                let timing = KeyTiming(created: 1_796_619_600, publish: 1_796_619_600, activate: 1_796_623_200, inactive: 1_800_000_000)
                let key = try ZoneKey.generate(zone: "GSLB.Example.com", algorithm: algorithm, role: role, timing: timing)
                XCTAssertEqual(key.zone, "gslb.example.com.")
                XCTAssertEqual(key.flags, role == .zsk ? 256 : 257)
                let base = try KeyFiles.write(key, ttl: 3600, directory: directory)
                XCTAssertTrue(base.hasSuffix("/\(key.baseName)"))
                let mode = try FileManager.default.attributesOfItem(atPath: base + ".private")[.posixPermissions] as? Int
                XCTAssertEqual(mode, 0o600, "the private key is readable by its owner only")
                let loaded = try XCTUnwrap(KeyFiles.load(zone: "gslb.example.com.", directory: directory).first { $0.tag == key.tag })
                XCTAssertEqual(loaded.dnskeyRDATA, key.dnskeyRDATA)
                XCTAssertEqual(loaded.algorithm, algorithm)
                XCTAssertEqual(loaded.flags, key.flags)
                XCTAssertEqual(loaded.timing, timing)
                XCTAssertThrowsError(try KeyFiles.write(key, ttl: 3600, directory: directory), "never overwrites a key")
            }
        }
        XCTAssertEqual(try KeyFiles.load(zone: "gslb.example.com", directory: directory).count, 6)
        XCTAssertEqual(try KeyFiles.load(zone: "other.example.com", directory: directory).count, 0, "keys of other zones are not taken")
    }

    func testKeysFromLdnsKeygenLoad() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ksk = try Tool.output("/usr/bin/ldns-keygen", ["-a", "ECDSAP256SHA256", "-k", "gslb.example.com"], in: directory)
        let zsk = try Tool.output("/usr/bin/ldns-keygen", ["-a", "ED25519", "gslb.example.com"], in: directory)
        let keys = try KeyFiles.load(zone: "gslb.example.com.", directory: directory)
        XCTAssertEqual(Set(keys.map(\.baseName)), [ksk, zsk])
        let k = try XCTUnwrap(keys.first { $0.baseName == ksk })
        XCTAssertTrue(k.isSecureEntryPoint)
        XCTAssertEqual(k.algorithm, .ecdsap256sha256)
        XCTAssertNotNil(k.timing.activate, "a key file without timing is active since it was written")
        XCTAssertTrue(k.timing.isActive(at: Int64(Date().timeIntervalSince1970) + 1))
        // ldns-keygen's own DS file (SHA-256) names the same digest as ours
        let theirs = try String(contentsOfFile: directory + "/" + ksk + ".ds", encoding: .utf8)
        let ours = try XCTUnwrap(k.dsText())
        XCTAssertEqual(ours.split(separator: " ").suffix(4).joined(separator: " ").uppercased(), fields(theirs).suffix(4).joined(separator: " ").uppercased())
    }

    func testDSDigestIsSHA256OfOwnerAndDNSKEY() throws {
        let key = try ZoneKey.generate(zone: "gslb.example.com.", algorithm: .ecdsap256sha256, role: .csk, timing: KeyTiming(created: 0))
        let ds = try XCTUnwrap(key.dsText(ttl: 600))
        let parts = ds.split(separator: " ")
        XCTAssertEqual(Array(parts.prefix(7)).map(String.init), ["gslb.example.com.", "600", "IN", "DS", "\(key.tag)", "13", "2"])
        // an independent digest: SHA-256 over the owner's wire form and the DNSKEY RDATA (RFC 4034 §5.1.4)
        let owner: [UInt8] = [4] + Array("gslb".utf8) + [7] + Array("example".utf8) + [3] + Array("com".utf8) + [0]
        let hex = (owner + key.dnskeyRDATA).map { String(format: "%02x", $0) }.joined()
        let digest = try Tool.output("/usr/bin/python3", ["-c", "import hashlib,sys; print(hashlib.sha256(bytes.fromhex(sys.argv[1])).hexdigest())", hex])
        XCTAssertEqual(String(parts[7]).lowercased(), digest)
    }

    func testBadKeyDirectoriesAreRefusedWithTheFileNamed() throws {
        let key = try ZoneKey.generate(zone: "z.test.", algorithm: .ecdsap256sha256, role: .csk, timing: KeyTiming(created: 0))
        let other = try ZoneKey.generate(zone: "z.test.", algorithm: .ecdsap256sha256, role: .zsk, timing: KeyTiming(created: 0))
        let base = try KeyFiles.write(key, ttl: 3600, directory: directory)
        let otherBase = try KeyFiles.write(other, ttl: 3600, directory: directory + "/other")
        func expectRefusal(_ containing: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try KeyFiles.load(zone: "z.test.", directory: directory), file: file, line: line) { error in
                XCTAssertTrue("\(error)".contains(containing), "\(error)", file: file, line: line)
            }
        }
        let good = try String(contentsOfFile: base + ".private", encoding: .utf8)
        let goodPublic = try String(contentsOfFile: base + ".key", encoding: .utf8)

        try "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: AAAA\n".write(toFile: base + ".private", atomically: true, encoding: .utf8)
        expectRefusal(base + ".private")
        try (good + "Inactive: tomorrow\n").write(toFile: base + ".private", atomically: true, encoding: .utf8)
        expectRefusal("Inactive is not a time")
        try good.write(toFile: base + ".private", atomically: true, encoding: .utf8)

        try FileManager.default.removeItem(atPath: base + ".key")
        expectRefusal(base + ".key")
        // the public half of another key
        try String(contentsOfFile: otherBase + ".key", encoding: .utf8).write(toFile: base + ".key", atomically: true, encoding: .utf8)
        expectRefusal("does not belong to")
        try goodPublic.replacingOccurrences(of: "z.test.", with: "y.test.").write(toFile: base + ".key", atomically: true, encoding: .utf8)
        expectRefusal("is not the zone z.test.")
        try goodPublic.write(toFile: base + ".key", atomically: true, encoding: .utf8)
        XCTAssertEqual(try KeyFiles.load(zone: "z.test.", directory: directory).map(\.tag), [key.tag])
    }

    /// Runs a tool (in `directory` when given), expects exit 0, returns its output trimmed.
    @discardableResult

    func fields(_ text: String) -> [String] { text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init) }
}
