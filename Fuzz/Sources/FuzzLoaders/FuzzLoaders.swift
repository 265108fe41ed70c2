// libFuzzer entry point for the load-time parsers (DESIGN.md §7): zone files, the YAML config and the
// CSV tables (region and latency). Which one is fuzzed is chosen by $MERIDIAN_FUZZ_LOADER
// (`zone`, `config` or `tables`; Fuzz/run.sh sets it per corpus). Every input is one file as an
// operator would write it. A bad file must be refused with an error, never crash or hang; what loads
// must hold the invariants the server relies on (checked below: they trap). Address sanitizer
// catches memory errors.
import CFuzzerDriver
import Config
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
    enum Loader: String { case zone, config, tables }
    let loader: Loader
    let directory: String
    /// MERIDIAN_FUZZ_VERBOSE=1: print what each input loaded to, or why it was refused.
    let verbose = getenv("MERIDIAN_FUZZ_VERBOSE") != nil

    init() {
        let name = getenv("MERIDIAN_FUZZ_LOADER").map { String(cString: $0) } ?? ""
        guard let loader = Loader(rawValue: name) else {
            fatalError("set MERIDIAN_FUZZ_LOADER to zone, config or tables (got '\(name)')")
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
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { fatalError("fuzz: cannot write \(path)") }
        var done = 0
        while done < input.count {
            let n = Glibc.write(fd, input.baseAddress! + done, input.count - done)
            guard n > 0 else { fatalError("fuzz: short write to \(path)") }
            done += n
        }
        close(fd)
        return path
    }

    func run(_ input: UnsafeRawBufferPointer) {
        switch loader {
        case .zone: zone(write(input, "fuzz.zone"))
        case .config: config(input)
        case .tables: tables(write(input, "fuzz.csv"))
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
        precondition(zone.apexNode >= 0 && Int(zone.apexNode) < zone.nodes.count, "apex node out of range")
        let (apex, apexLength) = zone.name(of: zone.apexNode)
        precondition(apexLength == zone.origin.count && (0..<apexLength).allSatisfy { apex[$0] == zone.origin[$0] },
                     "the apex node's name is not the origin")
        for i in zone.nodes.indices {
            let node = zone.nodes[i]
            precondition(Int(node.nameOffset) + Int(node.nameLength) <= zone.names.count, "node \(i)'s name out of range")
            let (name, length) = zone.name(of: Int32(i))
            precondition(zone.find(name, length: length) == Int32(i), "node \(i) is not found by its own name")
            precondition(Int(node.firstRRSet) + Int(node.rrsetCount) <= zone.rrsets.count, "node \(i)'s RRsets out of range")
            for r in 0..<Int(node.rrsetCount) {
                let set = zone.rrsets[Int(node.firstRRSet) + r]
                precondition(set.offset >= 0 && Int(set.offset) + Int(set.length) <= zone.data.count, "node \(i)'s RRset out of range")
                precondition(zone.rrset(of: Int32(i), type: set.type) >= 0, "node \(i)'s RRset of type \(set.type) is not found")
            }
            precondition(Int(node.glueStart) + Int(node.glueCount) <= zone.glue.count, "node \(i)'s glue out of range")
        }
        for g in zone.glue {
            precondition(g.node >= 0 && Int(g.node) < zone.nodes.count && g.rrset >= 0 && Int(g.rrset) < zone.rrsets.count,
                         "glue reference out of range")
        }
        precondition(Int(zone.negativeSOA.offset) + Int(zone.negativeSOA.length) <= zone.data.count, "negative SOA out of range")
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
        case let (.success(a), .success(b)): precondition(a == b, "the same config parsed to two values")
        case (.failure, .failure): break
        default: preconditionFailure("the same config parsed once and failed once")
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
            for row in rows { precondition(row.prefix.length <= (row.prefix.family == 4 ? 32 : 128), "prefix length out of range") }
        }
        if let table = try? NetworkTable.readLatencyTable(path: path) {
            for (entry, values) in table.rows {
                precondition(values.count == table.regions.count, "a latency row is not as wide as the header")
                precondition(entry.prefix.length <= (entry.prefix.family == 4 ? 32 : 128), "prefix length out of range")
            }
        }
    }
}

/// Built on the first input (a lazy global) and kept for the whole run; libFuzzer calls on one thread.
nonisolated(unsafe) let harness = LoaderHarness()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    harness.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// SwiftPM links executables on Linux with `--defsym main=FuzzLoaders_main`, so this replaces libFuzzer's
/// main() (see Sources/CFuzzerDriver).
@_cdecl("FuzzLoaders_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    meridian_fuzzer_main(argc, argv)
}
