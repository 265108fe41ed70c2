/// Checks on a whole DNS message made before a library reads it.
public enum MessageScan {
    /// Whether the message has at most one TSIG record, and that one last (RFC 8945 §5.1: the TSIG
    /// record is the last of the additional section). False for a malformed message too.
    ///
    /// ldns keeps one TSIG per packet: when `ldns_wire2pkt` meets a second, the first is dropped
    /// without being freed, so every message handed to it from outside must pass this first.
    public static func hasAtMostOneTSIG(_ message: UnsafeRawBufferPointer) -> Bool {
        guard message.count >= WireLimits.headerLength else { return false }
        let qdcount = Int(QueryParser.be16(message, 4))
        let records = Int(QueryParser.be16(message, 6)) + Int(QueryParser.be16(message, 8)) + Int(QueryParser.be16(message, 10))
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { scratch in
            let buffer = scratch.baseAddress!
            var pos = WireLimits.headerLength
            for _ in 0..<qdcount {
                guard let next = WireName.skip(message, at: pos, scratch: buffer), next + 4 <= message.count else { return false }
                pos = next + 4
            }
            for i in 0..<records {
                guard let next = WireName.skip(message, at: pos, scratch: buffer), next + 10 <= message.count else { return false }
                let type = QueryParser.be16(message, next)
                let end = next + 10 + Int(QueryParser.be16(message, next + 8))
                guard end <= message.count else { return false }
                if type == DNSType.tsig && i != records - 1 { return false }
                pos = end
            }
            return true
        }
    }

    /// `hasAtMostOneTSIG` for a message held in an array.
    public static func hasAtMostOneTSIG(_ message: [UInt8]) -> Bool {
        message.withUnsafeBytes { hasAtMostOneTSIG($0) }
    }
}
