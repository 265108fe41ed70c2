// Shared by the test targets: DNS responses decoded by hand, independently of the code under test.

/// Decoding of responses for the tests (RFC 1035 §4.1; name compression §4.1.4; OPT RFC 6891 §6.1.2;
/// ECS RFC 7871 §6).
extension Wire {
    /// One resource record of a decoded message.
    public struct Record: Equatable, CustomStringConvertible {
        public var owner: String
        public var type: UInt16
        public var ttl: UInt32
        public var rdata: [UInt8]
        /// Target name for CNAME (decompressed), else nil.
        public var target: String?
        public init(owner: String, type: UInt16, ttl: UInt32, rdata: [UInt8], target: String?) {
            self.owner = owner
            self.type = type
            self.ttl = ttl
            self.rdata = rdata
            self.target = target
        }
        public var description: String { "\(owner) \(ttl) type\(type) \(target ?? rdata.map(String.init).joined(separator: "."))" }
    }

    /// A decoded response: header flags, the three record sections (OPT taken out), the ECS option.
    public struct Response {
        public var id: UInt16 = 0
        public var flags: UInt16 = 0
        public var rcode: Int { Int(flags & 0x0F) }
        public var aa: Bool { flags & 0x0400 != 0 }
        public var answer: [Record] = []
        public var authority: [Record] = []
        public var additional: [Record] = []
        public var hasOPT = false
        /// ECS echoed: (family, source, scope, address octets).
        public var ecs: (family: UInt16, source: UInt8, scope: UInt8, address: [UInt8])?
    }

    /// The name at `start` (compression pointers followed) and the offset after it where it is stored.
    public static func readName(_ m: [UInt8], _ start: Int) -> (String, Int) {
        var labels: [String] = []
        var pos = start
        var end = -1
        var hops = 0
        while true {
            let len = Int(m[pos])
            if len == 0 { pos += 1; break }
            if len & 0xC0 == 0xC0 {
                if end < 0 { end = pos + 2 }
                pos = (len & 0x3F) << 8 | Int(m[pos + 1])
                hops += 1
                precondition(hops < 64, "pointer loop")
                continue
            }
            labels.append(String(decoding: m[(pos + 1)...(pos + len)], as: UTF8.self))
            pos += len + 1
        }
        return (labels.joined(separator: ".") + ".", end >= 0 ? end : pos)
    }

    /// Decodes a whole response; traps on a malformed one.
    public static func decode(_ m: [UInt8]) -> Response {
        func be16(_ i: Int) -> Int { Int(m[i]) << 8 | Int(m[i + 1]) }
        var r = Response()
        r.id = UInt16(be16(0))
        r.flags = UInt16(be16(2))
        let qd = be16(4), an = be16(6), ns = be16(8), ar = be16(10)
        var pos = 12
        for _ in 0..<qd { pos = readName(m, pos).1 + 4 }
        func rr() -> Record {
            let (owner, after) = readName(m, pos)
            let type = UInt16(be16(after))
            let ttl = UInt32(be16(after + 4)) << 16 | UInt32(be16(after + 6))
            let rdlen = be16(after + 8)
            let rdata = Array(m[(after + 10)..<(after + 10 + rdlen)])
            let target = type == 5 ? readName(m, after + 10).0 : nil
            if type == 41 {
                // options
                var o = after + 10
                while o + 4 <= after + 10 + rdlen {
                    let code = be16(o), len = be16(o + 2)
                    if code == 8 {
                        r.ecs = (UInt16(be16(o + 4)), m[o + 6], m[o + 7], Array(m[(o + 8)..<(o + 4 + len)]))
                    }
                    o += 4 + len
                }
                r.hasOPT = true
            }
            pos = after + 10 + rdlen
            return Record(owner: owner, type: type, ttl: ttl, rdata: rdata, target: target)
        }
        for _ in 0..<an { let x = rr(); r.answer.append(x) }
        for _ in 0..<ns { let x = rr(); r.authority.append(x) }
        for _ in 0..<ar {
            let x = rr()
            if x.type != 41 { r.additional.append(x) }
        }
        return r
    }
}
