/// An EDNS Client Subnet option as received (RFC 7871 §6), held without allocation.
///
/// Invariant (checked by `QueryParser`): `sourcePrefix` <= 32 for IPv4 and <= 128 for IPv6, the address
/// carries exactly ceil(sourcePrefix / 8) octets on the wire and no bit beyond `sourcePrefix` is set.
public struct ClientSubnet: Equatable, Sendable {
    /// Address family: 1 = IPv4, 2 = IPv6 (IANA address family numbers).
    public var family: UInt16
    public var sourcePrefix: UInt8
    /// SCOPE PREFIX-LENGTH from the query (RFC 7871 says 0; kept for diagnostics).
    public var queryScope: UInt8
    /// Address, left-aligned in 128 bits (IPv4 in the top 32 bits of `high`).
    public var high: UInt64
    public var low: UInt64

    public init(family: UInt16, sourcePrefix: UInt8, queryScope: UInt8 = 0, high: UInt64, low: UInt64) {
        self.family = family
        self.sourcePrefix = sourcePrefix
        self.queryScope = queryScope
        self.high = high
        self.low = low
    }

    /// Number of ADDRESS octets on the wire for this source prefix (at most the 16 that `high` and
    /// `low` hold, even for a value built without `QueryParser`'s checks).
    @inlinable public var addressOctets: Int { min((Int(sourcePrefix) + 7) / 8, 16) }

    /// Octet `i` of the left-aligned address.
    @inlinable public func octet(_ i: Int) -> UInt8 {
        i < 8 ? UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * i)) : UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * (i - 8)))
    }

    /// Wire length of the option body (FAMILY, SOURCE, SCOPE, ADDRESS).
    @inlinable public var bodyLength: Int { 4 + addressOctets }
}

/// The client's transport address (the packet source), left-aligned like `ClientSubnet`.
public struct ClientAddress: Equatable, Sendable {
    public var family: UInt16
    public var high: UInt64
    public var low: UInt64
    public init(family: UInt16, high: UInt64, low: UInt64) {
        self.family = family
        self.high = high
        self.low = low
    }
    public static let none = ClientAddress(family: 0, high: 0, low: 0)
}
