import CLDNS

/// A DNSSEC signing algorithm Meridian generates keys for and signs with (IANA DNS Security Algorithm
/// Numbers). Both are the ones RFC 8624 §3.1 recommends for signing: small keys and signatures, so
/// that signed answers stay within 1232 octets.
public enum SigningAlgorithm: UInt8, Sendable, CaseIterable {
    /// ECDSA P-256 with SHA-256 (RFC 6605).
    case ecdsap256sha256 = 13
    /// Ed25519 (RFC 8080).
    case ed25519 = 15

    /// The name used on the command line and in the config.
    public var name: String {
        switch self {
        case .ecdsap256sha256: return "ecdsap256sha256"
        case .ed25519: return "ed25519"
        }
    }

    /// The mnemonic BIND writes in a private key file's `Algorithm:` line.
    var mnemonic: String {
        switch self {
        case .ecdsap256sha256: return "ECDSAP256SHA256"
        case .ed25519: return "ED25519"
        }
    }

    /// Key size in bits, as ldns's generator takes it.
    var bits: UInt16 { 256 }

    var ldns: ldns_signing_algorithm {
        switch self {
        case .ecdsap256sha256: return LDNS_SIGN_ECDSAP256SHA256
        case .ed25519: return LDNS_SIGN_ED25519
        }
    }

    public init?(name: String) {
        guard let a = SigningAlgorithm.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = a
    }
}

/// What a key signs (RFC 6781 §3.1): the DNSKEY RRset (KSK), the rest of the zone (ZSK), or both (CSK).
public enum KeyRole: String, Sendable, CaseIterable {
    case ksk, zsk, csk

    /// DNSKEY flags: Zone Key (256), plus Secure Entry Point (1) for a KSK or CSK (RFC 4034 §2.1.1).
    public var flags: UInt16 { self == .zsk ? 256 : 257 }
    /// Signs the DNSKEY, CDS and CDNSKEY RRsets.
    public var signsKeys: Bool { self != .zsk }
    /// Signs every other RRset.
    public var signsZone: Bool { self != .ksk }
}
