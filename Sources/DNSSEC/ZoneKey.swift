import CLDNS
import DNSWire
import SourceFiles

/// One DNSSEC key of a zone: the private key (held by ldns), its DNSKEY RDATA and key tag, its role
/// and its timing. Generated here or read from BIND-format key files (`KeyFiles`).
///
/// Signing sets the key's validity period inside ldns before each call, so one key signs from one
/// thread at a time; `ZoneSigner` (the only signer) calls it from the control plane only.
public final class ZoneKey: @unchecked Sendable {
    /// The zone, lower case, with the trailing dot.
    public let zone: String
    public let algorithm: SigningAlgorithm
    /// DNSKEY flags: 257 for a KSK or CSK, 256 for a ZSK.
    public let flags: UInt16
    /// The key tag (RFC 4034 Appendix B).
    public let tag: UInt16
    /// The DNSKEY RDATA: flags, protocol 3, algorithm, public key (RFC 4034 §2.1).
    public let dnskeyRDATA: [UInt8]
    public var timing: KeyTiming
    /// ldns's key, and a one-key list that owns it (`ldns_sign_public` takes a list).
    let list: UnsafeMutablePointer<ldns_key_list>
    let key: UnsafeMutablePointer<ldns_key>

    /// KSK or CSK (the Secure Entry Point flag): signs the DNSKEY RRset and is the one the parent's DS names.
    public var isSecureEntryPoint: Bool { flags & 1 != 0 }

