import DNSWire

/// A fast path for the one-line master-file entries most zones are made of (RFC 1035 §5.1):
/// `[owner] [ttl] [IN] TYPE rdata` with TYPE one of A, AAAA, NS, CNAME, PTR, MX, TXT, and the
/// `$ORIGIN name.` / `$TTL seconds` directives in their plain forms.
///
/// It accepts an entry only when it can produce exactly what ldns (`ldns_rr_new_frm_fp_l`, 1.8.3)
/// produces for it, and answers `.fallback` for anything else: parentheses, backslash escapes,
/// control characters other than TAB (CR included), non-ASCII bytes, `@` inside a name or RDATA,
/// quotes outside TXT RDATA, TTLs with units or more than 9 digits, classes other than IN, other
/// types, RFC 3597 `\#` RDATA, missing or superfluous fields, relative `$ORIGIN`, names near the
/// length limits. The caller hands those entries to ldns, so errors keep ldns's wording.
///
/// ldns semantics mirrored here: `@` is the origin and becomes the previous owner; a blank owner is
/// the previous owner, else the origin (RFC 1035 §5.1); a relative name is the name followed by the
/// origin; a missing TTL is the `$TTL` value, or 3600 when that is 0 (ldns's default); owners and
/// names in RDATA keep their letter case here (the reader lower-cases owners).
struct SimpleRecordParser {
    /// Current origin, wire form as ldns holds it (letter case as written).
    var origin: [UInt8]
    /// Previous explicit owner (wire form, case as written); nil until the first one.
    var previous: [UInt8]? {
        get { hasPrevious ? previousBytes : nil }
        set {
            hasPrevious = newValue != nil
            previousBytes.removeAll(keepingCapacity: true)
            if let newValue { previousBytes.append(contentsOf: newValue) }
        }
    }
    // kept apart from `owner` (copied, never shared) so that neither buffer is reallocated per record
    private var previousBytes: [UInt8] = []
    private var hasPrevious = false
    /// Current `$TTL` value.
    var defaultTTL: UInt32

    /// One parsed entry.
    enum Outcome {
        /// A record; its owner (case as written) is `previous` or `origin`, the RDATA is in `rdata`.
        case record(type: UInt16, ttl: UInt32)
        /// `$ORIGIN` or `$TTL`, applied.
        case directive
        /// Not understood here: parse the entry with ldns.
        case fallback
    }

    /// Owner of the last `.record` (case as written).
    private(set) var owner: [UInt8] = []
    /// RDATA of the last `.record`, uncompressed wire form.
    private(set) var rdata: [UInt8] = []

    init(origin: [UInt8], defaultTTL: UInt32) {
        self.origin = origin
        self.defaultTTL = defaultTTL
        owner.reserveCapacity(256)
        previousBytes.reserveCapacity(256)
        rdata.reserveCapacity(512)
    }

    // MARK: - lines

    /// Whether a line holds no entry: only blanks (space, TAB, CR) and perhaps a comment. This is the
    /// reader's rule for where an entry starts, and ldns skips such lines too.
    static func isBlankOrComment(_ p: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        var i = 0
        while i < count, p[i] == 0x20 || p[i] == 0x09 || p[i] == 0x0D { i += 1 }
        return i == count || p[i] == 0x3B
    }

