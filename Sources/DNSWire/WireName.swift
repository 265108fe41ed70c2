#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Name handling in wire form (RFC 1035 §3.1, §4.1.4), over caller-owned memory and without allocation.
///
/// Names are handled as uncompressed wire-form byte runs: length-prefixed labels ending in the root (0).
public enum WireName {
    /// Decodes the possibly-compressed name at `offset` in `packet` into `out` (capacity >= 255).
    ///
    /// Invariants enforced here: every compression pointer points strictly before the label that holds
    /// it (so pointer loops and forward pointers are rejected), labels are at most 63 octets and the name
    /// at most 255 octets (RFC 1035 §2.3.4), label types 0b01/0b10 are rejected (RFC 6891 §5).
    /// - Returns: the name's wire length in `out` and the offset just past the name in `packet`,
    ///   or nil when the name is malformed.
    @inline(__always)
    public static func read(
        _ packet: UnsafeRawBufferPointer, at offset: Int,
        into out: UnsafeMutablePointer<UInt8>
    ) -> (length: Int, next: Int)? {
        guard let bytes = packet.baseAddress else { return nil }
        var pos = offset
        var written = 0 // octets already copied to `out`
        var runStart = offset // labels from here to `pos` are validated but not yet copied
        var next = -1
        var lowestTarget = offset
        let count = packet.count
        while true {
            guard pos < count else { return nil }
            let len = Int(packet[pos])
            switch len & 0xC0 {
            case 0x00:
                if len == 0 {
                    // the run up to and including the root, in one copy
                    let run = pos + 1 - runStart
                    guard written + run <= WireLimits.maxNameLength else { return nil }
                    UnsafeMutableRawPointer(out + written).copyMemory(from: bytes + runStart, byteCount: run)
                    written += run
                    return (written, next < 0 ? pos + 1 : next)
                }
                // the label plus the root that must still follow fit in 255 octets
                guard pos + 1 + len <= count, written + (pos - runStart) + 1 + len + 1 <= WireLimits.maxNameLength else {
                    return nil
                }
                pos += 1 + len
            case 0xC0:
                guard pos + 1 < count else { return nil }
                let target = (len & 0x3F) << 8 | Int(packet[pos + 1])
                // RFC 1035 §4.1.4 allows pointers to any prior occurrence; requiring each pointer to go
                // strictly below every earlier target bounds the walk and rules out loops.
                guard target < lowestTarget else { return nil }
                let run = pos - runStart
                UnsafeMutableRawPointer(out + written).copyMemory(from: bytes + runStart, byteCount: run)
                written += run
                if next < 0 { next = pos + 2 }
                lowestTarget = target
                pos = target
                runStart = target
            default:
                return nil
            }
        }
    }

    /// Validates and skips the name at `offset`; returns the offset just past it, or nil when malformed.
    @inline(__always)
    public static func skip(
        _ packet: UnsafeRawBufferPointer, at offset: Int,
        scratch: UnsafeMutablePointer<UInt8>
    ) -> Int? {
        read(packet, at: offset, into: scratch)?.next
    }

