import DNSWire
import NIOCore

extension IPAddress {
    /// A TCP peer's address, decoded by `IPAddress(sockaddr:)` from the socket address NIO holds;
    /// nil for a missing or non-IP peer.
    init?(peer: SocketAddress?) {
        switch peer {
        case let .v4(a)?:
            guard let address = withUnsafeBytes(of: a.address, { IPAddress(sockaddr: $0.baseAddress!) }) else { return nil }
            self = address
        case let .v6(a)?:
            guard let address = withUnsafeBytes(of: a.address, { IPAddress(sockaddr: $0.baseAddress!) }) else { return nil }
            self = address
        default:
            return nil
        }
    }
}