    /// Parses the entry on one line (`count` bytes, no newline).
    mutating func parse(_ line: UnsafePointer<UInt8>, _ length: Int) -> Outcome {
        // 1. screen the line; a comment (';' outside quotes) ends it. ldns reads CR as a blank, so the
        // CR of a CRLF line end is dropped; long lines are left to ldns (its field limits apply there).
        let count = length > 0 && line[length - 1] == 0x0D ? length - 1 : length
        guard count >= 1 && count <= 4096 else { return .fallback }
        var end = count
        var quoted = false
        var sawQuote = false
        var i = 0
        while i < count {
            let c = line[i]
            if c < 0x20 && c != 0x09 || c >= 0x7F { return .fallback }
            switch c {
            case 0x28, 0x29, 0x5C: return .fallback // ( ) backslash
            case 0x22: quoted.toggle(); sawQuote = true
            case 0x3B where !quoted: end = i; i = count; continue
            default: break
            }
            i += 1
        }
        if quoted { return .fallback }
        if line[0] == 0x24 { return sawQuote ? .fallback : directive(line, end) } // '$'

        var tokens = Tokens(base: line, end: end)
        // 2. owner; an explicit one (or '@') becomes the previous owner once the entry is accepted
        var explicitOwner = false
        if line[0] == 0x20 || line[0] == 0x09 {
            owner.removeAll(keepingCapacity: true)
            owner.append(contentsOf: hasPrevious ? previousBytes : origin)
        } else {
            guard let t = tokens.next() else { return .fallback }
            if t.count == 1 && line[t.start] == 0x40 { // '@'
                owner.removeAll(keepingCapacity: true)
                owner.append(contentsOf: origin)
            } else {
                guard appendName(line + t.start, t.count, into: &owner, clear: true) else { return .fallback }
            }
            explicitOwner = true
        }
        // 3. [ttl] [IN] type, in ldns's order
        guard var t = tokens.next() else { return .fallback }
        var ttl = defaultTTL == 0 ? 3600 : defaultTTL
        if isDigit(line[t.start]) {
            guard let v = decimal(line + t.start, t.count, maxDigits: 9) else { return .fallback }
            ttl = UInt32(v)
            guard let n = tokens.next() else { return .fallback }
            t = n
        }
        if t.count == 2 && (line[t.start] | 0x20) == 0x69 && (line[t.start + 1] | 0x20) == 0x6E { // IN
            guard let n = tokens.next() else { return .fallback }
            t = n
        }
        guard let type = Self.simpleType(line + t.start, t.count) else { return .fallback }
        if sawQuote && type != DNSType.txt { return .fallback }
        // 4. RDATA
        rdata.removeAll(keepingCapacity: true)
        switch type {
        case DNSType.a:
            guard let f = tokens.next(), tokens.next() == nil, parseIPv4(line + f.start, f.count) else { return .fallback }
        case DNSType.aaaa:
            guard let f = tokens.next(), tokens.next() == nil, parseIPv6(line + f.start, f.count) else { return .fallback }
        case DNSType.ns, DNSType.cname, DNSType.ptr:
            guard let f = tokens.next(), tokens.next() == nil, rdataName(line + f.start, f.count) else { return .fallback }
        case DNSType.mx:
            guard let p = tokens.next(), let f = tokens.next(), tokens.next() == nil,
                let pref = decimal(line + p.start, p.count, maxDigits: 5), pref <= 65535
            else { return .fallback }
            rdata.append(UInt8(pref >> 8)); rdata.append(UInt8(pref & 0xFF))
            guard rdataName(line + f.start, f.count) else { return .fallback }
        default: // TXT: character-strings, quoted or not (RFC 1035 §3.3.14, §5.1)
            guard parseText(line, from: tokens.position, to: end) else { return .fallback }
        }
        guard rdata.count <= 65535 else { return .fallback }
        if explicitOwner {
            previousBytes.removeAll(keepingCapacity: true)
            previousBytes.append(contentsOf: owner)
            hasPrevious = true
        }
        return .record(type: type, ttl: ttl)
    }

    // MARK: - directives

