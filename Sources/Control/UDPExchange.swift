import DNSWire

#if canImport(Glibc)
import Glibc
#endif

/// One DNS question and answer over UDP from a blocking socket, for the control plane's own queries
/// (NOTIFY, the parent's DS): sends `message` to `address`:`port` and waits up to `timeout` seconds for
/// a datagram that `accept` turns into a value (others, such as stray or spoofed replies, are skipped).
enum UDPExchange {
    static func ask<T>(
        _ message: [UInt8], address: IPAddress, port: Int, timeout: Int = 1, accept: ([UInt8]) -> T?
    ) -> T? {
        let v6 = address.family == .v6
        let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let host = "\(address)"
        var sent = -1
        if v6 {
            var peer = sockaddr_in6()
            peer.sin6_family = sa_family_t(AF_INET6)
            peer.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, host, &peer.sin6_addr) == 1 else { return nil }
            sent = send(fd, message, to: &peer)
        } else {
            var peer = sockaddr_in()
            peer.sin_family = sa_family_t(AF_INET)
            peer.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, host, &peer.sin_addr) == 1 else { return nil }
            sent = send(fd, message, to: &peer)
        }
        guard sent == message.count else { return nil }
        var reply = [UInt8](repeating: 0, count: 65535)
        while true {
            let n = recv(fd, &reply, reply.count, 0)
            guard n > 0 else { return nil } // timeout or error
            if let value = accept(Array(reply.prefix(n))) { return value }
        }
    }

    /// `sendto` with a `sockaddr_in` or `sockaddr_in6`.
    static func send<Address>(_ fd: Int32, _ message: [UInt8], to peer: inout Address) -> Int {
        withUnsafePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, message, message.count, 0, $0, socklen_t(MemoryLayout<Address>.size))
            }
        }
    }
}
