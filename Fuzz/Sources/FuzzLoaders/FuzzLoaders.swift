// libFuzzer entry point for the load-time parsers (DESIGN.md §7): zone files, the YAML config, the
// CSV tables (region and latency) and MaxMind databases (.mmdb). Which one is fuzzed is chosen by
// $MERIDIAN_FUZZ_LOADER (`zone`, `config`, `tables` or `mmdb`; Fuzz/run.sh sets it per corpus). Every input is one file as an
// operator would write it. A bad file must be refused with an error, never crash or hang; what loads
// must hold the invariants the server relies on (checked below by `require`: they abort). Address sanitizer
// catches memory errors.
import Config
import FuzzSupport
import Geo
import Zones

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The parser under test and the private directory its input files are written to.
final class LoaderHarness {
    enum Loader: String { case zone, config, tables, mmdb }
    let loader: Loader
    let directory: String
    /// MERIDIAN_FUZZ_VERBOSE=1: print what each input loaded to, or why it was refused.
    let verbose = getenv("MERIDIAN_FUZZ_VERBOSE") != nil

    init() {
        let name = getenv("MERIDIAN_FUZZ_LOADER").map { String(cString: $0) } ?? ""
        guard let loader = Loader(rawValue: name) else {
            fatalError("set MERIDIAN_FUZZ_LOADER to zone, config, tables or mmdb (got '\(name)')")
        }
        self.loader = loader
        var template = Array("/tmp/meridian-fuzz-loader-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            fatalError("fuzz setup: mkdtemp failed")
        }
        directory = String(cString: made)
    }

    /// Writes `input` to `name` in the private directory and returns its path.
    func write(_ input: UnsafeRawBufferPointer, _ name: String) -> String {
        let path = directory + "/" + name
        writeFile(path, input)
        return path
    }

    func run(_ input: UnsafeRawBufferPointer) {
        switch loader {
        case .zone: zone(write(input, "fuzz.zone"))
        case .config: config(input)
        case .tables: tables(write(input, "fuzz.csv"))
        case .mmdb: mmdb(write(input, "fuzz.mmdb"))
        }
    }

    /// A zone for fuzz.test. loaded as `serve` loads one ($ORIGIN, $TTL, $INCLUDE relative to the
    /// private directory, the one-line fast path and ldns, then the compiler). What loads: the apex is
    /// the origin, every node is found again by its own name, every RRset and glue reference lies
    /// within the zone's tables, the negative-answer SOA is the apex's.
    func zone(_ path: String) {
        let zone: CompiledZone
        do {
            zone = try ZoneCompiler.load(path: path, origin: "fuzz.test.")
        } catch {
            if verbose { print("zone refused: \(error)") }
            return
        }
        if verbose { print("zone loaded: \(zone.recordCount) records, \(zone.nodes.count) nodes") }
        require(zone.apexNode >= 0 && Int(zone.apexNode) < zone.nodes.count, "apex node out of range")
        let (apex, apexLength) = zone.name(of: zone.apexNode)
        require(
            apexLength == zone.origin.count && (0..<apexLength).allSatisfy { apex[$0] == zone.origin[$0] },
            "the apex node's name is not the origin")
        for i in zone.nodes.indices {
            let node = zone.nodes[i]
            require(Int(node.nameOffset) + Int(node.nameLength) <= zone.names.count, "node \(i)'s name out of range")
            let (name, length) = zone.name(of: Int32(i))
            require(zone.find(name, length: length) == Int32(i), "node \(i) is not found by its own name")
            require(Int(node.firstRRSet) + Int(node.rrsetCount) <= zone.rrsets.count, "node \(i)'s RRsets out of range")
            for r in 0..<Int(node.rrsetCount) {
                let set = zone.rrsets[Int(node.firstRRSet) + r]
                require(set.offset >= 0 && Int(set.offset) + Int(set.length) <= zone.data.count, "node \(i)'s RRset out of range")
                require(zone.rrset(of: Int32(i), type: set.type) >= 0, "node \(i)'s RRset of type \(set.type) is not found")
            }
            require(Int(node.glueStart) + Int(node.glueCount) <= zone.glue.count, "node \(i)'s glue out of range")
        }
        for g in zone.glue {
            require(
                g.node >= 0 && Int(g.node) < zone.nodes.count && g.rrset >= 0 && Int(g.rrset) < zone.rrsets.count,
                "glue reference out of range")
        }
        require(Int(zone.negativeSOA.offset) + Int(zone.negativeSOA.length) <= zone.data.count, "negative SOA out of range")
    }

    /// The YAML config, parsed twice: a config that parses must parse to the same value again
    /// (nothing may depend on hashing order or state left behind).
    func config(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        let environment = ["FUZZ_ADDR": "127.0.0.1", "FUZZ_PORT": "5353", "FUZZ_DIR": directory]
        let first = Result { try ConfigLoader.parse(text, file: "fuzz.yaml", environment: environment) }
        let second = Result { try ConfigLoader.parse(text, file: "fuzz.yaml", environment: environment) }
        if verbose {
            switch first {
            case let .success(c): print("config parsed: \(c.services.count) services, \(c.zones.count) zones")
            case let .failure(e): print("config refused: \(e)")
            }
        }
        switch (first, second) {
        case let (.success(a), .success(b)): require(a == b, "the same config parsed to two values")
        case (.failure, .failure): break
        default: require(false, "the same config parsed once and failed once")
        }
    }

