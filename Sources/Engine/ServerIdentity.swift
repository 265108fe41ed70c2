/// Answers the server gives about itself: CHAOS TXT (version.bind, id.server) and NSID (RFC 5001).
/// A nil value means "refuse" (CHAOS) or "omit" (NSID).
public struct ServerIdentity: Sendable {
    public var version: String?
    public var id: String?
    public var nsid: [UInt8]?
    public init(version: String? = nil, id: String? = nil, nsid: [UInt8]? = nil) {
        self.version = version
        self.id = id
        self.nsid = nsid
    }
}
