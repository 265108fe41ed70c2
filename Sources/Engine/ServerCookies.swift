import DNSWire

/// DNS cookies (RFC 7873) with interoperable server cookies (RFC 9018): the server secrets of one NS
/// set, and how a server cookie is made and checked. Part of the snapshot: the secrets change only by
/// a config change and reload, so every instance given the same secrets accepts the others' cookies.
///
/// A server cookie (RFC 9018 §4) is 16 octets: version 1, three reserved octets, a 32-bit timestamp
/// (seconds since 1970, big-endian) and an 8-octet hash, SipHash-2-4 under the secret of
/// client cookie | version | reserved | timestamp | client address (4 or 16 octets), 20 or 32 octets
/// in all. The hash is written as the little-endian octets of the 64-bit result (the reference code's
/// output, and RFC 9018 Appendix A's vectors).
public struct ServerCookies: Sendable, Equatable {
    /// A 128-bit server secret: its 16 octets as two little-endian words (SipHash's key).
    public struct Secret: Sendable, Equatable {
        public let k0: UInt64
        public let k1: UInt64

        /// From exactly 16 octets; nil otherwise.
        public init?(_ octets: [UInt8]) {
            guard octets.count == 16 else { return nil }
            var k0: UInt64 = 0
            var k1: UInt64 = 0
            for i in 0..<8 {
                k0 |= UInt64(octets[i]) << UInt64(8 * i)
                k1 |= UInt64(octets[8 + i]) << UInt64(8 * i)
            }
            self.k0 = k0
            self.k1 = k1
        }

        /// From 32 hexadecimal digits; nil otherwise.
        public init?(hex: String) {
            let digits = Array(hex.utf8)
            guard digits.count == 32 else { return nil }
            var octets: [UInt8] = []
            for i in stride(from: 0, to: 32, by: 2) {
                guard let hi = Secret.nibble(digits[i]), let lo = Secret.nibble(digits[i + 1]) else { return nil }
                octets.append(hi << 4 | lo)
            }
            self.init(octets)
        }

        static func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
    }

    /// Cookies answered at all; when false the COOKIE option is ignored (RFC 7873 §5.2.1), though a
    /// malformed one still gets FORMERR.
    public let enabled: Bool
    /// Server cookies are made with this secret and checked against it.
    public let secret: Secret
    /// A secret being rotated out: cookies made with it are still accepted (RFC 9018 §5 stages 1-2).
    public let previous: Secret?

    /// A server cookie is valid this long after its timestamp, and this far ahead of our clock
    /// (RFC 9018 §4.3: 1 hour past, 5 minutes future).
    public static let maxAge: UInt32 = 3600
    public static let maxAhead: UInt32 = 300
    /// A valid cookie older than this is answered with a new one (RFC 9018 §4.3: half an hour).
    public static let renewAfter: UInt32 = 1800

    public init(enabled: Bool, secret: Secret, previous: Secret? = nil) {
        self.enabled = enabled
        self.secret = secret
        self.previous = previous
    }

    /// Cookies off (tests and snapshots built without a config).
    public static let disabled = ServerCookies(enabled: false, secret: Secret([UInt8](repeating: 0, count: 16))!)

    /// What the COOKIE option of a query proved.
    public enum Check: Equatable, Sendable {
        /// A client cookie alone, or with a server cookie that is not ours, too old or from the future
        /// (RFC 7873 §5.2.3, §5.2.4): answered as usual with a new server cookie.
        case clientOnly
        /// A server cookie made by this NS set for this client within the last hour (§5.2.5); `renew`
        /// when it is older than half an hour.
        case valid(renew: Bool)
    }

    /// Checks a COOKIE option's body (`length` octets at `option`: 8, or 16...40) sent by `client` at
    /// `now` (seconds since 1970). Only version 1 server cookies of 16 octets are ours (RFC 9018 §4).
    public func check(_ option: UnsafeRawPointer, length: Int, client: IPAddress, now: UInt32) -> Check {
        guard length == 24, option.load(fromByteOffset: 8, as: UInt8.self) == 1 else { return .clientOnly }
        let stamp = UInt32(bigEndian: option.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        // RFC 1982 serial arithmetic: age in (-maxAhead, maxAge]
        let age = now &- stamp
        guard age <= ServerCookies.maxAge || (0 &- age) <= ServerCookies.maxAhead else { return .clientOnly }
        let sent = option.loadUnaligned(fromByteOffset: 16, as: UInt64.self) // the hash octets as they are
        let versionAndReserved = option.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let clientCookie = option.loadUnaligned(as: UInt64.self)
        if ServerCookies.hash(clientCookie, versionAndReserved, stamp, client, secret).littleEndian == sent
            || (previous.map { ServerCookies.hash(clientCookie, versionAndReserved, stamp, client, $0).littleEndian == sent } ?? false)
        {
            return .valid(renew: age <= ServerCookies.maxAge && age > ServerCookies.renewAfter)
        }
        return .clientOnly
    }

    /// Writes the 16-octet server cookie for the client cookie at `clientCookie` (8 octets), `client`
    /// and `now` to `out`, made with the current secret.
    public func make(clientCookie: UnsafeRawPointer, client: IPAddress, now: UInt32, into out: UnsafeMutableRawPointer) {
        let versionAndReserved = UInt32(1).littleEndian // octets 01 00 00 00
        out.storeBytes(of: versionAndReserved, as: UInt32.self)
        out.storeBytes(of: now.bigEndian, toByteOffset: 4, as: UInt32.self)
        let h = ServerCookies.hash(clientCookie.loadUnaligned(as: UInt64.self), versionAndReserved, now, client, secret)
        out.storeBytes(of: h.littleEndian, toByteOffset: 8, as: UInt64.self)
    }

    /// SipHash-2-4 of client cookie | version | reserved | timestamp | address (RFC 9018 §4.4).
    /// `clientCookie` and `versionAndReserved` are the octets as sent (loaded in memory order).
    @inline(__always)
    static func hash(_ clientCookie: UInt64, _ versionAndReserved: UInt32, _ stamp: UInt32, _ client: IPAddress, _ key: Secret) -> UInt64 {
        var message: (UInt64, UInt32, UInt32, UInt64, UInt64) = (0, 0, 0, 0, 0)
        message.0 = clientCookie
        message.1 = versionAndReserved
        message.2 = stamp.bigEndian
        let (high, low) = client.leftAlignedWords
        message.3 = high.bigEndian
        message.4 = low.bigEndian
        let length = client.family == .v4 ? 20 : 32
        return withUnsafeBytes(of: &message) { SipHash24.hash($0.baseAddress!, count: length, k0: key.k0, k1: key.k1) }
    }
}

/// The COOKIE option Meridian answers with: code, length, 8-octet client cookie, 16-octet server cookie.
enum ServerCookieOption {
    static let length = 4 + 8 + 16
}
