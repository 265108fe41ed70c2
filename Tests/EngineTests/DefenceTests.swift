import DNSWire
import Engine
import TestSupport
import XCTest

/// DNS cookies (RFC 7873, RFC 9018) and response rate limiting through `QueryProcessor`, decoded by ldns.
final class CookieTests: XCTestCase {
    let secret = ServerCookies.Secret(hex: "e5e973e5a6b2a43f48e7dc849e37bfcf")!

    /// RFC 9018 Appendix A: the server cookies the RFC prints, made and checked by `ServerCookies`.
    func testRFC9018Vectors() {
        let cookies = ServerCookies(enabled: true, secret: secret)
        func made(_ clientHex: String, _ ip: String, _ now: UInt32, _ c: ServerCookies) -> String {
            let client = Wire.bytes(hex: clientHex)
            var out = [UInt8](repeating: 0, count: 16)
            client.withUnsafeBytes { cc in
                out.withUnsafeMutableBytes { c.make(clientCookie: cc.baseAddress!, client: IPAddress(ip)!, now: now, into: $0.baseAddress!) }
            }
            return clientHex + Wire.hex(out)
        }
        // A.1: a client cookie alone
        XCTAssertEqual(made("2464c4abcf10c957", "198.51.100.100", 1_559_731_985, cookies), "2464c4abcf10c957010000005cf79f111f8130c3eee29480")
        // A.2: 40 minutes later the cookie is still valid, and renewed
        let a1 = Wire.bytes(hex: "2464c4abcf10c957010000005cf79f111f8130c3eee29480")
        XCTAssertEqual(check(a1, "198.51.100.100", 1_559_734_385, cookies), .valid(renew: true))
        XCTAssertEqual(made("2464c4abcf10c957", "198.51.100.100", 1_559_734_385, cookies), "2464c4abcf10c957010000005cf7a871d4a564a1442aca77")
        // A.3: reserved octets that are not zero are hashed as sent (checked 40 minutes after the
        // cookie's timestamp: the RFC's reply time, 1 h 52 min after it, is outside §4.3's hour)
        let a3 = Wire.bytes(hex: "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5")
        XCTAssertEqual(check(a3, "203.0.113.203", 1_559_727_985 + 2400, cookies), .valid(renew: true))
        XCTAssertEqual(check(a3, "203.0.113.203", 1_559_734_700, cookies), .clientOnly)
        XCTAssertEqual(made("fc93fc62807ddb86", "203.0.113.203", 1_559_734_700, cookies), "fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e")
        // A.4: IPv6, a new secret with the old one still accepted
        let rolled = ServerCookies(
            enabled: true, secret: ServerCookies.Secret(hex: "445536bcd2513298075a5d379663c962")!,
            previous: ServerCookies.Secret(hex: "dd3bdf9344b678b185a6f5cb60fca715")!)
        let a4 = Wire.bytes(hex: "22681ab97d52c298010000005cf7c57926556bd0934c72f8")
        XCTAssertEqual(check(a4, "2001:db8:220:1:59de:d0f4:8769:82b8", 1_559_741_961, rolled), .valid(renew: false))
        XCTAssertEqual(
            made("22681ab97d52c298", "2001:db8:220:1:59de:d0f4:8769:82b8", 1_559_741_961, rolled),
            "22681ab97d52c298010000005cf7c609a6bb79d16625507a")
        // without the previous secret the old cookie is not ours
        let forgotten = ServerCookies(enabled: true, secret: rolled.secret)
        XCTAssertEqual(check(a4, "2001:db8:220:1:59de:d0f4:8769:82b8", 1_559_741_961, forgotten), .clientOnly)
    }

    func check(_ option: [UInt8], _ ip: String, _ now: UInt32, _ cookies: ServerCookies) -> ServerCookies.Check {
        option.withUnsafeBytes { cookies.check($0.baseAddress!, length: option.count, client: IPAddress(ip)!, now: now) }
    }

