/// An EDNS Client Subnet option as received (RFC 7871 §6), held without allocation.
///
/// Invariant (checked by `QueryParser`): `sourcePrefix` <= `address.width`, the address carries exactly
/// ceil(sourcePrefix / 8) octets on the wire and no bit of `address` beyond `sourcePrefix` is set.
public struct ClientSubnet: Equatable, Sendable {
    /// ADDRESS, in the canonical form of `IPAddress`.
    public var address: IPAddress
    public var sourcePrefix: UInt8
    /// SCOPE PREFIX-LENGTH from the query (RFC 7871 says 0; kept for diagnostics).
    public var queryScope: UInt8

    public init(address: IPAddress, sourcePrefix: UInt8, queryScope: UInt8 = 0) {
        self.address = address
        self.sourcePrefix = sourcePrefix
        self.queryScope = queryScope
    }

    /// FAMILY on the wire: 1 = IPv4, 2 = IPv6 (IANA address family numbers).
    @inlinable public var family: UInt16 { address.family == .v4 ? 1 : 2 }

    /// Number of ADDRESS octets on the wire for this source prefix (at most 16, even for a value built
    /// without `QueryParser`'s checks).
    @inlinable public var addressOctets: Int { min((Int(sourcePrefix) + 7) / 8, 16) }

    /// Octet `i` of the address as it appears on the wire.
    @inlinable public func octet(_ i: Int) -> UInt8 {
        let (high, low) = address.leftAlignedWords
        return i < 8 ? UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * i)) : UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * (i - 8)))
    }

    /// Wire length of the option body (FAMILY, SOURCE, SCOPE, ADDRESS).
    @inlinable public var bodyLength: Int { 4 + addressOctets }
}
