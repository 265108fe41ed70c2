#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import XCTest
@testable import DNSWire

/// `IPAddress`: text, canonical form, masking, the wire (left-aligned) form and socket addresses.
final class IPAddressTests: XCTestCase {
    func testParsesIntoTheCanonicalForm() throws {
        let v4 = try XCTUnwrap(IPAddress("192.0.2.1"))
        XCTAssertEqual(v4.family, .v4)
        XCTAssertEqual(v4.value, 0xC000_0201)
        XCTAssertEqual(v4.width, 32)
        let v6 = try XCTUnwrap(IPAddress("2001:db8::1"))
        XCTAssertEqual(v6.family, .v6)
        XCTAssertEqual(v6.value, 0x2001_0DB8_0000_0000_0000_0000_0000_0001)
        XCTAssertEqual(v6.width, 128)
        // an IPv4-mapped IPv6 address stays IPv6
        let mapped = try XCTUnwrap(IPAddress("::ffff:192.0.2.1"))
        XCTAssertEqual(mapped.family, .v6)
        XCTAssertEqual(mapped.value, 0xFFFF_C000_0201)
        XCTAssertNotEqual(mapped, v4)
        // bits beyond the family's width are dropped
        XCTAssertEqual(IPAddress(family: .v4, value: 0x1_C000_0201).value, 0xC000_0201)
    }

    func testRejectsWhatIsNotAnAddress() {
        for text in ["", "1.2.3", "256.1.1.1", "1.2.3.4/24", "1.2.3.4 ", "2001:db8::1::2", "g::1", "12345::", "example.com"] {
            XCTAssertNil(IPAddress(text), text)
        }
    }

    func testTextRoundTrips() throws {
        for text in [
            "0.0.0.0", "255.255.255.255", "192.0.2.1", "10.0.0.255", "::", "::1", "2001:db8::1",
            "2001:db8:0:1:1:1:1:1", "fe80::1:2", "::ffff:192.0.2.1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            XCTAssertEqual(try XCTUnwrap(IPAddress(text), text).description, text)
        }
        var rng = SplitMix64(seed: 41)
        for _ in 0..<2000 {
            let v4 = IPAddress(family: .v4, value: UInt128(UInt32(truncatingIfNeeded: rng.next())))
            XCTAssertEqual(IPAddress(v4.description), v4, v4.description)
            // a run of zero groups now and then, for the "::" forms
            var value = rng.next128()
            if rng.next() % 2 == 0 { value &= ~(UInt128(UInt64.max) << UInt128(16 * Int(rng.next() % 7))) }
            let v6 = IPAddress(family: .v6, value: value)
            XCTAssertEqual(IPAddress(v6.description), v6, v6.description)
        }
    }

    func testMasksAtEveryLength() {
        var rng = SplitMix64(seed: 7)
        let ones4 = IPAddress(family: .v4, value: UInt128(UInt32.max))
        for length in 0...32 {
            let expected = UInt128(UInt32.max << UInt32(32 - length)) // a 32-bit shift gives 0
            XCTAssertEqual(ones4.masked(to: length).value, expected, "/\(length)")
            XCTAssertEqual(IPAddress.mask(length, width: 32), expected, "/\(length)")
            XCTAssertEqual(expected.nonzeroBitCount, length)
            let a = IPAddress(family: .v4, value: UInt128(UInt32(truncatingIfNeeded: rng.next())))
            XCTAssertEqual(a.masked(to: length), IPAddress(family: .v4, value: a.value & expected))
            XCTAssertEqual(a.masked(to: length).family, .v4)
        }
        let ones6 = IPAddress(family: .v6, value: ~UInt128(0))
        for length in 0...128 {
            let expected = ~UInt128(0) << UInt128(128 - length) // a 128-bit shift gives 0
            XCTAssertEqual(ones6.masked(to: length).value, expected, "/\(length)")
            XCTAssertEqual(IPAddress.mask(length, width: 128), expected, "/\(length)")
            XCTAssertEqual(expected.nonzeroBitCount, length)
            let a = IPAddress(family: .v6, value: rng.next128())
            XCTAssertEqual(a.masked(to: length), IPAddress(family: .v6, value: a.value & expected))
        }
        // lengths outside the width clamp
        XCTAssertEqual(IPAddress.mask(-1, width: 32), 0)
        XCTAssertEqual(IPAddress.mask(33, width: 32), UInt128(UInt32.max))
        XCTAssertEqual(ones4.masked(to: 64), ones4)
        XCTAssertEqual(IPAddress.all(32), UInt128(UInt32.max))
        XCTAssertEqual(IPAddress.all(128), ~UInt128(0))
    }

