import NIOCore
import NIOPosix

extension ClientBootstrap {
    /// Connects to an IP literal directly (no resolver, no Happy Eyeballs: the cheap path for
    /// thousands of probes); host names go through NIO's resolver.
    func connect(to address: String, port: Int) -> EventLoopFuture<Channel> {
        if IPAddressCheck.isIP(address), let socketAddress = try? SocketAddress(ipAddress: address, port: port) {
            return connect(to: socketAddress)
        }
        return connect(host: address, port: port)
    }
}