    /// One CSV file read both as a region table and as a latency table: rows in range, every latency
    /// row as wide as the header.
    func tables(_ path: String) {
        if verbose {
            print("region table: " + ((try? NetworkTable.readRegionTable(path: path)).map { "\($0.count) rows" } ?? "refused"))
            print("latency table: " + ((try? NetworkTable.readLatencyTable(path: path)).map { "\($0.rows.count) rows" } ?? "refused"))
        }
        if let rows = try? NetworkTable.readRegionTable(path: path) {
            for row in rows { require(row.prefix.length <= (row.prefix.family == 4 ? 32 : 128), "prefix length out of range") }
        }
        if let table = try? NetworkTable.readLatencyTable(path: path) {
            for (entry, values) in table.rows {
                require(values.count == table.regions.count, "a latency row is not as wide as the header")
                require(entry.prefix.length <= (entry.prefix.family == 4 ? 32 : 128), "prefix length out of range")
            }
        }
    }
}

extension LoaderHarness {
    /// A MaxMind database as `serve` loads one (every field decoded), then checked against
    /// libmaxminddb itself: the partitions are complete and sorted with keys in range, and at every
    /// range's edges (and fixed probes: aliases, the ends of the space) the compiled lookup gives the
    /// record libmaxminddb's own lookup gives (`MaxMindReference`), on a range that holds
    /// libmaxminddb's network, and the indexed partitions services read agree with the plain search
    /// there. A second load decodes countries only (as a country map's does, where
    /// records that differ elsewhere are one) and must agree with it on the country.
    func mmdb(_ path: String) {
        let db: GeoDatabase
        do {
            db = try GeoDatabase(path: path, fields: .all)
        } catch {
            if verbose { print("mmdb refused: \(error)") }
            return
        }
        if verbose { print("mmdb loaded: \(db.records.count) records, \(db.v4.count) + \(db.v6.count) ranges") }
        var probes: [(family: Int, address: UInt128)] = []
        for (family, partition) in [(4, db.v4), (6, db.v6)] {
            let width = family == 4 ? 32 : 128
            require(partition.width == width && partition.starts.first == 0, "partition \(family) does not start at 0")
            for i in partition.starts.indices {
                require(i == 0 || partition.starts[i - 1] < partition.starts[i], "partition \(family) is not sorted")
                let key = partition.keys[i]
                if PrefixPartition.isAlias(key) {
                    require(family == 6 && PrefixPartition.aliasShift(key) <= 96, "alias key \(key) in partition \(family)")
                } else {
                    require(key >= -1 && Int(key) < db.records.count, "key \(key) out of range in partition \(family)")
                }
                if i < 256 {
                    probes += [(family, partition.starts[i]), (family, partition.end(of: i))]
                    // the /64 a range starts in: where the IPv6 search tree must compare low halves
                    if family == 6 { probes.append((6, partition.starts[i] & ~UInt128(UInt64.max))) }
                }
            }
        }
        for text in [
            "0.0.0.0", "255.255.255.255", "81.2.69.1", "::", "::1.2.3.4", "::ffff:8.8.8.8",
            "2001:0:808:808::", "2002:102:304::", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            if let probe = IPPrefix.parseAddress(text) { probes.append(probe) }
        }
        // the indexed forms a compiled service reads (packed IPv4, the IPv6 search tree) find the
        // range the plain search finds; that one is checked against libmaxminddb below
        for (family, partition) in [(4, db.v4), (6, db.v6)] {
            let indexed = partition.indexed()
            for probe in probes where probe.family == family {
                let i = partition.index(of: probe.address)
                let found = indexed.lookup(probe.address)
                require(
                    found == (partition.keys[i], partition.starts[i], partition.end(of: i)),
                    "\(IPPrefix.formatAddress(family: family, probe.address)): indexed lookup \(found), plain search range \(i)")
            }
        }
        let compiled = probes.map { db.lookup(family: $0.family, address: $0.address) }
        let countries = (try? GeoDatabase(path: path, fields: [.country])).map { c in probes.map { c.lookup(family: $0.family, address: $0.address) } }
        guard let reference = try? MaxMindReference(path: path) else {
            require(false, "libmaxminddb refused what the load took")
            return
        }
        for (i, (probe, before)) in zip(probes, compiled).enumerated() {
            let after = reference.lookup(family: probe.family, address: probe.address)
            let where_ = IPPrefix.formatAddress(family: probe.family, probe.address)
            require(
                LoaderHarness.same(before.record, after.record),
                "\(where_): compiled \(before.record?.summary ?? "nothing"), libmaxminddb \(after.record?.summary ?? "nothing")")
            if let countries {
                let country = countries[i]
                require(
                    country.record?.country == after.record?.country && country.first <= probe.address && probe.address <= country.last,
                    "\(where_): country-only load says \(country.record?.country ?? "nothing"), libmaxminddb \(after.record?.country ?? "nothing")")
            } else {
                require(false, "the country-only load refused what the full load took")
            }
            if before.record != nil {
                require(before.first <= probe.address && probe.address <= before.last, "\(where_): outside its own range")
                require(
                    after.first >= before.first && after.last <= before.last,
                    "\(where_): libmaxminddb's network is not inside the compiled range")
            }
        }
    }

    /// Equal records, coordinates compared by bit pattern (a database may hold NaN).
    static func same(_ a: GeoRecord?, _ b: GeoRecord?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return a.continent == b.continent && a.country == b.country && a.subdivision == b.subdivision
            && a.latitude?.bitPattern == b.latitude?.bitPattern && a.longitude?.bitPattern == b.longitude?.bitPattern
    }
}

/// Built on the first input (a lazy global) and kept for the whole run; libFuzzer calls on one thread.
nonisolated(unsafe) let harness = LoaderHarness()

/// SwiftPM links executables on Linux with `--defsym main=FuzzLoaders_main`: libFuzzer runs from here
/// (see FuzzSupport's `runFuzzer`).
@_cdecl("FuzzLoaders_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { harness.run($0) }
}
