import CLDNS
import DNSWire
#if canImport(Glibc)
import Glibc
#endif

/// Reads RFC 1035 master files through ldns (the only user of CLDNS in the server).
///
/// ldns parses each record (`ldns_rr_new_frm_fp_l`), including `$ORIGIN`, `$TTL`, every type it knows
/// and RFC 3597 generic syntax. `$INCLUDE file [origin]` is handled here because ldns's zone reader
/// does not implement it: the included file is read with the given (or current) origin, and the origin
/// reverts afterwards (RFC 1035 §5.1). Errors carry file:line.
public enum ZoneFileReader {
    /// Deepest `$INCLUDE` nesting accepted (guards against include loops).
    public static let maxIncludeDepth = 8

    /// Reads all records of `path` with `origin` (presentation form, e.g. "example.com.").
    public static func read(path: String, origin: String, defaultTTL: UInt32 = 3600) throws -> [ZoneRecord] {
        guard let originRDF = ldns_dname_new_frm_str(origin) else {
            throw ZoneError(file: path, line: 0, reason: "invalid origin '\(origin)'")
        }
        defer { ldns_rdf_deep_free(originRDF) }
        var records: [ZoneRecord] = []
        var ttl = defaultTTL
        try readFile(path: path, origin: originRDF, ttl: &ttl, depth: 0, into: &records)
        return records
    }

    static func readFile(path: String, origin: UnsafeMutablePointer<ldns_rdf>, ttl: inout UInt32, depth: Int,
                         into records: inout [ZoneRecord]) throws {
        guard let fp = fopen(path, "r") else {
            throw ZoneError(file: path, line: 0, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { fclose(fp) }
        let lines = (try? String(contentsOfFileCompat: path))?.split(separator: "\n", omittingEmptySubsequences: false) ?? []
        var currentOrigin: UnsafeMutablePointer<ldns_rdf>? = ldns_rdf_clone(origin)
        var previous: UnsafeMutablePointer<ldns_rdf>? = nil
        defer {
            if let currentOrigin { ldns_rdf_deep_free(currentOrigin) }
            if let previous { ldns_rdf_deep_free(previous) }
        }
        var lineNumber: Int32 = 0
        // one ldns output buffer for every record of the file (a fresh one per record costs a 64 KiB malloc)
        guard let wire = ldns_buffer_new(Int(LDNS_MAX_PACKETLEN)) else { throw ZoneError(file: path, line: 0, reason: "out of memory") }
        defer { ldns_buffer_free(wire) }
        while feof(fp) == 0 {
            var rr: UnsafeMutablePointer<ldns_rr>? = nil
            let before = lineNumber
            let status = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &currentOrigin, &previous, &lineNumber)
            switch status {
            case LDNS_STATUS_OK:
                guard let rr else { continue }
                defer { ldns_rr_free(rr) }
                records.append(try convert(rr, file: path, line: startLine(lines, after: Int(before), fallback: Int(lineNumber)), wire: wire))
            case LDNS_STATUS_SYNTAX_EMPTY, LDNS_STATUS_SYNTAX_TTL, LDNS_STATUS_SYNTAX_ORIGIN:
                continue
            case LDNS_STATUS_SYNTAX_INCLUDE:
                let at = includeLine(lines, from: Int(before), to: Int(lineNumber))
                guard depth < maxIncludeDepth else {
                    throw ZoneError(file: path, line: at.number, reason: "$INCLUDE nested deeper than \(maxIncludeDepth)")
                }
                let words = at.text.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard words.count >= 2 else {
                    throw ZoneError(file: path, line: at.number, reason: "$INCLUDE needs a file name")
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
                        throw ZoneError(file: path, line: at.number, reason: "$INCLUDE origin '\(words[2])' is not a domain name")
                    }
                    includeOrigin = parsed
                }
                defer { if let o = includeOrigin { ldns_rdf_deep_free(o) } }
                var includeTTL = ttl
                try readFile(path: target, origin: includeOrigin!, ttl: &includeTTL, depth: depth + 1, into: &records)
            default:
                let reason = String(cString: ldns_get_errorstr_by_id(status))
                throw ZoneError(file: path, line: startLine(lines, after: Int(before), fallback: Int(lineNumber)), reason: reason)
            }
        }
    }

    /// Converts one ldns record to a `ZoneRecord` (owner lower-cased; RDATA via ldns's wire writer).
    static func convert(_ rr: UnsafeMutablePointer<ldns_rr>, file: String, line: Int, wire: UnsafeMutablePointer<ldns_buffer>) throws -> ZoneRecord {
        let ownerRDF = ldns_rr_owner(rr)!
        let ownerSize = ldns_rdf_size(ownerRDF)
        let ownerData = ldns_rdf_data(ownerRDF)!
        var owner = [UInt8](repeating: 0, count: ownerSize)
        WireName.lowercase(ownerData, length: ownerSize, into: &owner)
        ldns_buffer_clear(wire)
        let status = ldns_rr_rdata2buffer_wire(wire, rr)
        guard status == LDNS_STATUS_OK else {
            throw ZoneError(file: file, line: line, reason: String(cString: ldns_get_errorstr_by_id(status)))
        }
        let length = ldns_buffer_position(wire)
        guard length <= 65535 else { throw ZoneError(file: file, line: line, reason: "RDATA longer than 65535 octets") }
        let rdata = Array(UnsafeBufferPointer(start: ldns_buffer_begin(wire), count: length))
        return ZoneRecord(owner: owner, type: UInt16(ldns_rr_get_type(rr).rawValue),
                          rrClass: UInt16(ldns_rr_get_class(rr).rawValue), ttl: ldns_rr_ttl(rr),
                          rdata: rdata, file: file, line: line)
    }

    /// The line where the entry ldns just read begins: the first line after the `before` lines ldns had
    /// consumed that holds something other than blanks or a comment. (ldns's own counter has by then
    /// also counted the blank lines after the entry, and misses a last line without a newline.)
    static func startLine(_ lines: [Substring], after before: Int, fallback: Int) -> Int {
        var i = max(before, 0)
        while i < lines.count {
            let t = lines[i].drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if !t.isEmpty && !t.hasPrefix(";") { return i + 1 }
            i += 1
        }
        return fallback
    }

    /// Finds the `$INCLUDE` directive among the lines ldns consumed in its last call.
    static func includeLine(_ lines: [Substring], from before: Int, to after: Int) -> (number: Int, text: String) {
        let lo = max(before, 0), hi = min(max(after, before + 1), lines.count)
        if lo < hi {
            for i in lo..<hi {
                let t = lines[i].drop(while: { $0 == " " || $0 == "\t" })
                if t.uppercased().hasPrefix("$INCLUDE") { return (i + 1, String(t)) }
            }
        }
        return (after, "")
    }
}

extension String {
    /// Reads a whole file as UTF-8 (lossy) without Foundation.
    init(contentsOfFileCompat path: String) throws {
        guard let fp = fopen(path, "r") else { throw ZoneError(file: path, line: 0, reason: "cannot open") }
        defer { fclose(fp) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, fp)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        self = String(decoding: bytes, as: UTF8.self)
    }
}

