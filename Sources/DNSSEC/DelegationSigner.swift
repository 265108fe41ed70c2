import CLDNS

extension ZoneKey {
    /// The DS RDATA the parent publishes for this key: key tag, algorithm, digest type 2 (SHA-256,
    /// RFC 4509) and the digest of owner name and DNSKEY RDATA (RFC 4034 §5.1.4). Made by ldns.
    public var dsRDATA: [UInt8]? {
        withRR(type: 48, ttl: 0, rdata: dnskeyRDATA) { rr -> [UInt8]? in
            guard let ds = ldns_key_rr2ds(rr, LDNS_SHA256) else { return nil }
            defer { ldns_rr_free(ds) }
            return ZoneKey.rdata(of: ds)
        } ?? nil
    }

    /// The DS record in presentation form: `zone. TTL IN DS tag alg 2 HEX`.
    public func dsText(ttl: UInt32 = 3600) -> String? {
        guard let rdata = dsRDATA, rdata.count > 4 else { return nil }
        let digest = rdata[4...].map { byte -> String in
            let hex = Array("0123456789ABCDEF")
            return String([hex[Int(byte >> 4)], hex[Int(byte & 15)]])
        }.joined()
        return "\(zone) \(ttl) IN DS \(tag) \(algorithm.rawValue) 2 \(digest)"
    }
}
