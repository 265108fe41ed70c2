import DNSWire
import NIOCore

extension IPAddress {
    /// A TCP peer's address, decoded by `IPAddress(sockaddr:)` from the socket address NIO holds;
    /// nil for a missing or non-IP peer.
    init?(peer: SocketAddress?) {
        let decoded: IPAddress?
        switch peer {
        case let .v4(a)?: decoded = withUnsafeBytes(of: a.address) { IPAddress(sockaddr: $0.baseAddress!) }
        case let .v6(a)?: decoded = withUnsafeBytes(of: a.address) { IPAddress(sockaddr: $0.baseAddress!) }
        default: decoded = nil
        }
        guard let decoded else { return nil }
        self = decoded
    }
}
