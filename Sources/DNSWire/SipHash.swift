/// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012) over a short
/// message with a 128-bit key: the pseudorandom function of RFC 9018 server cookies.
///
/// Written here rather than taken from a library: the packages this project may use offer no keyed
/// SipHash-2-4 (the standard library's `Hasher` is SipHash-1-3 under a per-process random seed), and
/// a cookie is hashed on the query path, which must not allocate: this reads the message in place.
public enum SipHash24 {
    /// The hash of `count` octets at `message` under the key (k0, k1): the key's 16 octets read as two
    /// little-endian words, as the reference implementation reads them.
    public static func hash(_ message: UnsafeRawPointer, count: Int, k0: UInt64, k1: UInt64) -> UInt64 {
        var s = State(k0: k0, k1: k1)
        let whole = count & ~7
        var at = 0
        while at < whole {
            s.compress(UInt64(littleEndian: message.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
            at &+= 8
        }
        // the last 0...7 octets, with the message length (mod 256) in the top octet
        var last = UInt64(truncatingIfNeeded: count) << 56
        var shift: UInt64 = 0
        while at < count {
            last |= UInt64(message.load(fromByteOffset: at, as: UInt8.self)) << shift
            shift &+= 8
            at &+= 1
        }
        s.compress(last)
        s.v2 ^= 0xff
        s.round()
        s.round()
        s.round()
        s.round()
        return s.v0 ^ s.v1 ^ s.v2 ^ s.v3
    }

    /// The four words of SipHash's state.
    struct State {
        var v0: UInt64
        var v1: UInt64
        var v2: UInt64
        var v3: UInt64

        @inline(__always) init(k0: UInt64, k1: UInt64) {
            v0 = 0x736f_6d65_7073_6575 ^ k0
            v1 = 0x646f_7261_6e64_6f6d ^ k1
            v2 = 0x6c79_6765_6e65_7261 ^ k0
            v3 = 0x7465_6462_7974_6573 ^ k1
        }

        /// Two rounds over one message word (the "2" of SipHash-2-4).
        @inline(__always) mutating func compress(_ m: UInt64) {
            v3 ^= m
            round()
            round()
            v0 ^= m
        }

        @inline(__always) mutating func round() {
            v0 = v0 &+ v1; v1 = v1.rotl(13); v1 ^= v0; v0 = v0.rotl(32)
            v2 = v2 &+ v3; v3 = v3.rotl(16); v3 ^= v2
            v0 = v0 &+ v3; v3 = v3.rotl(21); v3 ^= v0
            v2 = v2 &+ v1; v1 = v1.rotl(17); v1 ^= v2; v2 = v2.rotl(32)
        }
    }

}

extension UInt64 {
    /// Rotation left by `b` (0 < b < 64): one instruction.
    @inline(__always) fileprivate func rotl(_ b: UInt64) -> UInt64 { (self &<< b) | (self &>> (64 &- b)) }
}
