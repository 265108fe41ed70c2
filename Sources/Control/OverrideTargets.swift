import Health
import Steering

/// Checks an override's target against the services being served: an endpoint must be one of their
/// addresses (or CNAME targets), a region one of their regions (of the named service, if one is
/// named), a service one of them. A typo is refused instead of silently doing nothing.
enum OverrideTargets {
    /// Longest name an override may carry (a DNS name's text, an IPv6 address, a region).
    static let maxNameLength = 255

    /// nil when `target` names something served; otherwise why not.
    static func unknown(_ target: OverrideTarget, in services: [CompiledService]) -> String? {
        guard target.name.utf8.count <= maxNameLength, (target.service?.utf8.count ?? 0) <= maxNameLength else {
            return "an override's name is at most \(maxNameLength) octets"
        }
        switch target.scope {
        case .service:
            return services.contains { $0.spec.name == target.name } ? nil : "no service \(target.name)"
        case .region:
            let scoped = target.service.map { name in services.filter { $0.spec.name == name } } ?? services
            if let name = target.service, scoped.isEmpty { return "no service \(name)" }
            return scoped.contains { $0.spec.pools.contains { $0.region == target.name } }
                ? nil
                : "no region \(target.name)\(target.service.map { " in service \($0)" } ?? " in any service")"
        case .endpoint:
            let known = services.contains { service in
                service.spec.pools.contains { pool in
                    pool.addresses.contains { $0.text == target.name } || pool.cname.map { String($0.trimmingSuffix(".")) } == target.name
                }
            }
            return known ? nil : "no endpoint \(target.name) in any service's pools"
        }
    }
}

/// Comparison whose time does not depend on where two secrets differ (the control API's token).
enum ConstantTime {
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}

extension String {
    /// The string without `suffix` at its end (unchanged when it does not end so).
    func trimmingSuffix(_ suffix: String) -> Substring {
        hasSuffix(suffix) ? dropLast(suffix.count) : Substring(self)
    }
}
