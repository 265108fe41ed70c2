import DNSWire
import XCTest

/// SipHash-2-4 against the reference vectors of Aumasson and Bernstein's paper and implementation:
/// key 00 01 ... 0f, messages 00 01 ... (n-1).
final class SipHashTests: XCTestCase {
    func hash(length: Int) -> UInt64 {
        let key = (0..<16).map { UInt8($0) }
        var k0: UInt64 = 0
        var k1: UInt64 = 0
        for i in 0..<8 {
            k0 |= UInt64(key[i]) << UInt64(8 * i)
            k1 |= UInt64(key[8 + i]) << UInt64(8 * i)
        }
        let message = (0..<length).map { UInt8($0) }
        return message.withUnsafeBytes { SipHash24.hash($0.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!, count: length, k0: k0, k1: k1) }
    }

    func testReferenceVectors() {
        // vectors.h of the reference code, read as little-endian words
        XCTAssertEqual(hash(length: 0), 0x726f_db47_dd0e_0e31)
        XCTAssertEqual(hash(length: 1), 0x74f8_39c5_93dc_67fd)
        XCTAssertEqual(hash(length: 8), 0x93f5_f579_9a93_2462)
        // the paper's appendix A example: a 15-octet message
        XCTAssertEqual(hash(length: 15), 0xa129_ca61_49be_45e5)
    }
}
