import SourceFiles
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

    public init(
        owner: [UInt8], type: UInt16, rrClass: UInt16 = DNSClass.in, ttl: UInt32, rdata: [UInt8],
        file: String = "-", line: Int = 0
    ) {
        self.owner = owner
        self.type = type
        self.rrClass = rrClass
        self.ttl = ttl
        self.rdata = rdata
        self.file = file
        self.line = line
    }
}

/// A zone data problem at file:line (see `SourceProblem`).
public typealias ZoneError = SourceProblem