    func testTimestampWindow() {
        let cookies = ServerCookies(enabled: true, secret: secret)
        let made: UInt32 = 1_800_000_000
        var option = Wire.bytes(hex: "0102030405060708") + [UInt8](repeating: 0, count: 16)
        option.withUnsafeMutableBytes { cookies.make(clientCookie: $0.baseAddress!, client: IPAddress("192.0.2.1")!, now: made, into: $0.baseAddress! + 8) }
        XCTAssertEqual(check(option, "192.0.2.1", made, cookies), .valid(renew: false))
        XCTAssertEqual(check(option, "192.0.2.1", made + 1800, cookies), .valid(renew: false))
        XCTAssertEqual(check(option, "192.0.2.1", made + 1801, cookies), .valid(renew: true))
        XCTAssertEqual(check(option, "192.0.2.1", made + 3600, cookies), .valid(renew: true))
        XCTAssertEqual(check(option, "192.0.2.1", made + 3601, cookies), .clientOnly, "over an hour old")
        XCTAssertEqual(check(option, "192.0.2.1", made - 300, cookies), .valid(renew: false), "5 minutes ahead of our clock")
        XCTAssertEqual(check(option, "192.0.2.1", made - 301, cookies), .clientOnly)
        XCTAssertEqual(check(option, "192.0.2.2", made, cookies), .clientOnly, "another client address")
        var tampered = option
        tampered[23] ^= 1
        XCTAssertEqual(check(tampered, "192.0.2.1", made, cookies), .clientOnly)
        XCTAssertEqual(check(Array(option.prefix(8)), "192.0.2.1", made, cookies), .clientOnly)
    }

    // MARK: through the processor

    lazy var snapshot = try! Snapshot(
        zones: [TestZones.shared.gslb], services: [], cookies: ServerCookies(enabled: true, secret: secret))

    func run(
        _ query: [UInt8], client: String = "192.0.2.1", now: UInt32 = 1_800_000_000, transport: Transport = .udp, snapshot: Snapshot? = nil,
        processor: QueryProcessor = QueryProcessor()
    ) -> Decoded? {
        processor.now = now
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 65535)
        defer { buffer.deallocate() }
        let n = query.withUnsafeBytes {
            processor.process(
                query: $0, response: buffer, capacity: 65535, transport: transport, client: IPAddress(client)!, snapshot: snapshot ?? self.snapshot)
        }
        guard n > 0 else { return nil }
        return LDNS.decode(Array(UnsafeBufferPointer(start: buffer, count: n)))
    }

    func cookieQuery(_ cookie: [UInt8], qd: Bool = true) -> [UInt8] {
        let opt = Wire.opt(rdata: Wire.option(10, cookie))
        return qd ? Wire.query("www.gslb.test.", 1, flags: 0, additional: [opt]) : Wire.header(flags: 0, qd: 0, ar: 1) + opt
    }

    func serverCookie(_ d: Decoded?) -> [UInt8]? { d?.options.first { $0.code == 10 }?.data }

    func testClientCookieGetsServerCookieThenReuses() throws {
        let client = Wire.bytes(hex: "0102030405060708")
        let first = try XCTUnwrap(run(cookieQuery(client)))
        XCTAssertEqual(first.rcode, 0)
        XCTAssertFalse(first.answer.isEmpty)
        let cookie = try XCTUnwrap(serverCookie(first))
        XCTAssertEqual(cookie.count, 24)
        XCTAssertEqual(Array(cookie.prefix(8)), client, "the client cookie is echoed")
        XCTAssertEqual(cookie[8], 1, "RFC 9018 version 1")
        // sent back a little later: valid, echoed as it is (under half an hour old)
        let second = try XCTUnwrap(run(cookieQuery(cookie), now: 1_800_000_060))
        XCTAssertEqual(serverCookie(second), cookie)
        // from another address: not valid there, a new one is made
        let elsewhere = try XCTUnwrap(run(cookieQuery(cookie), client: "192.0.2.9", now: 1_800_000_060))
        XCTAssertNotEqual(serverCookie(elsewhere), cookie)
        XCTAssertEqual(elsewhere.rcode, 0, "a wrong server cookie is answered normally (RFC 7873 §5.2.4)")
    }

    func testMalformedCookiesAreFormErr() {
        for length in [0, 1, 7, 9, 15, 41, 48] {
            let d = run(cookieQuery([UInt8](repeating: 1, count: length)))
            XCTAssertEqual(d?.rcode, 1, "COOKIE of \(length) octets")
        }
        for length in [8, 16, 32, 40] {
            XCTAssertEqual(run(cookieQuery([UInt8](repeating: 1, count: length)))?.rcode, 0, "COOKIE of \(length) octets")
        }
    }

    func testOnlyTheFirstCookieCounts() throws {
        let opt = Wire.opt(rdata: Wire.option(10, Wire.bytes(hex: "0102030405060708")) + Wire.option(10, Wire.bytes(hex: "1112131415161718")))
        let d = try XCTUnwrap(run(Wire.query("www.gslb.test.", 1, flags: 0, additional: [opt])))
        XCTAssertEqual(d.options.filter { $0.code == 10 }.count, 1)
        XCTAssertEqual(Array(serverCookie(d)!.prefix(8)), Wire.bytes(hex: "0102030405060708"))
    }

    /// RFC 7873 §5.4: no question, a COOKIE: the cookies alone; BADCOOKIE for a server cookie not valid.
    func testQueryWithoutQuestion() throws {
        let client = Wire.bytes(hex: "0102030405060708")
        let learn = try XCTUnwrap(run(cookieQuery(client, qd: false)))
        XCTAssertEqual(learn.rcode, 0)
        XCTAssertEqual(learn.qdcount, 0)
        let cookie = try XCTUnwrap(serverCookie(learn))
        XCTAssertEqual(try XCTUnwrap(run(cookieQuery(cookie, qd: false))).rcode, 0)
        var wrong = cookie
        wrong[20] ^= 0xff
        let bad = try XCTUnwrap(run(cookieQuery(wrong, qd: false)))
        XCTAssertEqual(bad.rcode, Int(RCode.badCookie))
        XCTAssertEqual(serverCookie(bad)?.count, 24, "BADCOOKIE carries a fresh server cookie")
        // no cookie, no question: FORMERR
        XCTAssertEqual(run(Wire.header(flags: 0, qd: 0, ar: 1) + Wire.opt())?.rcode, 1)
    }

    func testCookiesOffIgnoresTheOption() throws {
        let off = try Snapshot(zones: [TestZones.shared.gslb], services: [])
        let d = try XCTUnwrap(run(cookieQuery(Wire.bytes(hex: "0102030405060708")), snapshot: off))
        XCTAssertNil(serverCookie(d))
        XCTAssertFalse(d.answer.isEmpty)
    }

    /// RFC 7828: over TCP a query with edns-tcp-keepalive learns the idle timeout; over UDP the option
    /// is ignored; a TIMEOUT sent by the client is FORMERR over TCP.
    func testTCPKeepalive() throws {
        let processor = QueryProcessor()
        processor.keepaliveTimeout = 100
        let ask = Wire.query("www.gslb.test.", 1, flags: 0, additional: [Wire.opt(rdata: Wire.option(11, []))])
        let tcp = try XCTUnwrap(run(ask, transport: .tcp, processor: processor))
        XCTAssertEqual(tcp.options.first { $0.code == 11 }?.data, [0, 100])
        let udp = try XCTUnwrap(run(ask, transport: .udp, processor: processor))
        XCTAssertNil(udp.options.first { $0.code == 11 })
        let malformed = Wire.query("www.gslb.test.", 1, flags: 0, additional: [Wire.opt(rdata: Wire.option(11, [0, 5]))])
        XCTAssertEqual(run(malformed, transport: .tcp, processor: processor)?.rcode, 1)
        XCTAssertEqual(run(malformed, transport: .udp, processor: processor)?.rcode, 0)
    }
}

