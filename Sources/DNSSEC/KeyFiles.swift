import CLDNS
import SourceFiles

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A directory of BIND-format key files, `K<zone>+<alg>+<tag>.key` (the DNSKEY record) and `.private`
/// (the private key and its timing metadata), as BIND's dnssec-keygen, ldns-keygen and Meridian write
/// them. Keys of several zones may share a directory.
///
/// Reading is strict: a key whose files are missing, unreadable or do not agree (algorithm, key tag,
/// public key, zone) is an error naming the file. Nothing here ever replaces a bad key with a new one.
public enum KeyFiles {
    /// Every key of `zone` in `directory`, sorted by key tag; empty when there is none.
    public static func load(zone: String, directory: String) throws -> [ZoneKey] {
        let zone = ZoneKey.canonical(zone)
        guard let dir = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw DNSSECError("\(directory): cannot read the key directory: \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name.lowercased().hasPrefix("k\(zone)+"), name.hasSuffix(".private") { names.append(String(name.dropLast(8))) }
        }
        return try names.sorted().map { try read(base: directory + "/" + $0, zone: zone) }.sorted { $0.tag < $1.tag }
    }

    /// Writes the key's two files into `directory` (created 0700 when absent): `.private` mode 0600.
    /// Refuses to overwrite an existing file.
    @discardableResult
    public static func write(_ key: ZoneKey, ttl: UInt32, directory: String) throws -> String {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw DNSSECError("\(directory): cannot create the key directory: \(String(cString: strerror(errno)))")
        }
        let base = directory + "/" + key.baseName
        let role = key.isSecureEntryPoint ? "key-signing" : "zone-signing"
        let publicText = """
            ; This is a \(role) key, keyid \(key.tag), for \(key.zone)
            ; Created: \(KeyTime.format(key.timing.created))
            \(key.dnskeyText(ttl: ttl))

            """
        try create(base + ".private", key.privateText, mode: 0o600)
        try create(base + ".key", publicText, mode: 0o644)
        return base
    }

    /// Rewrites the key's `.private` file with `timing` (a new file renamed over the old one, so a
    /// reader sees the old or the new file whole) and sets the key's timing to it.
    public static func retime(_ key: ZoneKey, _ timing: KeyTiming, directory: String) throws {
        key.timing = timing
        try replace(directory + "/" + key.baseName + ".private", key.privateText, mode: 0o600)
    }

    /// When the parent's DS for each key of the zone was seen (key tag -> UNIX time), from the keys'
    /// `.state` files (BIND's name and field: `DSPublish`).
    public static func dsSeen(_ keys: [ZoneKey], directory: String) -> [UInt16: Int64] {
        var seen: [UInt16: Int64] = [:]
        for key in keys {
            guard let text = try? readText(directory + "/" + key.baseName + ".state") else { continue }
            for line in text.split(separator: "\n") where line.hasPrefix("DSPublish:") {
                if let time = KeyTime.parse(line.dropFirst(10).trimmingWhitespace()) { seen[key.tag] = time }
            }
        }
        return seen
    }

    /// Records that the parent's DS for `key` was seen at `time` (its `.state` file).
    public static func markDSSeen(_ key: ZoneKey, at time: Int64, directory: String) throws {
        let path = directory + "/" + key.baseName + ".state"
        let kept = ((try? readText(path)) ?? "").split(separator: "\n").filter { !$0.hasPrefix("DSPublish:") }.map(String.init)
        try replace(path, (kept + ["DSPublish: \(KeyTime.format(time))"]).joined(separator: "\n") + "\n", mode: 0o644)
    }

    /// Writes `text` to `path` whole: a new file renamed over the old one, so a reader sees one or the other.
    static func replace(_ path: String, _ text: String, mode: mode_t) throws {
        let temporary = path + ".new"
        unlink(temporary)
        try create(temporary, text, mode: mode)
        guard rename(temporary, path) == 0 else {
            throw DNSSECError("\(path): cannot replace: \(String(cString: strerror(errno)))")
        }
    }

    /// Reads `base`.private and `base`.key and checks that they agree with each other and the name.
    static func read(base: String, zone: String) throws -> ZoneKey {
        let privatePath = base + ".private", publicPath = base + ".key"
        let privateText = try readText(privatePath), publicText = try readText(publicPath)
        // the DNSKEY record: the first line that is not a comment
        guard
            let line = publicText.split(separator: "\n").first(where: {
                let t = $0.drop(while: { $0 == " " || $0 == "\t" })
                return !t.isEmpty && !t.hasPrefix(";")
            })
        else { throw DNSSECError("\(publicPath): no DNSKEY record") }
        var rr: UnsafeMutablePointer<ldns_rr>?
        guard ldns_rr_new_frm_str(&rr, String(line), 3600, nil, nil) == LDNS_STATUS_OK, let rr else {
            throw DNSSECError("\(publicPath): not a DNSKEY record: \(line)")
        }
        defer { ldns_rr_free(rr) }
        let ownerText =
            ldns_rdf2str(ldns_rr_owner(rr)).map { p in
                defer { free(p) }; return String(cString: p)
            } ?? ""
        guard ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY, ldns_rr_rd_count(rr) == 4 else {
            throw DNSSECError("\(publicPath): not a DNSKEY record: \(line)")
        }
        guard ZoneKey.canonical(ownerText) == zone else {
            throw DNSSECError("\(publicPath): the DNSKEY's owner \(ownerText) is not the zone \(zone)")
        }
        let flags = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0))
        let publicRDATA = ZoneKey.rdata(of: rr)

        // the private key (ldns reads BIND's format, timing lines included)
        guard let file = fopen(privatePath, "r") else {
            throw DNSSECError("\(privatePath): cannot read: \(String(cString: strerror(errno)))")
        }
        var key: UnsafeMutablePointer<ldns_key>?
        let status = ldns_key_new_frm_fp(&key, file)
        fclose(file)
        guard status == LDNS_STATUS_OK, let key else {
            throw DNSSECError("\(privatePath): not a private key ldns can read (\(String(cString: ldns_get_errorstr_by_id(status))))")
        }
        guard let algorithm = SigningAlgorithm(rawValue: UInt8(truncatingIfNeeded: ldns_key_algorithm(key).rawValue)) else {
            ldns_key_deep_free(key)
            throw DNSSECError("\(privatePath): algorithm \(ldns_key_algorithm(key).rawValue) is not one Meridian signs with (13, 15)")
        }
        guard let owner = ldns_dname_new_frm_str(zone) else {
            ldns_key_deep_free(key)
            throw DNSSECError("'\(zone)' is not a domain name")
        }
        ldns_key_set_pubkey_owner(key, owner)
        ldns_key_set_flags(key, flags)
        let timing = try parseTiming(privateText, path: privatePath)
        let loaded = try ZoneKey(zone: zone, algorithm: algorithm, key: key, timing: timing)
        guard loaded.dnskeyRDATA == publicRDATA else {
            throw DNSSECError("\(publicPath): its public key does not belong to \(privatePath)")
        }
        guard base.hasSuffix("/" + loaded.baseName) || base == loaded.baseName else {
            throw DNSSECError("\(privatePath): the key is \(loaded.baseName) (tag \(loaded.tag)), not what the file name says")
        }
        return loaded
    }

    /// The timing metadata of a private key file. A file without any (as ldns-keygen writes) is a key
    /// published and active since it was created: the file's own time.
    static func parseTiming(_ text: String, path: String) throws -> KeyTiming {
        var timing = KeyTiming(created: 0)
        var seen = false
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            let value = line[line.index(after: colon)...].drop(while: { $0 == " " })
            guard ["Created", "Publish", "Activate", "Inactive", "Delete", "SyncPublish", "SyncDelete"].contains(name) else {
                continue
            }
            guard let time = KeyTime.parse(value.prefix(14)) else {
                throw DNSSECError("\(path): \(name) is not a time YYYYMMDDHHMMSS: '\(value)'")
            }
            _ = timing.set(name, time)
            seen = true
        }
        if !seen {
            var info = stat()
            let modified = stat(path, &info) == 0 ? Int64(info.st_mtim.tv_sec) : 0
            timing = KeyTiming(created: modified, publish: modified, activate: modified)
        }
        return timing
    }

    static func readText(_ path: String) throws -> String {
        do {
            return String(decoding: try SourceFile.readAll(path), as: UTF8.self)
        } catch {
            throw DNSSECError("\(error)")
        }
    }

    static func create(_ path: String, _ text: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw DNSSECError("\(path): cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw DNSSECError("\(path): cannot write: \(String(cString: strerror(errno)))")
        }
    }
}
