import DNSWire

/// What `QueryProcessor.process` does for the defences: the response's COOKIE (RFC 7873, RFC 9018)
/// and edns-tcp-keepalive (RFC 7828) options, queries that carry only a cookie, and the rate
/// limiter's verdict on a UDP response (`ResponseRateLimiter`).
extension QueryProcessor {
    /// The response's COOKIE (when cookies are on and the client is known) and edns-tcp-keepalive
    /// (over TCP), encoded into `extraOptions`: their length, and whether the server cookie sent was valid.
    @inline(never)
    func encodeResponseOptions(
        _ q: ParsedQuery, query: UnsafeRawBufferPointer, transport: Transport, client: IPAddress?, cookies: ServerCookies
    ) -> (Int, Bool) {
        var length = 0
        var valid = false
        if q.cookieLength > 0 && cookies.enabled, let client {
            valid = answerCookie(q, query: query, client: client, cookies: cookies)
            length = ServerCookieOption.length
        }
        if transport == .tcp && q.keepalive != 0, let timeout = keepaliveTimeout {
            length += writeKeepalive(timeout, at: length)
        }
        return (length, valid)
    }

    /// Checks the query's COOKIE option and encodes the response's into `extraOptions`: the client
    /// cookie and a server cookie (the one sent when valid and under half an hour old, else a new one:
    /// RFC 7873 §5.2.3-5, RFC 9018 §4.3). Returns whether the server cookie sent was valid.
    @inline(__always)
    func answerCookie(_ q: ParsedQuery, query: UnsafeRawBufferPointer, client: IPAddress, cookies: ServerCookies) -> Bool {
        let option = query.baseAddress! + Int(q.cookieOffset)
        let check = cookies.check(option, length: Int(q.cookieLength), client: client, now: now)
        extraOptions.storeBytes(of: EDNSOption.cookie.bigEndian, as: UInt16.self)
        extraOptions.storeBytes(of: UInt16(24).bigEndian, toByteOffset: 2, as: UInt16.self)
        (extraOptions + 4).copyMemory(from: option, byteCount: 8)
        if check == .valid(renew: false) {
            (extraOptions + 12).copyMemory(from: option + 8, byteCount: 16)
        } else {
            cookies.make(clientCookie: option, client: client, now: now, into: extraOptions + 12)
        }
        if case .valid = check {
            counters.bump(WorkerCounters.Slot.cookieValid)
            return true
        }
        counters.bump(WorkerCounters.Slot.cookieNew)
        return false
    }

    /// Encodes edns-tcp-keepalive with TIMEOUT (RFC 7828 §3.1) at `offset` of `extraOptions`; returns its length.
    @inline(__always)
    func writeKeepalive(_ timeout: UInt16, at offset: Int) -> Int {
        extraOptions.storeBytes(of: EDNSOption.tcpKeepalive.bigEndian, toByteOffset: offset, as: UInt16.self)
        extraOptions.storeBytes(of: UInt16(2).bigEndian, toByteOffset: offset + 2, as: UInt16.self)
        extraOptions.storeBytes(of: timeout.bigEndian, toByteOffset: offset + 4, as: UInt16.self)
        return 6
    }

    /// Whether the rate limiter lets one UDP response go out (`RateLimitPolicy`). A response over the
    /// limit is counted, and sent anyway to an exempt network or in dry-run mode. (Exemption is looked
    /// up only then: an exempt client's responses count in its network's bucket but are never limited.)
    @inline(__always)
    func allowed(
        _ limiter: ResponseRateLimiter, policy: RateLimitPolicy, client: IPAddress, kind: UInt8, zone: Int32, node: Int32, qtype: UInt16,
        subnet: ClientSubnet?, scope: UInt8
    ) -> Bool {
        let network = policy.network(of: client)
        // An answer that holds for only part of an ECS client's network (a GSLB decision with a
        // non-zero scope) is a class of its own per part: a resolver asking one name for many client
        // networks is counted per network it asks for, as its cache keeps them (RFC 7871 §7.3.1).
        var block: UInt64 = 0
        if scope > 0, let subnet {
            let (high, low) = subnet.address.leftAlignedWords
            let bits = UInt64(min(scope, subnet.sourcePrefix)) // 0...128
            let maskHigh: UInt64 = bits >= 64 ? ~0 : ~(~0 &>> bits)
            let maskLow: UInt64 = bits <= 64 ? 0 : bits >= 128 ? ~0 : ~(~0 &>> (bits &- 64))
            block = ((high & maskHigh | bits) &* 0xC2B2_AE3D_27D4_EB4F) ^ (low & maskLow)
        }
        let key = limiter.key(
            network: network, kind: kind, zone: zone, node: node, qtype: kind == ResponseClass.answer ? qtype : 0, ecsBlock: block)
        var transition: Int8 = 0
        let sent = limiter.take(key: key, now: now, rate: policy.rate, transition: &transition)
        if transition != 0 { limiter.record(transition, network: network, family: client.family, kind: kind, now: now) }
        if sent { return true }
        if policy.exemptCount > 0 && policy.isExempt(client) { return true }
        counters.bump(WorkerCounters.Slot.rrlLimited)
        return policy.dryRun
    }

    /// A query without a question but with a COOKIE option (RFC 7873 §5.4): the header, and OPT with
    /// the client cookie and a valid server cookie; BADCOOKIE when the server cookie sent was not valid.
    func cookieOnlyResponse(
        _ q: ParsedQuery, query: UnsafeRawBufferPointer, response: UnsafeMutablePointer<UInt8>, capacity: Int, client: IPAddress?,
        snapshot: Snapshot
    ) -> Int {
        guard snapshot.cookies.enabled, let client, capacity >= WireLimits.headerLength + 64 else {
            return errorResponse(q, rcode: RCode.formErr, response: response, capacity: capacity)
        }
        let valid = answerCookie(q, query: query, client: client, cookies: snapshot.cookies)
        let rcode = valid || q.cookieLength == 8 ? RCode.noError : RCode.badCookie
        if rcode == RCode.badCookie { counters.bump(WorkerCounters.Slot.cookieBadCookie) }
        var w = ResponseWriter(buffer: response, limit: capacity, qnameLower: qnameLower, qnameLength: 0)
        w.writeHeader(id: q.id, flags: 0)
        w.writeOPT(
            udpSize: snapshot.udpPayloadSize, extendedRCode: UInt8(rcode >> 4), dnssecOK: q.ednsDO, clientSubnet: nil, scope: 0,
            nsid: nil, options: UnsafeRawBufferPointer(start: extraOptions, count: ServerCookieOption.length))
        count(rcode)
        return w.finish(flags: HeaderFlag.qr | (q.flags & (HeaderFlag.rd | HeaderFlag.cd)) | (rcode & 0x000F))
    }
}