    func testLeftAlignedIsTheWireOrder() throws {
        let v4 = try XCTUnwrap(IPAddress("192.0.2.1"))
        XCTAssertEqual(v4.leftAligned, UInt128(0xC000_0201) << 96)
        XCTAssertEqual(IPAddress(family: .v4, leftAligned: v4.leftAligned), v4)
        let v6 = try XCTUnwrap(IPAddress("2001:db8::1"))
        XCTAssertEqual(v6.leftAligned, v6.value)
        XCTAssertEqual(IPAddress(family: .v6, leftAligned: v6.leftAligned), v6)
        let ecs = ClientSubnet(address: v4.masked(to: 24), sourcePrefix: 24)
        XCTAssertEqual(ecs.family, 1)
        XCTAssertEqual((0..<ecs.addressOctets).map { ecs.octet($0) }, [192, 0, 2])
        let ecs6 = ClientSubnet(address: v6, sourcePrefix: 128)
        XCTAssertEqual(ecs6.family, 2)
        XCTAssertEqual((0..<ecs6.addressOctets).map { ecs6.octet($0) }, [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    }

    func testOrdersIPv4BeforeIPv6ThenByValue() throws {
        let sorted = try ["::1", "10.0.0.1", "2001:db8::", "9.255.255.255", "::"].map { try XCTUnwrap(IPAddress($0)) }.sorted()
        XCTAssertEqual(sorted.map(\.description), ["9.255.255.255", "10.0.0.1", "::", "::1", "2001:db8::"])
    }

    // MARK: socket addresses

    /// `address` decoded from a copy of `s` placed `offset` octets into a sockaddr_storage-sized buffer.
    func decode<S>(_ s: S, offset: Int = 0) -> IPAddress? {
        var buffer = [UInt8](repeating: 0xAA, count: MemoryLayout<sockaddr_storage>.size + 8)
        return buffer.withUnsafeMutableBytes { raw in
            withUnsafeBytes(of: s) { raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            return IPAddress(sockaddr: UnsafeRawPointer(raw.baseAddress!.advanced(by: offset)))
        }
    }

    func sockaddrIn(_ text: String, port: UInt16 = 53) -> sockaddr_in {
        var s = sockaddr_in()
        s.sin_family = sa_family_t(AF_INET)
        s.sin_port = port.bigEndian
        XCTAssertEqual(inet_pton(AF_INET, text, &s.sin_addr), 1)
        return s
    }

    func sockaddrIn6(_ text: String, port: UInt16 = 53) -> sockaddr_in6 {
        var s = sockaddr_in6()
        s.sin6_family = sa_family_t(AF_INET6)
        s.sin6_port = port.bigEndian
        s.sin6_flowinfo = 0x1234_5678
        s.sin6_scope_id = 3
        XCTAssertEqual(inet_pton(AF_INET6, text, &s.sin6_addr), 1)
        return s
    }

    func testAddressFieldOffsetsMatchTheHeaders() {
        XCTAssertEqual(MemoryLayout<sockaddr_in>.offset(of: \.sin_addr), 4)
        XCTAssertEqual(MemoryLayout<sockaddr_in6>.offset(of: \.sin6_addr), 8)
        XCTAssertEqual(MemoryLayout<sockaddr>.offset(of: \.sa_family), 0)
    }

    func testDecodesSockaddrIn() {
        for offset in [0, 1, 3] {
            XCTAssertEqual(decode(sockaddrIn("192.0.2.1"), offset: offset), IPAddress(family: .v4, value: 0xC000_0201))
            XCTAssertEqual(decode(sockaddrIn("255.255.255.255", port: 65535), offset: offset), IPAddress(family: .v4, value: 0xFFFF_FFFF))
            XCTAssertEqual(decode(sockaddrIn("0.0.0.1"), offset: offset), IPAddress(family: .v4, value: 1))
        }
    }

    func testDecodesSockaddrIn6() {
        for offset in [0, 1, 5] {
            XCTAssertEqual(
                decode(sockaddrIn6("2001:db8::1"), offset: offset),
                IPAddress(family: .v6, value: 0x2001_0DB8_0000_0000_0000_0000_0000_0001))
            XCTAssertEqual(
                decode(sockaddrIn6("fe80::a:b:c:d"), offset: offset),
                IPAddress(family: .v6, value: 0xFE80_0000_0000_0000_000A_000B_000C_000D))
        }
        // IPv4-mapped: decoded as the IPv6 address it is (no conversion to IPv4)
        XCTAssertEqual(decode(sockaddrIn6("::ffff:192.0.2.1")), IPAddress(family: .v6, value: 0xFFFF_C000_0201))
    }

    func testOtherFamiliesDecodeToNil() {
        var unix = sockaddr_un()
        unix.sun_family = sa_family_t(AF_UNIX)
        XCTAssertNil(decode(unix))
        XCTAssertNil(decode(sockaddr_storage())) // AF_UNSPEC
    }
}