    /// ASCII lower-case copy of a wire name (labels are copied byte for byte, A-Z folded).
    @inline(__always)
    public static func lowercase(_ name: UnsafePointer<UInt8>, length: Int, into out: UnsafeMutablePointer<UInt8>) {
        for i in 0..<length {
            let c = name[i]
            out[i] = (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c
        }
    }

    /// `lowercase` eight octets at a time (SWAR): for `name` and `out` buffers of at least
    /// `lowercaseWordsCapacity` octets, of which the first `length` (<= 255) are the name. It reads and
    /// writes whole words past `length` inside those buffers; the octets there in `out` are unspecified.
    /// Length octets (0...63) are below "A" and pass unchanged, as do octets >= 0x80.
    @inline(__always)
    public static func lowercaseWords(_ name: UnsafePointer<UInt8>, length: Int, into out: UnsafeMutablePointer<UInt8>) {
        let source = UnsafeRawPointer(name)
        let target = UnsafeMutableRawPointer(out)
        var i = 0
        while i < length {
            let x = source.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let heptets = x & 0x7F7F_7F7F_7F7F_7F7F
            let atLeastA = heptets &+ 0x3F3F_3F3F_3F3F_3F3F // high bit set where heptet >= 0x41
            let aboveZ = heptets &+ 0x2525_2525_2525_2525 // high bit set where heptet >= 0x5B
            let upper = atLeastA & ~aboveZ & ~x & 0x8080_8080_8080_8080
            target.storeBytes(of: x | (upper >> 2), toByteOffset: i, as: UInt64.self)
            i += 8
        }
    }

    /// Buffer size `lowercaseWords` needs: the longest name rounded up to whole words.
    public static let lowercaseWordsCapacity = 256

    /// Number of labels, the root excluded ("www.example." has 2).
    @inline(__always)
    public static func labelCount(_ name: UnsafePointer<UInt8>, length: Int) -> Int {
        var pos = 0
        var n = 0
        while pos < length, name[pos] != 0 {
            n += 1
            pos += Int(name[pos]) + 1
        }
        return n
    }

    /// A 64-bit hash of a (lower-case) wire name for the in-memory name tables (never stored): eight
    /// octets at a time, each word xored in and multiplied by an odd constant (a bijection per step, so
    /// names of one length differing anywhere hash apart before the final mix), the tail read into a
    /// zero word (by 4-, 2- and 1-octet loads), the length in the seed, and SplitMix64's finaliser
    /// so that the low bits used as a slot depend on every octet. Reads exactly `length` octets.
    /// (FNV-1a, a multiply per octet, cost about 70 instructions per query in the zone lookups.)
    @inlinable @inline(__always)
    public static func hash(_ name: UnsafePointer<UInt8>, length: Int) -> UInt64 {
        let raw = UnsafeRawPointer(name)
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: length)
        var i = 0
        while i + 8 <= length {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            i += 8
        }
        if i < length {
            // the last 1...7 octets as one word: a 4-, a 2- and a 1-octet load as needed
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            if length - i >= 4 {
                tail = UInt64(raw.loadUnaligned(fromByteOffset: i, as: UInt32.self))
                shift = 32
                i += 4
            }
            if length - i >= 2 {
                tail |= UInt64(raw.loadUnaligned(fromByteOffset: i, as: UInt16.self)) << shift
                shift += 16
                i += 2
            }
            if i < length { tail |= UInt64(name[i]) << shift }
            h = (h ^ tail) &* 0xBF58_476D_1CE4_E5B9
        }
        h ^= h >> 30
        h = h &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 27
        h = h &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }

    /// Byte equality of two wire names of known length (libc's memcmp: vectorised, where a byte loop
    /// cost about 250 instructions per query in lookups).
    @inlinable @inline(__always)
    public static func equal(_ a: UnsafePointer<UInt8>, _ aLength: Int, _ b: UnsafePointer<UInt8>, _ bLength: Int) -> Bool {
        aLength == bLength && memcmp(a, b, aLength) == 0
    }

    /// Whether `name` equals `ancestor` or lies below it (both lower-case wire form).
    public static func isSubdomain(
        _ name: UnsafePointer<UInt8>, _ nameLength: Int,
        of ancestor: UnsafePointer<UInt8>, _ ancestorLength: Int
    ) -> Bool {
        guard nameLength >= ancestorLength else { return false }
        var pos = 0
        while pos < nameLength {
            if nameLength - pos == ancestorLength {
                return equal(name + pos, ancestorLength, ancestor, ancestorLength)
            }
            if name[pos] == 0 { return false }
            pos += Int(name[pos]) + 1
        }
        return false
    }
}

extension WireName {
    /// Converts presentation form ("www.example.com.", relative names are taken as absolute) into
    /// lower-case wire form. Control-plane helper (allocates); nil when a label or the name is too long.
    public static func fromText(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        let trimmed = text.hasSuffix(".") ? String(text.dropLast()) : text
        if !trimmed.isEmpty {
            for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
                let bytes = Array(label.utf8).map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 | 0x20 : $0 }
                guard !bytes.isEmpty, bytes.count <= WireLimits.maxLabelLength else { return nil }
                out.append(UInt8(bytes.count))
                out.append(contentsOf: bytes)
            }
        }
        out.append(0)
        return out.count <= WireLimits.maxNameLength ? out : nil
    }

    /// Presentation form of a wire name (control plane and diagnostics only).
    public static func toText(_ wire: [UInt8]) -> String {
        var parts: [String] = []
        var pos = 0
        while pos < wire.count, wire[pos] != 0 {
            let len = Int(wire[pos])
            guard pos + 1 + len <= wire.count else { break }
            var label = ""
            for c in wire[(pos + 1)..<(pos + 1 + len)] {
                switch c {
                case 0x2E, 0x5C: label += "\\" + String(UnicodeScalar(c))
                case 0x21...0x7E: label += String(UnicodeScalar(c))
                default: label += "\\" + String(format3(Int(c)))
                }
            }
            parts.append(label)
            pos += 1 + len
        }
        return parts.isEmpty ? "." : parts.joined(separator: ".") + "."
    }

    private static func format3(_ v: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: 3 - s.count) + s
    }
}
