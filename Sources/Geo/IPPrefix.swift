#if canImport(Glibc)
import Glibc
#endif

/// An IP network: family (4 or 6), the address as an integer of the family's width, and a prefix length.
/// Invariant (enforced by `parse` and `init`): no bit beyond `length` is set.
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let family: Int
    public let address: UInt128
    public let length: Int

    public init(family: Int, address: UInt128, length: Int) {
        self.family = family
        self.length = length
        self.address = address & IPPrefix.mask(length, width: family == 4 ? 32 : 128)
    }

    @inlinable public var width: Int { family == 4 ? 32 : 128 }
    /// The last address inside the network.
    public var last: UInt128 { address | ~IPPrefix.mask(length, width: width) & IPPrefix.all(width) }

    /// `length` leading ones within `width` bits.
    @inlinable public static func mask(_ length: Int, width: Int) -> UInt128 {
        if length <= 0 { return 0 }
        let ones = all(width)
        return length >= width ? ones : ones ^ (ones >> UInt128(length))
    }

    @inlinable public static func all(_ width: Int) -> UInt128 {
        width >= 128 ? ~UInt128(0) : (UInt128(1) << UInt128(width)) - 1
    }

    /// "192.0.2.0/24", "2001:db8::/32", or a bare address (a host prefix). Host bits must be zero
    /// unless `strict` is false.
    public static func parse(_ text: String, strict: Bool = true) -> IPPrefix? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let (family, address) = parseAddress(String(parts[0])) else { return nil }
        let width = family == 4 ? 32 : 128
        var length = width
        if parts.count == 2 {
            guard let l = Int(parts[1]), (0...width).contains(l) else { return nil }
            length = l
        }
        if strict && address & ~mask(length, width: width) & all(width) != 0 { return nil }
        return IPPrefix(family: family, address: address, length: length)
    }

    /// Parses an IPv4 or IPv6 address into (family, integer).
    public static func parseAddress(_ text: String) -> (Int, UInt128)? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return (4, UInt128(UInt32(bigEndian: v4.s_addr)))
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            var value: UInt128 = 0
            withUnsafeBytes(of: v6) { for b in $0 { value = value << 8 | UInt128(b) } }
            return (6, value)
        }
        return nil
    }

    public static func formatAddress(family: Int, _ value: UInt128) -> String {
        if family == 4 {
            let v = UInt32(truncatingIfNeeded: value)
            return "\(v >> 24).\((v >> 16) & 255).\((v >> 8) & 255).\(v & 255)"
        }
        var a = in6_addr()
        withUnsafeMutableBytes(of: &a) { bytes in
            for i in 0..<16 { bytes[i] = UInt8(truncatingIfNeeded: value >> UInt128(8 * (15 - i))) }
        }
        var buffer = [CChar](repeating: 0, count: 64)
        inet_ntop(AF_INET6, &a, &buffer, 64)
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String { "\(IPPrefix.formatAddress(family: family, address))/\(length)" }

    public static func < (a: IPPrefix, b: IPPrefix) -> Bool {
        (a.family, a.address, a.length) < (b.family, b.address, b.length)
    }
}

/// Largest aligned block around `address` that stays inside [lo, hi] (all within `width` bits):
/// the widest ECS scope over which an answer decided for [lo, hi] holds (RFC 7871 §7.2.1). Returns
/// its prefix length; `width` when `address` lies outside [lo, hi].
///
/// Constant time (it runs per GSLB query): a block with k host bits is `address` with its k low bits
/// cleared up to `address` with them set. Its start stays >= lo for every k up to the highest bit
/// where `address` and `lo` differ (that bit, set in `address`, is kept), and beyond it only while
/// lo's k low bits are zero; symmetrically its end stays <= hi up to the highest bit where they
/// differ, or while hi's k low bits are ones.
@inlinable
public func widestPrefix(containing address: UInt128, within lo: UInt128, _ hi: UInt128, width: Int) -> Int {
    guard lo <= address, address <= hi else { return width }
    let loRun = min(lo.trailingZeroBitCount, width)       // lo's low zero bits
    let hiRun = min((~hi).trailingZeroBitCount, width)    // hi's low one bits
    let belowLo = address == lo ? loRun : max(127 - (address ^ lo).leadingZeroBitCount, loRun)
    let belowHi = address == hi ? hiRun : max(127 - (address ^ hi).leadingZeroBitCount, hiRun)
    return width - min(belowLo, belowHi, width)
}
