import CLDNS
import DNSWire
import SourceFiles
#if canImport(Glibc)
import Glibc
#endif

/// Reads RFC 1035 master files: simple one-line entries through `SimpleRecordParser`, everything
/// else through ldns.
///
/// ldns parses each entry the fast path does not take (`ldns_rr_new_frm_fp_l` on the file held in
/// memory), including parentheses, escapes, every type it knows and RFC 3597 generic syntax; the
/// fast path takes only entries for which it yields the same record (see `SimpleRecordParser`), and
/// both share the `$ORIGIN` / `$TTL` / previous-owner state. `$INCLUDE file [origin]` is handled here
/// because ldns's zone reader does not implement it: the included file is read with the given (or
/// current) origin, and the origin reverts afterwards (RFC 1035 §5.1). Errors carry file:line, the
/// line where the entry starts.
public enum ZoneFileReader {
    /// Deepest `$INCLUDE` nesting accepted (guards against include loops).
    public static let maxIncludeDepth = 8

    /// Reads all records of `path` with `origin` (presentation form, e.g. "example.com.").
    public static func read(path: String, origin: String, defaultTTL: UInt32 = 3600) throws -> [ZoneRecord] {
        try read(path: path, origin: origin, defaultTTL: defaultTTL, fastPath: true)
    }

    /// `fastPath: false` sends every entry through ldns (the reference the fast path is tested against).
    static func read(path: String, origin: String, defaultTTL: UInt32, fastPath: Bool) throws -> [ZoneRecord] {
        try readBatch(path: path, origin: origin, defaultTTL: defaultTTL, fastPath: fastPath).records()
    }

    /// Reads all records of `path` into flat storage (what the compiler works on).
    static func readBatch(path: String, origin: String, defaultTTL: UInt32 = 3600, fastPath: Bool = true) throws -> RecordBatch {
        try withOrigin(origin, path: path) { originRDF in
            var batch = RecordBatch()
            var ttl = defaultTTL
            try readFile(path: path, origin: originRDF, ttl: &ttl, depth: 0, fastPath: fastPath, into: &batch)
            return batch
        }
    }

    /// Reads master-file text held in memory, named `path` in errors (tests compare both paths with it).
    static func read(
        text bytes: [UInt8], path: String, origin: String, defaultTTL: UInt32 = 3600,
        fastPath: Bool
    ) throws -> [ZoneRecord] {
        try withOrigin(origin, path: path) { originRDF in
            var batch = RecordBatch()
            var ttl = defaultTTL
            guard !bytes.isEmpty else { return [] }
            try bytes.withUnsafeBufferPointer { buffer in
                try readEntries(buffer, path: path, origin: originRDF, ttl: &ttl, depth: 0, fastPath: fastPath, into: &batch)
            }
            return batch.records()
        }
    }

    /// Calls `body` with `origin` as an ldns name (freed afterwards).
    private static func withOrigin<R>(_ origin: String, path: String, _ body: (UnsafeMutablePointer<ldns_rdf>) throws -> R) throws -> R {
        guard let originRDF = ldns_dname_new_frm_str(origin) else {
            throw ZoneError(file: path, line: 0, reason: "invalid origin '\(origin)'")
        }
        defer { ldns_rdf_deep_free(originRDF) }
        return try body(originRDF)
    }

    /// Reads one file (the zone's, or an `$INCLUDE`d one at `depth` > 0) into `batch`.
    static func readFile(
        path: String, origin: UnsafeMutablePointer<ldns_rdf>, ttl: inout UInt32, depth: Int,
        fastPath: Bool, into batch: inout RecordBatch
    ) throws {
        let bytes = try SourceFile.readAll(path)
        guard !bytes.isEmpty else { return }
        if depth == 0 && batch.count == 0 && batch.files.isEmpty { batch = RecordBatch(expectedRecords: bytes.count / 32) }
        try bytes.withUnsafeBufferPointer { buffer in
            try readEntries(buffer, path: path, origin: origin, ttl: &ttl, depth: depth, fastPath: fastPath, into: &batch)
        }
    }

