import Glibc

/// Whether a check's address is an IP literal (IPv4 or IPv6), which probes connect to without a resolver.
enum IPAddressCheck {
    static func isIP(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