    /// `K<zone>+<algorithm>+<tag>`, the base name of the key's files (BIND's and ldns's convention).
    public var baseName: String {
        func padded(_ v: Int, _ width: Int) -> String {
            let text = String(v)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "K\(zone)+\(padded(Int(algorithm.rawValue), 3))+\(padded(Int(tag), 5))"
    }

    /// Takes ownership of `key`, whose owner name and flags are already set.
    init(zone: String, algorithm: SigningAlgorithm, key: UnsafeMutablePointer<ldns_key>, timing: KeyTiming) throws {
        guard let rr = ldns_key2rr(key) else {
            ldns_key_deep_free(key)
            throw DNSSECError("cannot derive the DNSKEY of a \(algorithm.name) key for \(zone)")
        }
        defer { ldns_rr_free(rr) }
        self.zone = zone
        self.algorithm = algorithm
        self.flags = ldns_key_flags(key)
        self.tag = ldns_calc_keytag(rr)
        self.dnskeyRDATA = ZoneKey.rdata(of: rr)
        self.timing = timing
        ldns_key_set_keytag(key, tag)
        self.key = key
        self.list = ldns_key_list_new()
        _ = ldns_key_list_push_key(list, key)
    }

    deinit {
        ldns_key_list_free(list) // frees the key too
    }

    /// A new key for `zone` (presentation form) with the role's flags; `timing` says when it is used.
    public static func generate(zone: String, algorithm: SigningAlgorithm, role: KeyRole, timing: KeyTiming) throws -> ZoneKey {
        let zone = ZoneKey.canonical(zone)
        guard let key = ldns_key_new_frm_algorithm(algorithm.ldns, algorithm.bits) else {
            throw DNSSECError("ldns could not generate a \(algorithm.name) key")
        }
        return try adopt(key, zone: zone, algorithm: algorithm, role: role, timing: timing)
    }

    /// Takes ownership of ldns's `key` (its private key set), gives it `zone` (canonical) as owner and
    /// the role's flags: the last step of `generate` and `fromPEM`.
    static func adopt(
        _ key: UnsafeMutablePointer<ldns_key>, zone: String, algorithm: SigningAlgorithm, role: KeyRole, timing: KeyTiming
    ) throws -> ZoneKey {
        guard let owner = ldns_dname_new_frm_str(zone) else {
            ldns_key_deep_free(key)
            throw DNSSECError("'\(zone)' is not a domain name")
        }
        ldns_key_set_pubkey_owner(key, owner)
        ldns_key_set_flags(key, role.flags)
        return try ZoneKey(zone: zone, algorithm: algorithm, key: key, timing: timing)
    }

    /// The DNSKEY record in presentation form (`zone. TTL IN DNSKEY flags 3 alg key`).
    public func dnskeyText(ttl: UInt32) -> String {
        withRR(type: DNSType.dnskey, ttl: ttl, rdata: dnskeyRDATA) { rr in
            guard let text = ldns_rr2str(rr) else { return "" }
            defer { free(text) }
            // ldns appends a comment with the key id and size
            return String(cString: text).split(separator: ";", maxSplits: 1)[0].trimmingWhitespace().description
        } ?? ""
    }

    /// The private key in BIND's private key format (v1.3, with the timing metadata).
    var privateText: String {
        guard let text = ldns_key2str(key) else { return "" }
        defer { free(text) }
        var lines = String(cString: text).split(separator: "\n").map(String.init)
        if let first = lines.first, first.hasPrefix("Private-key-format:") { lines[0] = "Private-key-format: v1.3" }
        for (name, time) in timing.lines { lines.append("\(name): \(KeyTime.format(time))") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The zone name as keys carry it: lower case, one trailing dot.
    static func canonical(_ zone: String) -> String {
        let lower = zone.lowercased()
        return lower.hasSuffix(".") ? lower : lower + "."
    }

    /// The RDATA of an ldns record in wire form.
    static func rdata(of rr: UnsafeMutablePointer<ldns_rr>) -> [UInt8] {
        var bytes: [UInt8] = []
        for i in 0..<ldns_rr_rd_count(rr) {
            let rdf = ldns_rr_rdf(rr, i)!
            bytes += UnsafeBufferPointer(start: ldns_rdf_data(rdf), count: ldns_rdf_size(rdf))
        }
        return bytes
    }

    /// Calls `body` with an ldns record at the zone's apex (freed afterwards), nil when ldns cannot
    /// read the RDATA as the type.
    func withRR<R>(type: UInt16, ttl: UInt32, rdata: [UInt8], _ body: (UnsafeMutablePointer<ldns_rr>) -> R) -> R? {
        guard let owner = WireName.fromText(zone) else { return nil }
        var wire = owner
        wire += [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        wire += [UInt8(ttl >> 24), UInt8(ttl >> 16 & 0xFF), UInt8(ttl >> 8 & 0xFF), UInt8(ttl & 0xFF)]
        wire += [UInt8(rdata.count >> 8), UInt8(rdata.count & 0xFF)] + rdata
        var rr: UnsafeMutablePointer<ldns_rr>?
        var pos = 0
        let status = wire.withUnsafeBufferPointer { ldns_wire2rr(&rr, $0.baseAddress, $0.count, &pos, LDNS_SECTION_ANSWER) }
        guard status == LDNS_STATUS_OK, let rr else { return nil }
        defer { ldns_rr_free(rr) }
        return body(rr)
    }
}

/// A DNSSEC key or signing problem (no file:line: key files are checked as a whole).
public struct DNSSECError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension ZoneKey {
    /// The RRSIG RDATA over `rrset` (an ldns list of one RRset; ldns puts it in canonical form and
    /// order, RFC 4034 §6), valid from `inception` to `expiration`.
    func sign(_ rrset: UnsafeMutablePointer<ldns_rr_list>, inception: Int64, expiration: Int64) throws -> [UInt8] {
        ldns_key_set_inception(key, UInt32(truncatingIfNeeded: inception))
        ldns_key_set_expiration(key, UInt32(truncatingIfNeeded: expiration))
        guard let signatures = ldns_sign_public(rrset, list) else {
            throw DNSSECError("ldns could not sign with key \(tag) of \(zone)")
        }
        defer { ldns_rr_list_deep_free(signatures) }
        guard ldns_rr_list_rr_count(signatures) == 1, let rrsig = ldns_rr_list_rr(signatures, 0) else {
            throw DNSSECError("ldns made no signature with key \(tag) of \(zone)")
        }
        return ZoneKey.rdata(of: rrsig)
    }
}
