import DNSWire
import Geo

/// A TSIG key (RFC 8945): its name (lower case, absolute), algorithm and secret as base64 text (the
/// form BIND, Knot and ldns take).
public struct TSIGKey: Sendable, Equatable {
    public let name: String
    /// The algorithm's domain name, e.g. `hmac-sha256.` (RFC 8945 §6).
    public let algorithm: String
    public let secret: String

    public init(name: String, algorithm: String, secret: String) {
        self.name = TSIGKey.canonical(name)
        self.algorithm = TSIGKey.canonical(algorithm)
        self.secret = secret
    }

    /// A key or algorithm name as compared: lower case, absolute.
    public static func canonical(_ name: String) -> String {
        let lower = name.lowercased()
        return lower.hasSuffix(".") ? lower : lower + "."
    }
}

/// One rule of a zone's transfer ACL: it matches a client inside `network` (any when nil) whose
/// request was signed with `key` (unsigned requests too when nil). Knot's `acl` is the model.
public struct TransferACL: Sendable, Equatable {
    public let network: IPPrefix?
    public let key: String?

    public init(network: IPPrefix?, key: String?) {
        self.network = network
        self.key = key.map(TSIGKey.canonical)
    }

    func allows(_ client: IPAddress, key verified: String?) -> Bool {
        (network?.contains(client) ?? true) && (key == nil || key == verified)
    }
}

/// A secondary told of new serials by NOTIFY (RFC 1996), signed with `key` when given.
public struct NotifyTarget: Sendable, Equatable {
    public let address: IPAddress
    public let port: Int
    public let key: String?

    public init(address: IPAddress, port: Int, key: String?) {
        self.address = address
        self.port = port
        self.key = key.map(TSIGKey.canonical)
    }
}

/// Who may transfer which zone, and whom to notify: compiled from the config into the snapshot, so a
/// reload changes it with the zones.
public struct TransferRules: Sendable {
    /// Per zone (lower-case wire origin): its ACL and its secondaries.
    public struct Zone: Sendable {
        public let allow: [TransferACL]
        public let notify: [NotifyTarget]

        public init(allow: [TransferACL], notify: [NotifyTarget]) {
            self.allow = allow
            self.notify = notify
        }
    }

    public let zones: [[UInt8]: Zone]
    /// TSIG keys by name.
    public let keys: [String: TSIGKey]

    public init(zones: [[UInt8]: Zone] = [:], keys: [TSIGKey] = []) {
        self.zones = zones
        self.keys = Dictionary(keys.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// No transfers allowed, no one notified.
    public static let none = TransferRules()
}
