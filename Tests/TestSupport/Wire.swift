// Shared by the test targets: DNS messages assembled by hand, independently of the
// code under test.

/// Assembles DNS messages byte by byte for the tests (independent of the code under test).
public enum Wire {
    /// Presentation name -> wire form, letter case kept ("." is the root).
    public static func name(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        let trimmed = text.hasSuffix(".") ? String(text.dropLast()) : text
        if !trimmed.isEmpty {
            for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
                out.append(UInt8(label.utf8.count))
                out.append(contentsOf: Array(label.utf8))
            }
        }
        out.append(0)
        return out
    }

    public static func u16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    public static func u32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    public static func header(
        id: UInt16 = 0x1234, flags: UInt16 = 0x0100, qd: UInt16 = 1, an: UInt16 = 0,
        ns: UInt16 = 0, ar: UInt16 = 0
    ) -> [UInt8] {
        u16(id) + u16(flags) + u16(qd) + u16(an) + u16(ns) + u16(ar)
    }

    public static func question(_ qname: String, _ qtype: UInt16 = 1, _ qclass: UInt16 = 1) -> [UInt8] {
        name(qname) + u16(qtype) + u16(qclass)
    }

    /// One EDNS option: code, length, body.
    public static func option(_ code: UInt16, _ body: [UInt8]) -> [UInt8] { u16(code) + u16(UInt16(body.count)) + body }

    /// ECS option body (RFC 7871 §6).
    public static func ecs(family: UInt16, source: UInt8, scope: UInt8 = 0, address: [UInt8]) -> [UInt8] {
        option(8, u16(family) + [source, scope] + address)
    }

    /// An OPT pseudo-RR. `rdata` is the concatenated options (see `option`).
    public static func opt(
        owner: [UInt8] = [0], udp: UInt16 = 1232, extRCode: UInt8 = 0, version: UInt8 = 0,
        doBit: Bool = false, rdata: [UInt8] = [], rdlength: UInt16? = nil
    ) -> [UInt8] {
        owner + u16(41) + u16(udp) + [extRCode, version] + u16(doBit ? 0x8000 : 0)
            + u16(rdlength ?? UInt16(rdata.count)) + rdata
    }

    /// A whole query: header, one question, then additional records (counted in ARCOUNT).
    public static func query(
        _ qname: String, _ qtype: UInt16 = 1, qclass: UInt16 = 1, id: UInt16 = 0x1234,
        flags: UInt16 = 0x0100, additional: [[UInt8]] = []
    ) -> [UInt8] {
        header(id: id, flags: flags, qd: 1, ar: UInt16(additional.count)) + question(qname, qtype, qclass)
            + additional.flatMap { $0 }
    }

    /// A query without RD, with an OPT record (UDP size 1232) when `edns`; `ecs` = (family, source
    /// prefix, address octets) adds an ECS option (RFC 7871 §6) to it.
    public static func query(
        _ qname: String, _ qtype: UInt16, id: UInt16 = 0x4242, edns: Bool,
        ecs: (UInt16, UInt8, [UInt8])? = nil
    ) -> [UInt8] {
        let options = ecs.map { family, source, address in Wire.ecs(family: family, source: source, address: address) } ?? []
        return query(qname, qtype, id: id, flags: 0x0000, additional: edns ? [opt(rdata: options)] : [])
    }

    /// Lower-case hex, two digits per octet.
    public static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
    }

    /// Hex (whitespace ignored) -> bytes.
    public static func bytes(hex: String) -> [UInt8] {
        let h = Array(hex.filter { !$0.isWhitespace }.utf8)
        precondition(h.count % 2 == 0)
        func v(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10 }
        return stride(from: 0, to: h.count, by: 2).map { v(h[$0]) << 4 | v(h[$0 + 1]) }
    }
}