    /// The entry loop over one file's bytes: line by line, blank and comment lines skipped, each entry
    /// through the fast path or, failing that, through ldns from the same offset.
    static func readEntries(
        _ buffer: UnsafeBufferPointer<UInt8>, path: String, origin: UnsafeMutablePointer<ldns_rdf>,
        ttl: inout UInt32, depth: Int, fastPath: Bool, into batch: inout RecordBatch
    ) throws {
        let base = buffer.baseAddress!
        let count = buffer.count
        // ldns reads the entries the fast path leaves from the same bytes (glibc fmemopen, read only)
        guard let fp = fmemopen(UnsafeMutableRawPointer(mutating: base), count, "r") else {
            throw ZoneError(file: path, line: 0, reason: "cannot read: \(String(cString: strerror(errno)))")
        }
        defer { fclose(fp) }
        // ldns's view of the state; rebuilt from `parser` before ldns runs when the fast path changed it
        var currentOrigin: UnsafeMutablePointer<ldns_rdf>? = ldns_rdf_clone(origin)
        var previous: UnsafeMutablePointer<ldns_rdf>? = nil
        defer {
            if let currentOrigin { ldns_rdf_deep_free(currentOrigin) }
            if let previous { ldns_rdf_deep_free(previous) }
        }
        var parser = SimpleRecordParser(origin: rdfBytes(origin), defaultTTL: ttl)
        var ldnsInSync = true
        var streamAt = 0 // where `fp` stands: consecutive ldns entries need no seek (a seek drops stdio's buffer)
        // one ldns output buffer for every record of the file (a fresh one per record costs a 64 KiB malloc)
        guard let wire = ldns_buffer_new(Int(LDNS_MAX_PACKETLEN)) else { throw ZoneError(file: path, line: 0, reason: "out of memory") }
        defer { ldns_buffer_free(wire) }
        let fileIndex = batch.fileIndex(path)

        var pos = 0
        var line = 1
        while pos < count {
            let lineEnd = memchr(base + pos, 0x0A, count - pos).map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - base } ?? count
            // ldns skips a line that is empty or only a comment as part of reading the next entry; a
            // line with blanks is an (empty) entry of its own, after which it skips line separators
            if SimpleRecordParser.isBlankOrComment(base + pos, lineEnd - pos) {
                let hasBlanks = lineEnd > pos && base[pos] != 0x3B
                pos = lineEnd + 1
                line += 1
                if hasBlanks { skipSeparators(base, count, &pos, &line) }
                continue
            }
            if fastPath {
                let outcome = parser.parse(base + pos, lineEnd - pos)
                if case let .record(type, recordTTL) = outcome {
                    let fits = parser.owner.withUnsafeBufferPointer { o in
                        parser.rdata.withUnsafeBufferPointer { d in
                            batch.append(
                                owner: o.baseAddress!, ownerLength: o.count, type: type, rrClass: DNSClass.in, ttl: recordTTL,
                                rdata: d.baseAddress, rdataLength: d.count, file: fileIndex, line: line)
                        }
                    }
                    guard fits else { throw ZoneError(file: path, line: line, reason: "RDATA longer than 65535 octets") }
                }
                if case .fallback = outcome {
                    // ldns reads this entry below
                } else {
                    // a record or a directive taken here: ldns's state must be rebuilt before it reads again
                    ldnsInSync = false
                    pos = lineEnd + 1
                    line += 1
                    skipSeparators(base, count, &pos, &line)
                    continue
                }
            }

            // ldns, from this entry's first byte
            _ = heapKeptForLDNS
            if !ldnsInSync {
                if let o = currentOrigin { ldns_rdf_deep_free(o) }
                currentOrigin = makeRDF(parser.origin)
                if let p = previous { ldns_rdf_deep_free(p) }
                previous = parser.previous.flatMap(makeRDF)
                ttl = parser.defaultTTL
            }
            if streamAt != pos { fseek(fp, pos, SEEK_SET) }
            var ldnsLine = Int32(line - 1)
            var rr: UnsafeMutablePointer<ldns_rr>? = nil
            let status = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &currentOrigin, &previous, &ldnsLine)
            let entryLine = line
            let entryEnd = lineEnd
            let entryStart = pos
            var next = Int(ftell(fp))
            streamAt = next
            if next <= pos || next > count { next = min(lineEnd + 1, count) } // always move on
            line += newlines(base + pos, next - pos)
            pos = next
            switch status {
            case LDNS_STATUS_OK:
                guard let rr else { break }
                defer { ldns_rr_free(rr) }
                try append(rr, to: &batch, file: path, fileIndex: fileIndex, line: entryLine, wire: wire)
            case LDNS_STATUS_SYNTAX_EMPTY, LDNS_STATUS_SYNTAX_TTL, LDNS_STATUS_SYNTAX_ORIGIN:
                break
            case LDNS_STATUS_SYNTAX_INCLUDE:
                guard depth < maxIncludeDepth else {
                    throw ZoneError(file: path, line: entryLine, reason: "$INCLUDE nested deeper than \(maxIncludeDepth)")
                }
                let text = String(decoding: UnsafeBufferPointer(start: base + entryStart, count: entryEnd - entryStart), as: UTF8.self)
                let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard words.count >= 2 else {
                    throw ZoneError(file: path, line: entryLine, reason: "$INCLUDE needs a file name")
                }
                var target = String(words[1])
                if !target.hasPrefix("/"), let slash = path.lastIndex(of: "/") {
                    target = String(path[...slash]) + target
                }
                var includeOrigin = currentOrigin.map { ldns_rdf_clone($0)! }
                if words.count >= 3, !words[2].hasPrefix(";") {
                    var name = String(words[2])
                    if !name.hasSuffix("."), let cur = currentOrigin, let s = ldns_rdf2str(cur) {
                        name += "." + String(cString: s)
                        free(s)
                    }
                    if let o = includeOrigin { ldns_rdf_deep_free(o) }
                    guard let parsed = ldns_dname_new_frm_str(name) else {
                        throw ZoneError(file: path, line: entryLine, reason: "$INCLUDE origin '\(words[2])' is not a domain name")
                    }
                    includeOrigin = parsed
                }
                defer { if let o = includeOrigin { ldns_rdf_deep_free(o) } }
                var includeTTL = ttl
                try readFile(
                    path: target, origin: includeOrigin!, ttl: &includeTTL, depth: depth + 1, fastPath: fastPath,
                    into: &batch)
            default:
                let reason = String(cString: ldns_get_errorstr_by_id(status))
                throw ZoneError(file: path, line: entryLine, reason: reason)
            }
            // the fast path continues from ldns's state
            parser.origin = currentOrigin.map(rdfBytes) ?? []
            parser.previous = previous.map(rdfBytes)
            parser.defaultTTL = ttl
            ldnsInSync = true
        }
        ttl = parser.defaultTTL
    }

    /// ldns allocates about 200 KiB of scratch per entry (line, RDATA and token buffers of 10-64 KiB) and
    /// frees it again. When nothing live sits above it on the heap -- the records now go to a few large
    /// mmap'd arrays, not to small per-record ones -- glibc trims the heap top after every entry and grows
    /// it again on the next: a brk pair and ~50 page faults per entry, 2.2 s instead of 0.27 s for 100,000
    /// entries parsed by ldns. Keeping 1 MiB of padding at the top (M_TOP_PAD, set once per process)
    /// stops that; `releaseFreedMemory` (malloc_trim) after a load still returns free memory to the kernel.
    static let heapKeptForLDNS: Void = {
        _ = mallopt(M_TOP_PAD, 1 << 20)
    }()

    /// A name's wire bytes as ldns holds them.
    static func rdfBytes(_ rdf: UnsafeMutablePointer<ldns_rdf>) -> [UInt8] {
        Array(UnsafeBufferPointer(start: ldns_rdf_data(rdf), count: ldns_rdf_size(rdf)))
    }

    /// An ldns DNAME rdf holding `bytes`.
    static func makeRDF(_ bytes: [UInt8]) -> UnsafeMutablePointer<ldns_rdf>? {
        bytes.withUnsafeBufferPointer { ldns_dname_new_frm_data(UInt16(bytes.count), $0.baseAddress) }
    }

    /// What ldns does after an entry (`ldns_fskipcs_l` with its line delimiters): skip FF, LF, CR, VT.
    @inline(__always)
    static func skipSeparators(_ base: UnsafePointer<UInt8>, _ count: Int, _ pos: inout Int, _ line: inout Int) {
        while pos < count {
            switch base[pos] {
            case 0x0A: line += 1
            case 0x0B, 0x0C, 0x0D: break
            default: return
            }
            pos += 1
        }
    }

    /// Number of line feeds in `count` bytes.
    static func newlines(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int {
        var n = 0
        for i in 0..<max(count, 0) where p[i] == 0x0A { n += 1 }
        return n
    }

    /// Appends one ldns record (owner lower-cased; RDATA via ldns's wire writer).
    static func append(
        _ rr: UnsafeMutablePointer<ldns_rr>, to batch: inout RecordBatch, file: String, fileIndex: Int32, line: Int,
        wire: UnsafeMutablePointer<ldns_buffer>
    ) throws {
        let ownerRDF = ldns_rr_owner(rr)!
        ldns_buffer_clear(wire)
        let status = ldns_rr_rdata2buffer_wire(wire, rr)
        guard status == LDNS_STATUS_OK else {
            throw ZoneError(file: file, line: line, reason: String(cString: ldns_get_errorstr_by_id(status)))
        }
        // ldns reads TYPEnnnn / CLASSnnnn (RFC 3597 §5) without checking that nnnn fits in 16 bits
        // (found by fuzzing: TYPE97614 trapped the conversion below).
        guard let type = UInt16(exactly: ldns_rr_get_type(rr).rawValue) else {
            throw ZoneError(file: file, line: line, reason: "type TYPE\(ldns_rr_get_type(rr).rawValue) is out of range (0-65535)")
        }
        guard let rrClass = UInt16(exactly: ldns_rr_get_class(rr).rawValue) else {
            throw ZoneError(file: file, line: line, reason: "class CLASS\(ldns_rr_get_class(rr).rawValue) is out of range (0-65535)")
        }
        let length = ldns_buffer_position(wire)
        guard length <= 65535,
            batch.append(
                owner: ldns_rdf_data(ownerRDF), ownerLength: ldns_rdf_size(ownerRDF),
                type: type, rrClass: rrClass, ttl: ldns_rr_ttl(rr),
                rdata: ldns_buffer_begin(wire), rdataLength: length, file: fileIndex, line: line)
        else {
            throw ZoneError(file: file, line: line, reason: "RDATA longer than 65535 octets")
        }
    }
}
