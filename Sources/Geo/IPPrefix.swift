import DNSWire

/// An IP network: an `IPAddress` with its host bits cleared and a prefix length (CIDR tables, `explain`).
/// Invariant (enforced by `parse` and `init`): no bit of `network` beyond `length` is set.
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let network: IPAddress
    public let length: Int

    public init(network: IPAddress, length: Int) {
        self.network = network.masked(to: length)
        self.length = length
    }

    /// `family` is the IP version (4 or 6), `address` an integer of that family's width.
    public init(family: Int, address: UInt128, length: Int) {
        self.init(network: IPAddress(family: family == 4 ? .v4 : .v6, value: address), length: length)
    }

    /// The IP version, 4 or 6 (the partition tables are kept per family).
    @inlinable public var family: Int { network.family.rawValue }
    /// The network address as an integer of the family's width (`IPAddress.value`).
    @inlinable public var address: UInt128 { network.value }
    @inlinable public var width: Int { network.width }
    /// The last address inside the network.
    public var last: UInt128 { address | ~IPAddress.mask(length, width: width) & IPAddress.all(width) }

    /// `IPAddress.mask`, for the tables' integer arithmetic.
    @inlinable public static func mask(_ length: Int, width: Int) -> UInt128 { IPAddress.mask(length, width: width) }

    /// `IPAddress.all`, for the tables' integer arithmetic.
    @inlinable public static func all(_ width: Int) -> UInt128 { IPAddress.all(width) }

    /// "192.0.2.0/24", "2001:db8::/32", or a bare address (a host prefix). Host bits must be zero
    /// unless `strict` is false.
    public static func parse(_ text: String, strict: Bool = true) -> IPPrefix? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(String(parts[0])) else { return nil }
        let width = address.width
        var length = width
        if parts.count == 2 {
            guard let l = Int(parts[1]), (0...width).contains(l) else { return nil }
            length = l
        }
        if strict && address.masked(to: length) != address { return nil }
        return IPPrefix(network: address, length: length)
    }

    /// `IPAddress` text parsing, as (IP version, integer) for the tables.
    public static func parseAddress(_ text: String) -> (Int, UInt128)? {
        IPAddress(text).map { ($0.family.rawValue, $0.value) }
    }

    /// `IPAddress` text of (IP version, integer).
    public static func formatAddress(family: Int, _ value: UInt128) -> String {
        IPAddress(family: family == 4 ? .v4 : .v6, value: value).description
    }

    public var description: String { "\(network)/\(length)" }

    /// Whether `address` lies inside this network (of the same family).
    public func contains(_ address: IPAddress) -> Bool {
        address.family == network.family && address.masked(to: length) == network
    }

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
    let loRun = min(lo.trailingZeroBitCount, width) // lo's low zero bits
    let hiRun = min((~hi).trailingZeroBitCount, width) // hi's low one bits
    let belowLo = address == lo ? loRun : max(127 - (address ^ lo).leadingZeroBitCount, loRun)
    let belowHi = address == hi ? hiRun : max(127 - (address ^ hi).leadingZeroBitCount, hiRun)
    return width - min(belowLo, belowHi, width)
}
