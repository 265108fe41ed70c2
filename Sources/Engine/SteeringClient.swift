import DNSWire

/// The client a GSLB decision is made for (RFC 7871 §7.1.2): the ECS address when the query carries
/// the option, else the packet's source address.
///
/// Invariant: `address` is nil exactly when there is no client information (ECS SOURCE
/// PREFIX-LENGTH 0, or neither ECS nor a source address).
struct SteeringClient {
    var address: IPAddress?

    @inline(__always)
    init(subnet: ClientSubnet?, source: IPAddress?) {
        // SOURCE PREFIX-LENGTH 0 means "do not tailor": no client information. (Reads the two fields
        // it needs rather than binding the whole option: fewer instructions per query.)
        switch subnet?.sourcePrefix {
        case nil: address = source
        case 0: address = nil
        default: address = subnet.unsafelyUnwrapped.address
        }
    }

    /// A stable hash of the client's /24 (IPv4) or /48 (IPv6), for `select: hash`; a fixed value
    /// without client information.
    @inline(__always) var hash: UInt64 {
        let family = UInt64(address?.family.rawValue ?? 0)
        let value = address?.value ?? 0
        let masked = family == 4 ? value >> 8 : value >> 80
        var h = UInt64(truncatingIfNeeded: masked) ^ UInt64(truncatingIfNeeded: masked >> 64) ^ family
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }
}
