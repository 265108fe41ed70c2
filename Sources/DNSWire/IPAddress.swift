#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An IPv4 or IPv6 address: the one address representation shared by packet sources, ECS
/// (`ClientSubnet`), steering keys and the CIDR tables (Geo's `IPPrefix` is this plus a length).
///
/// Canonical form (invariant, enforced by every initializer): `value` is the address as an unsigned
/// integer of the family's width, first octet most significant. IPv6 fills all 128 bits; IPv4 fills the
/// low 32 bits and the upper 96 are zero (192.0.2.1 is 0xC000_0201). An IPv4-mapped IPv6 address
/// (::ffff:a.b.c.d) stays an IPv6 address: nothing here converts it to IPv4.
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Address family; the raw value is the IP version.
    public enum Family: Int, Hashable, Sendable {
        case v4 = 4
        case v6 = 6

        /// Address width in bits.
        @inlinable public var width: Int { self == .v4 ? 32 : 128 }
    }

    // `value` stored as two words and the family after them: 8-byte alignment and 17 bytes, so that
    // the types embedding an address (ClientSubnet, ParsedQuery) are not padded to UInt128's 16-byte
    // alignment and can pack their small fields after it.
    @usableFromInline let high: UInt64
    @usableFromInline let low: UInt64
    public let family: Family

    /// Bits of `value` beyond the family's width are dropped (canonical form).
    @inlinable public init(family: Family, value: UInt128) {
        let v = value & IPAddress.all(family.width)
        self.family = family
        self.high = UInt64(truncatingIfNeeded: v >> 64)
        self.low = UInt64(truncatingIfNeeded: v)
    }

    /// From the two words of `value`, already in canonical form (IPv4: `high` 0, `low` < 2^32).
    @inlinable init(family: Family, high: UInt64, low: UInt64) {
        self.family = family
        self.high = high
        self.low = low
    }

    /// The address as an integer of `family.width` bits (see the canonical form above).
    @inlinable public var value: UInt128 { UInt128(high) << 64 | UInt128(low) }

    @inlinable public var width: Int { family.width }

    // MARK: prefixes

    /// `length` leading ones within `width` bits (0 for length <= 0, all ones for length >= width).
    @inlinable @inline(__always) public static func mask(_ length: Int, width: Int) -> UInt128 {
        if length <= 0 { return 0 }
        let ones = all(width)
        return length >= width ? ones : ones ^ (ones >> UInt128(length))
    }

    /// The `width` low bits set.
    @inlinable @inline(__always) public static func all(_ width: Int) -> UInt128 {
        width >= 128 ? ~UInt128(0) : (UInt128(1) << UInt128(width)) - 1
    }

    /// The network of `length` bits containing this address (host bits cleared).
    @inlinable public func masked(to length: Int) -> IPAddress {
        IPAddress(family: family, value: value & IPAddress.mask(length, width: width))
    }

    // MARK: wire form

    /// The address left-aligned in 128 bits (IPv4 in the top 32): the order of its octets on the wire,
    /// as in the ECS ADDRESS field (RFC 7871 §6).
    @inlinable public var leftAligned: UInt128 {
        let (high, low) = leftAlignedWords
        return UInt128(high) << 64 | UInt128(low)
    }

    /// `leftAligned` as two words, most significant first.
    @inlinable public var leftAlignedWords: (UInt64, UInt64) { family == .v4 ? (low << 32, 0) : (high, low) }

    /// The inverse of `leftAligned`: an IPv4 address is read from the top 32 bits.
    @inlinable public init(family: Family, leftAligned: UInt128) {
        self.init(family: family, leftAlignedWords: (UInt64(truncatingIfNeeded: leftAligned >> 64), UInt64(truncatingIfNeeded: leftAligned)))
    }

    /// The inverse of `leftAlignedWords`.
    @inlinable public init(family: Family, leftAlignedWords words: (UInt64, UInt64)) {
        if family == .v4 {
            self.init(family: .v4, high: 0, low: words.0 >> 32)
        } else {
            self.init(family: .v6, high: words.0, low: words.1)
        }
    }

    /// Decodes a socket address (`sockaddr_in` or `sockaddr_in6`, read without alignment
    /// assumptions); nil for any other family. The one decoder of peer addresses, for UDP and TCP.
    /// The address fields sit at fixed offsets: `sin_addr` at 4 (after family and port, <netinet/in.h>)
    /// and `sin6_addr` at 8 (after family, port and flow information, RFC 3493 §3.3); IPAddressTests
    /// checks both against the C headers.
    @inlinable public init?(sockaddr raw: UnsafeRawPointer) {
        switch Int32(raw.loadUnaligned(as: sa_family_t.self)) {
        case AF_INET:
            let a = raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            self.init(family: .v4, value: UInt128(UInt32(bigEndian: a)))
        case AF_INET6:
            let a = raw.loadUnaligned(fromByteOffset: 8, as: UInt128.self)
            self.init(family: .v6, value: UInt128(bigEndian: a))
        default:
            return nil
        }
    }

    // MARK: text (control plane: allocates)

    /// Parses dotted-quad IPv4 or RFC 4291 §2.2 IPv6 text (inet_pton's grammar); nil otherwise.
    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(family: .v4, value: UInt128(UInt32(bigEndian: v4.s_addr)))
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        self.init(family: .v6, value: UInt128(bigEndian: withUnsafeBytes(of: v6) { $0.loadUnaligned(as: UInt128.self) }))
    }

    /// Dotted-quad IPv4; IPv6 as inet_ntop writes it (RFC 5952 compression).
    public var description: String {
        if family == .v4 {
            let v = UInt32(truncatingIfNeeded: value)
            return "\(v >> 24).\((v >> 16) & 255).\((v >> 8) & 255).\(v & 255)"
        }
        var a = in6_addr()
        withUnsafeMutableBytes(of: &a) { $0.storeBytes(of: value.bigEndian, as: UInt128.self) }
        var buffer = [CChar](repeating: 0, count: 64)
        inet_ntop(AF_INET6, &a, &buffer, 64)
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// IPv4 before IPv6, then by value.
    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        (a.family.rawValue, a.value) < (b.family.rawValue, b.value)
    }
}
