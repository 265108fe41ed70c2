/// DNS protocol numbers used by the codec and the engine (RFC 1035 §3.2, §4.1.1; RFC 6891; RFC 7871).
public enum DNSType {
    public static let a: UInt16 = 1
    public static let ns: UInt16 = 2
    public static let cname: UInt16 = 5
    public static let soa: UInt16 = 6
    public static let ptr: UInt16 = 12
    public static let mx: UInt16 = 15
    public static let txt: UInt16 = 16
    public static let aaaa: UInt16 = 28
    public static let srv: UInt16 = 33
    public static let opt: UInt16 = 41
    public static let ds: UInt16 = 43
    public static let rrsig: UInt16 = 46
    public static let nsec: UInt16 = 47
    public static let dnskey: UInt16 = 48
    public static let nsec3: UInt16 = 50
    public static let nsec3param: UInt16 = 51
    public static let cds: UInt16 = 59
    public static let cdnskey: UInt16 = 60
    public static let tkey: UInt16 = 249
    public static let tsig: UInt16 = 250
    public static let ixfr: UInt16 = 251
    public static let axfr: UInt16 = 252
    public static let maila: UInt16 = 253
    public static let mailb: UInt16 = 254
    public static let any: UInt16 = 255
}

/// DNS classes (RFC 1035 §3.2.4, RFC 2136 for NONE).
public enum DNSClass {
    public static let `in`: UInt16 = 1
    public static let chaos: UInt16 = 3
    public static let any: UInt16 = 255
}

/// Response codes, including the 12-bit extended ones carried in OPT (RFC 6891 §6.1.3).
public enum RCode {
    public static let noError: UInt16 = 0
    public static let formErr: UInt16 = 1
    public static let servFail: UInt16 = 2
    public static let nxDomain: UInt16 = 3
    public static let notImp: UInt16 = 4
    public static let refused: UInt16 = 5
    public static let notAuth: UInt16 = 9
    public static let badVers: UInt16 = 16
    /// RFC 7873 §8: bad or missing server cookie (header RCODE 7, OPT extended RCODE 1).
    public static let badCookie: UInt16 = 23
}

/// Header flag bits in the second 16-bit word of the header (RFC 1035 §4.1.1).
public enum HeaderFlag {
    public static let qr: UInt16 = 0x8000
    public static let aa: UInt16 = 0x0400
    public static let tc: UInt16 = 0x0200
    public static let rd: UInt16 = 0x0100
    public static let ra: UInt16 = 0x0080
    public static let cd: UInt16 = 0x0010
    public static let opcodeMask: UInt16 = 0x7800
}

/// EDNS option codes (IANA "DNS EDNS0 Option Codes").
public enum EDNSOption {
    public static let nsid: UInt16 = 3 // RFC 5001
    public static let clientSubnet: UInt16 = 8 // RFC 7871
    public static let cookie: UInt16 = 10 // RFC 7873
    public static let tcpKeepalive: UInt16 = 11 // RFC 7828
}

/// Fixed sizes of the wire format.
public enum WireLimits {
    /// RFC 1035 §2.3.4: a name is at most 255 octets in wire form.
    public static let maxNameLength = 255
    /// RFC 1035 §2.3.4: a label is at most 63 octets.
    public static let maxLabelLength = 63
    public static let headerLength = 12
    /// RFC 1035 §4.2.1: UDP messages without EDNS are at most 512 octets.
    public static let classicUDPSize = 512
    /// RFC 7766 §8: TCP messages are at most 65535 octets.
    public static let maxTCPMessage = 65535
}