    /// `$ORIGIN absolute.name.` and `$TTL digits` (ldns: exact upper case, then a blank).
    private mutating func directive(_ line: UnsafePointer<UInt8>, _ end: Int) -> Outcome {
        var tokens = Tokens(base: line, end: end)
        guard let word = tokens.next(), let arg = tokens.next(), tokens.next() == nil else { return .fallback }
        func isWord(_ s: StaticString) -> Bool {
            guard word.count == s.utf8CodeUnitCount else { return false }
            for k in 0..<word.count where line[word.start + k] != s.utf8Start[k] { return false }
            return true
        }
        if isWord("$ORIGIN") {
            // a relative $ORIGIN is not joined to the current one by ldns: leave it to ldns
            guard arg.count >= 2, line[arg.start + arg.count - 1] == 0x2E, line[arg.start] != 0x40 else { return .fallback }
            var name: [UInt8] = []
            guard appendName(line + arg.start, arg.count, into: &name, clear: true) else { return .fallback }
            origin = name
            return .directive
        }
        if isWord("$TTL") {
            guard let v = decimal(line + arg.start, arg.count, maxDigits: 9) else { return .fallback }
            defaultTTL = UInt32(v)
            return .directive
        }
        return .fallback
    }

    // MARK: - fields

    /// A, AAAA, NS, CNAME, PTR, MX, TXT by name, any letter case; nil for anything else.
    static func simpleType(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt16? {
        var w: UInt64 = 0
        guard n <= 5 else { return nil }
        for k in 0..<n {
            let c = p[k] | 0x20
            guard c >= 0x61 && c <= 0x7A else { return nil }
            w = w << 8 | UInt64(c)
        }
        switch w {
        case 0x61: return DNSType.a
        case 0x6161_6161: return DNSType.aaaa
        case 0x6E73: return DNSType.ns
        case 0x63_6E61_6D65: return DNSType.cname
        case 0x70_7472: return DNSType.ptr
        case 0x6D78: return DNSType.mx
        case 0x74_7874: return DNSType.txt
        default: return nil
        }
    }

    func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    /// Plain decimal digits only (no sign, no units), at most `maxDigits`.
    func decimal(_ p: UnsafePointer<UInt8>, _ n: Int, maxDigits: Int) -> Int? {
        guard n >= 1 && n <= maxDigits else { return nil }
        var v = 0
        for k in 0..<n {
            guard isDigit(p[k]) else { return nil }
            v = v * 10 + Int(p[k] - 0x30)
        }
        return v
    }

    /// Appends the wire form of a name in presentation form (no escapes); a relative name is followed
    /// by the origin. False for anything ldns might treat differently: an empty label, a label over
    /// 63 octets, a long name, '@' or a quote inside.
    func appendName(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [UInt8], clear: Bool) -> Bool {
        if clear { out.removeAll(keepingCapacity: true) }
        guard n >= 1 && n <= 200 else { return false }
        if n == 1 && p[0] == 0x2E { out.append(0); return true } // the root
        var labelStart = out.count
        out.append(0)
        var length = 0
        for k in 0..<n {
            let c = p[k]
            if c == 0x2E {
                guard length >= 1 && length <= 63 else { return false }
                out[labelStart] = UInt8(length)
                labelStart = out.count
                out.append(0)
                length = 0
            } else {
                if c == 0x40 || c == 0x22 { return false }
                out.append(c)
                length += 1
            }
        }
        if p[n - 1] == 0x2E { return true } // absolute: the last pushed length byte is the root
        guard length >= 1 && length <= 63 else { return false }
        out[labelStart] = UInt8(length)
        guard out.count + origin.count <= 255 else { return false }
        out.append(contentsOf: origin)
        return true
    }

    /// A domain name in RDATA (NS, CNAME, PTR, MX exchange).
    mutating func rdataName(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        appendName(p, n, into: &rdata, clear: false)
    }

    /// Dotted-quad IPv4 as glibc's inet_pton accepts it (no leading zeros).
    mutating func parseIPv4(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var parts = 0, value = 0, digits = 0
        for k in 0...n {
            if k == n || p[k] == 0x2E {
                guard digits >= 1 && parts < 4 else { return false }
                rdata.append(UInt8(value))
                parts += 1; value = 0; digits = 0
                continue
            }
            guard isDigit(p[k]), !(digits == 1 && value == 0) else { return false }
            value = value * 10 + Int(p[k] - 0x30)
            digits += 1
            guard value <= 255 else { return false }
        }
        return parts == 4
    }

    /// IPv6 in the RFC 4291 §2.2 forms 1 and 2 (no embedded IPv4): groups of 1-4 hex digits, at most
    /// one "::" that stands for at least one group.
    mutating func parseIPv6(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        guard n >= 2 && n <= 39 else { return false }
        var groups: [UInt16] = []
        groups.reserveCapacity(8)
        var gap = -1
        var k = 0
        if p[0] == 0x3A {
            guard p[1] == 0x3A else { return false }
            gap = 0
            k = 2
            if k == n { return emitIPv6(groups, gap: gap) }
        }
        while true {
            var v = 0, digits = 0
            while k < n, digits < 5, let h = hexValue(p[k]) { v = v << 4 | h; digits += 1; k += 1 }
            guard digits >= 1 && digits <= 4 else { return false }
            groups.append(UInt16(v))
            if k == n { break }
            guard p[k] == 0x3A else { return false }
            k += 1
            if k < n && p[k] == 0x3A {
                guard gap < 0 else { return false }
                gap = groups.count
                k += 1
                if k == n { break }
            } else if k == n {
                return false
            }
        }
        return emitIPv6(groups, gap: gap)
    }

    private mutating func emitIPv6(_ groups: [UInt16], gap: Int) -> Bool {
        if gap < 0 {
            guard groups.count == 8 else { return false }
        } else {
            guard groups.count <= 7 else { return false }
        }
        let zeros = 8 - groups.count
        for (idx, g) in groups.enumerated() {
            if idx == gap { for _ in 0..<zeros { rdata.append(0); rdata.append(0) } }
            rdata.append(UInt8(g >> 8)); rdata.append(UInt8(g & 0xFF))
        }
        if gap == groups.count { for _ in 0..<zeros { rdata.append(0); rdata.append(0) } }
        return true
    }

    func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case 0x30...0x39: return Int(c - 0x30)
        case 0x41...0x46: return Int(c - 0x41 + 10)
        case 0x61...0x66: return Int(c - 0x61 + 10)
        default: return nil
        }
    }

    /// TXT RDATA as ldns splits it: each field starts after blanks; a field that starts with a quote
    /// runs to the next quote (which ends it), any other runs to the next blank. At least one field;
    /// each at most 255 octets (RFC 1035 §3.3).
    mutating func parseText(_ line: UnsafePointer<UInt8>, from start: Int, to end: Int) -> Bool {
        var k = start
        var fields = 0
        while true {
            while k < end && (line[k] == 0x20 || line[k] == 0x09) { k += 1 }
            if k == end { break }
            let lengthAt = rdata.count
            rdata.append(0)
            var n = 0
            if line[k] == 0x22 {
                k += 1
                while k < end && line[k] != 0x22 { rdata.append(line[k]); n += 1; k += 1 }
                guard k < end else { return false }
                k += 1
            } else {
                while k < end && line[k] != 0x20 && line[k] != 0x09 {
                    if line[k] == 0x22 { return false }
                    rdata.append(line[k]); n += 1; k += 1
                }
            }
            guard n <= 255 else { return false }
            rdata[lengthAt] = UInt8(n)
            fields += 1
        }
        return fields >= 1
    }
}

/// Blank-separated tokens of one line (space and TAB, as ldns splits an entry).
struct Tokens {
    let base: UnsafePointer<UInt8>
    let end: Int
    /// Where the next token search starts.
    private(set) var position = 0

    init(base: UnsafePointer<UInt8>, end: Int) {
        self.base = base
        self.end = end
    }

    /// The next token as (start, count), or nil at the end of the line.
    mutating func next() -> (start: Int, count: Int)? {
        var k = position
        while k < end && (base[k] == 0x20 || base[k] == 0x09) { k += 1 }
        guard k < end else { position = k; return nil }
        let start = k
        while k < end && base[k] != 0x20 && base[k] != 0x09 { k += 1 }
        position = k
        return (start, k - start)
    }
}
