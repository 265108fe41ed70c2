import DNSWire

/// One resource record as read from a master file, in wire form, with where it came from.
public struct ZoneRecord: Sendable, Equatable {
    /// Owner, lower-case wire form.
    public var owner: [UInt8]
    public var type: UInt16
    public var rrClass: UInt16
    public var ttl: UInt32
    /// RDATA in uncompressed wire form (letter case of names inside kept as written).
    public var rdata: [UInt8]
    public var file: String
    public var line: Int

    public init(owner: [UInt8], type: UInt16, rrClass: UInt16 = DNSClass.in, ttl: UInt32, rdata: [UInt8],
                file: String = "-", line: Int = 0) {
        self.owner = owner
        self.type = type
        self.rrClass = rrClass
        self.ttl = ttl
        self.rdata = rdata
        self.file = file
        self.line = line
    }
}

/// A zone data problem, located at file:line (RFC 1035 master file position).
public struct ZoneError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    public let line: Int
    public let reason: String
    public init(file: String, line: Int, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }
    public var description: String { line > 0 ? "\(file):\(line): \(reason)" : "\(file): \(reason)" }
}
