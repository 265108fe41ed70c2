import DNSWire

/// Response rate limiting as configured (`rrl:`), compiled into the snapshot (a reload changes it; the
/// tables themselves belong to the workers, `ResponseRateLimiter`). Immutable; the query path reads it
/// through `Snapshot.rateLimitRef`, without reference counting.
///
/// The model is Knot's, NSD's and BIND's RRL: responses are counted per client network (`v4Prefix`,
/// `v6Prefix`) and response class, `rate` per second each; over the limit every `slip`-th response is
/// sent truncated (TC=1, so a real client retries over TCP) and the others are dropped.
public final class RateLimitPolicy: @unchecked Sendable {
    /// Responses counted and limited at all.
    public let enabled: Bool
    /// Responses per second per (network, class), also the burst a quiet entry may send at once.
    public let rate: Int32
    /// Every `slip`-th limited response goes out truncated; 0 drops them all, 1 truncates them all.
    public let slip: UInt32
    /// Only count and log what would be limited; answer everything.
    public let dryRun: Bool
    /// A limited query that sent a client cookie slips as BADCOOKIE with a fresh server cookie
    /// instead of TC (RFC 7873 §5.2.3 option 2; Knot's `badcookie-slip`).
    public let badCookieSlip: Bool
    /// Network lengths the counts are kept per.
    public let v4Prefix: Int
    public let v6Prefix: Int
    /// Left-aligned masks of those lengths (IPv4 in the top 32 bits of the high word).
    let v4Mask: UInt64
    let v6Mask: (UInt64, UInt64)
    /// Networks never limited (left-aligned, masked); owned by this policy, immutable.
    let exempt: UnsafeMutablePointer<ExemptNetwork>
    let exemptCount: Int

    /// One exempt network: family, left-aligned address words and mask.
    struct ExemptNetwork {
        let family: IPAddress.Family
        let high: UInt64
        let low: UInt64
        let maskHigh: UInt64
        let maskLow: UInt64
    }

    /// RRL off.
    public static let off = RateLimitPolicy(enabled: false, rate: 0, slip: 2)

    public init(
        enabled: Bool = true, rate: Int, slip: Int, v4Prefix: Int = 24, v6Prefix: Int = 56, dryRun: Bool = false,
        badCookieSlip: Bool = false, exempt networks: [(network: IPAddress, length: Int)] = []
    ) {
        self.enabled = enabled
        self.rate = Int32(clamping: rate)
        self.slip = UInt32(clamping: slip)
        self.dryRun = dryRun
        self.badCookieSlip = badCookieSlip
        self.v4Prefix = v4Prefix
        self.v6Prefix = v6Prefix
        v4Mask = QueryParser.prefixMask(v4Prefix).0
        v6Mask = QueryParser.prefixMask(v6Prefix)
        exemptCount = networks.count
        exempt = .allocate(capacity: max(1, networks.count))
        for (i, p) in networks.enumerated() {
            let (maskHigh, maskLow) = QueryParser.prefixMask(p.length)
            let (high, low) = p.network.leftAlignedWords
            exempt.advanced(by: i).initialize(
                to: .init(family: p.network.family, high: high & maskHigh, low: low & maskLow, maskHigh: maskHigh, maskLow: maskLow))
        }
    }

    deinit { exempt.deallocate() }

    /// Whether `client` lies in an exempt network.
    @inline(__always)
    func isExempt(_ client: IPAddress) -> Bool {
        let (high, low) = client.leftAlignedWords
        for i in 0..<exemptCount {
            let n = exempt[i]
            if n.family == client.family && high & n.maskHigh == n.high && low & n.maskLow == n.low { return true }
        }
        return false
    }

    /// The client network an address is counted in: its left-aligned words masked to the family's length.
    @inline(__always)
    func network(of client: IPAddress) -> (UInt64, UInt64) {
        let (high, low) = client.leftAlignedWords
        return client.family == .v4 ? (high & v4Mask, 0) : (high & v6Mask.0, low & v6Mask.1)
    }
}
