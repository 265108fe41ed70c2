// libFuzzer entry point for the DNS health check's reply parser (DNSCheckReply, RFC 1035 §4.1): every
// input is one datagram as it would come back from the probed server. The query it is judged against
// asks probe.example./SOA with the input's own first two bytes as ID, so that every input of two bytes
// or more gets past the ID and into the parse. A datagram must get a verdict, never a crash or a hang;
// the verdict must hold the invariants below (checked by `require`: they abort). Address sanitizer
// catches memory errors.
import FuzzSupport
import Health

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Judges each input and checks what an accepted answer implies about its bytes.
enum DNSCheckHarness {
    /// MERIDIAN_FUZZ_VERBOSE=1: print each verdict.
    static let verbose = getenv("MERIDIAN_FUZZ_VERBOSE") != nil

    static func run(_ input: UnsafeRawBufferPointer) {
        let id = input.count >= 2 ? UInt16(input[0]) << 8 | UInt16(input[1]) : 0
        guard let query = DNSCheckQuery(id: id, name: "probe.example.", type: 6) else { fatalError("fuzz setup: query") }
        let verdict = DNSCheckReply.judge(input, for: query)
        if verbose { print(verdict) }
        switch verdict {
        case .notOurs:
            require(input.count < 2, "an input with the query's ID was not ours")
        case let .invalid(reason):
            require(!reason.isEmpty, "an invalid reply without a reason")
        case let .answer(rcode):
            let bytes = Array(input)
            require((0...15).contains(rcode), "rcode \(rcode) out of range")
            require(bytes.count >= 12 + query.name.count + 4, "an answer shorter than its header and question")
            require(bytes[2] & 0x80 != 0 && bytes[2] & 0x78 == 0, "an answer without QR=1, OPCODE 0")
            require(bytes[4] == 0 && bytes[5] == 1, "an answer with QDCOUNT other than 1")
            require(Int(bytes[3] & 0x0F) == rcode, "the rcode is not the header's")
            // the whole message was read: any byte more is trailing garbage
            require(DNSCheckReply.judge(bytes + [0], for: query) != verdict, "an answer with a byte appended is still accepted")
            // the verdict depends on the bytes only
            require(DNSCheckReply.judge(bytes, for: query) == verdict, "the verdict changes between two runs")
        }
    }
}

/// SwiftPM links executables on Linux with `--defsym main=FuzzDNSCheck_main`: libFuzzer runs from here
/// (see FuzzSupport's `runFuzzer`).
@_cdecl("FuzzDNSCheck_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { DNSCheckHarness.run($0) }
}