final class RateLimitTests: XCTestCase {
    let secret = ServerCookies.Secret(hex: "e5e973e5a6b2a43f48e7dc849e37bfcf")!

    func snapshot(rate: Int = 3, slip: Int = 2, dryRun: Bool = false, badCookieSlip: Bool = false, exempt: [String] = []) -> Snapshot {
        let networks = exempt.map { text in
            let parts = text.split(separator: "/")
            return (network: IPAddress(String(parts[0]))!, length: Int(parts[1])!)
        }
        return try! Snapshot(
            zones: [TestZones.shared.gslb, TestZones.shared.extra], services: [], cookies: ServerCookies(enabled: true, secret: secret),
            rateLimit: RateLimitPolicy(rate: rate, slip: slip, dryRun: dryRun, badCookieSlip: badCookieSlip, exempt: networks))
    }

    /// What each of `count` queries got: "answer", "tc", "badcookie" or "drop".
    func outcomes(
        _ query: (Int) -> [UInt8], count: Int, client: (Int) -> String = { _ in "192.0.2.1" }, snapshot: Snapshot,
        processor: QueryProcessor, now: UInt32 = 1_800_000_000, transport: Transport = .udp
    ) -> [String] {
        processor.now = now
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 65535)
        defer { buffer.deallocate() }
        return (0..<count).map { i in
            let n = query(i).withUnsafeBytes {
                processor.process(query: $0, response: buffer, capacity: 65535, transport: transport, client: IPAddress(client(i))!, snapshot: snapshot)
            }
            guard n > 0, let d = LDNS.decode(Array(UnsafeBufferPointer(start: buffer, count: n))) else { return "drop" }
            if d.rcode == Int(RCode.badCookie) { return "badcookie" }
            if d.tc {
                XCTAssertTrue(d.answer.isEmpty && d.authority.isEmpty, "a slipped response carries no records")
                return "tc"
            }
            return "answer"
        }
    }

    func limited() -> QueryProcessor {
        let p = QueryProcessor()
        p.rateLimiter = ResponseRateLimiter(capacity: 1024, seed: 42)
        return p
    }

    let www = Wire.query("www.gslb.test.", 1, edns: true)

    func testRateThenSlipEverySecondResponse() {
        let p = limited()
        let s = snapshot()
        XCTAssertEqual(outcomes({ _ in self.www }, count: 7, snapshot: s, processor: p), ["answer", "answer", "answer", "tc", "drop", "tc", "drop"])
        // the next second refills `rate` tokens
        XCTAssertEqual(outcomes({ _ in self.www }, count: 4, snapshot: s, processor: p, now: 1_800_000_001), ["answer", "answer", "answer", "tc"])
        XCTAssertEqual(p.counters.value(WorkerCounters.Slot.rrlLimited), 5)
        XCTAssertEqual(p.counters.value(WorkerCounters.Slot.rrlSlipped), 3)
        XCTAssertEqual(p.counters.value(WorkerCounters.Slot.rrlDropped), 2)
        // slip 0 drops every limited response, slip 1 truncates them all
        XCTAssertEqual(
            outcomes({ _ in self.www }, count: 5, snapshot: snapshot(slip: 0), processor: limited()), ["answer", "answer", "answer", "drop", "drop"])
        XCTAssertEqual(outcomes({ _ in self.www }, count: 5, snapshot: snapshot(slip: 1), processor: limited()), ["answer", "answer", "answer", "tc", "tc"])
    }

    func testCountsPerNetworkAndClass() {
        let p = limited()
        let s = snapshot()
        _ = outcomes({ _ in self.www }, count: 5, snapshot: s, processor: p)
        // same /24, another address: same count
        XCTAssertEqual(outcomes({ _ in self.www }, count: 1, client: { _ in "192.0.2.200" }, snapshot: s, processor: p), ["tc"])
        // another /24 is counted apart
        XCTAssertEqual(outcomes({ _ in self.www }, count: 3, client: { _ in "192.0.3.1" }, snapshot: s, processor: p), ["answer", "answer", "answer"])
        // another name (class) from the limited network is counted apart
        XCTAssertEqual(outcomes({ _ in Wire.query("ns1.gslb.test.", 1, edns: true) }, count: 3, snapshot: s, processor: p), ["answer", "answer", "answer"])
        // IPv6: per /56
        XCTAssertEqual(
            outcomes({ _ in self.www }, count: 4, client: { i in "2001:db8:0:\(i)::1" }, snapshot: s, processor: p),
            ["answer", "answer", "answer", "drop"])
        XCTAssertEqual(outcomes({ _ in self.www }, count: 1, client: { _ in "2001:db8:0:100::1" }, snapshot: s, processor: p), ["answer"])
    }

    /// NXDOMAIN is counted per zone: random names do not each get a fresh allowance.
    func testNXDOMAINCountsPerZone() {
        let p = limited()
        let s = snapshot()
        let got = outcomes({ i in Wire.query("random\(i).gslb.test.", 1, edns: true) }, count: 5, snapshot: s, processor: p)
        XCTAssertEqual(got, ["answer", "answer", "answer", "tc", "drop"])
        // another zone's NXDOMAIN is counted apart
        XCTAssertEqual(outcomes({ i in Wire.query("random\(i).extra.test.", 1, edns: true) }, count: 1, snapshot: s, processor: p), ["answer"])
        // names outside every zone (REFUSED) share one count too
        let refused = outcomes({ i in Wire.query("x\(i).example.", 1, edns: true) }, count: 4, snapshot: s, processor: p)
        XCTAssertEqual(refused, ["answer", "answer", "answer", "tc"])
    }

    func testExemptions() {
        // configured networks
        let s = snapshot(exempt: ["192.0.2.0/25", "::1/128"])
        XCTAssertEqual(outcomes({ _ in self.www }, count: 6, snapshot: s, processor: limited()), Array(repeating: "answer", count: 6))
        XCTAssertEqual(
            outcomes({ _ in self.www }, count: 6, client: { _ in "192.0.2.200" }, snapshot: s, processor: limited()),
            ["answer", "answer", "answer", "tc", "drop", "tc"])
        // TCP is never limited
        XCTAssertEqual(outcomes({ _ in self.www }, count: 6, snapshot: snapshot(), processor: limited(), transport: .tcp), Array(repeating: "answer", count: 6))
        // a valid server cookie proves the source
        let p = limited()
        let sn = snapshot()
        let first = Wire.query("www.gslb.test.", 1, flags: 0, additional: [Wire.opt(rdata: Wire.option(10, Wire.bytes(hex: "0102030405060708")))])
        var learned: [UInt8] = []
        p.now = 1_800_000_000
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 65535)
        defer { buffer.deallocate() }
        let n = first.withUnsafeBytes {
            p.process(query: $0, response: buffer, capacity: 65535, transport: .udp, client: IPAddress("192.0.2.1")!, snapshot: sn)
        }
        learned = LDNS.decode(Array(UnsafeBufferPointer(start: buffer, count: n)))!.options.first { $0.code == 10 }!.data
        let withCookie = Wire.query("www.gslb.test.", 1, flags: 0, additional: [Wire.opt(rdata: Wire.option(10, learned))])
        XCTAssertEqual(outcomes({ _ in withCookie }, count: 8, snapshot: sn, processor: p), Array(repeating: "answer", count: 8))
        // while the cookie-less queries from the same network are limited
        XCTAssertEqual(outcomes({ _ in self.www }, count: 4, snapshot: sn, processor: p), ["answer", "answer", "tc", "drop"])
    }

    func testDryRunCountsAndAnswers() {
        let p = limited()
        XCTAssertEqual(outcomes({ _ in self.www }, count: 6, snapshot: snapshot(dryRun: true), processor: p), Array(repeating: "answer", count: 6))
        XCTAssertEqual(p.counters.value(WorkerCounters.Slot.rrlLimited), 3)
        XCTAssertEqual(p.counters.value(WorkerCounters.Slot.rrlDropped), 0)
        XCTAssertEqual(p.counters.value(WorkerCounters.Slot.rrlSlipped), 0)
    }

    func testBadCookieSlip() {
        let cookieQuery = Wire.query("www.gslb.test.", 1, flags: 0, additional: [Wire.opt(rdata: Wire.option(10, Wire.bytes(hex: "0102030405060708")))])
        XCTAssertEqual(
            outcomes({ _ in cookieQuery }, count: 5, snapshot: snapshot(badCookieSlip: true), processor: limited()),
            ["answer", "answer", "answer", "badcookie", "drop"])
        // without a client cookie the slip stays TC
        XCTAssertEqual(
            outcomes({ _ in self.www }, count: 4, snapshot: snapshot(badCookieSlip: true), processor: limited()), ["answer", "answer", "answer", "tc"])
    }

    func testStartAndStopEvents() {
        let p = limited()
        let s = snapshot()
        _ = outcomes({ _ in self.www }, count: 6, snapshot: s, processor: p)
        _ = outcomes({ _ in self.www }, count: 6, snapshot: s, processor: p, now: 1_800_000_001) // still flooded: no stop
        _ = outcomes({ _ in self.www }, count: 1, snapshot: s, processor: p, now: 1_800_000_010)
        var events: [(Bool, String)] = []
        p.rateLimiter!.events.drain { events.append(($0.started, $0.text(prefix: 24))) }
        XCTAssertEqual(events.map(\.0), [true, false])
        XCTAssertEqual(events.map(\.1), ["192.0.2.0/24", "192.0.2.0/24"])
    }

    /// A fixed table: many more classes than entries never grow memory; a quiet entry is reused.
    func testTableIsBounded() {
        let limiter = ResponseRateLimiter(capacity: 100, seed: 1)
        XCTAssertEqual(limiter.capacity, 128)
        XCTAssertEqual(limiter.memory, 128 * 16)
        let p = QueryProcessor()
        p.rateLimiter = limiter
        let got = outcomes(
            { i in Wire.query("x\(i).example.", 1, edns: true) }, count: 2000, client: { i in "10.\(i / 256 % 256).\(i % 256).1" }, snapshot: snapshot(),
            processor: p)
        XCTAssertEqual(got.filter { $0 == "answer" }.count, 2000, "2,000 networks, each under its rate")
    }
}
