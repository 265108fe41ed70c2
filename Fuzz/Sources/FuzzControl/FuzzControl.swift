// libFuzzer entry point for the control API (DESIGN.md §7): every input is the byte stream of one TCP
// connection to the control port, fed through the server's own pipeline (`ControlServer.configure`:
// NIO's HTTP/1.1 codec, then our handler: URL and query parsing, JSON bodies, routing, overrides,
// `explain` with any name, type and client) on an EmbeddedChannel, against a snapshot with GSLB
// services of several policies. A request must get an HTTP response, never a crash; what comes back
// must be well-formed responses (checked below by `require`). Address sanitizer catches memory errors.
import Control
import Engine
import FuzzFixtures
import FuzzSupport
import Geo
import Health
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SourceFiles
import Steering
import Verdicts
import Zones

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The snapshot (built once) and what each input gets afresh: a store, overrides and a channel.
final class ControlHarness {
    static let token = "fuzz-token"
    /// The body limit the harness's connections get (the server's default is 64 KiB).
    static let maxBodyBytes = 256
    let snapshot: Snapshot
    let logger = Logger(label: "fuzz-control", factory: { _ in SwiftLogNoOpLogHandler() })
    /// MERIDIAN_FUZZ_VERBOSE=1: print the responses (for reading a corpus or a crash input).
    let verbose = getenv("MERIDIAN_FUZZ_VERBOSE") != nil

    init() {
        var template = Array("/tmp/meridian-fuzz-control-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            fatalError("fuzz setup: mkdtemp failed")
        }
        let directory = String(cString: made)
        let zonePath = directory + "/gslb.test.zone", networksPath = directory + "/networks.csv"
        ControlHarness.write(
            zonePath,
            """
            $TTL 300
            @ IN SOA ns1 hostmaster 1 3600 600 86400 60
            @ IN NS ns1
            ns1 IN A 192.0.2.53
            static IN A 192.0.2.100

            """)
        ControlHarness.write(networksPath, GSLBFixture.networks)
        do {
            let services = try GSLBFixture.services(networksPath: networksPath)
            let zone = try ZoneCompiler.load(path: zonePath, origin: "gslb.test.", extraOwners: services.map(\.name))
            snapshot = try Snapshot(zones: [zone], services: services, health: HealthTable(allUp: services))
        } catch {
            fatalError("fuzz setup: \(error)")
        }
        unlink(zonePath)
        unlink(networksPath)
        rmdir(directory)
    }

    static func write(_ path: String, _ text: String) {
        Array(text.utf8).withUnsafeBytes { writeFile(path, $0) }
    }

    /// One connection's bytes in, every response out, then checked.
    func run(_ input: UnsafeRawBufferPointer) {
        let store = SnapshotStore(snapshot)
        guard let overrides = try? OverrideStore(path: nil) else { fatalError("fuzz setup: override store") }
        let context = ControlServer.Context(
            store: store, publisher: HealthPublisher(store: store, overrides: overrides),
            monitor: nil, token: ControlHarness.token)
        let channel = EmbeddedChannel()
        do {
            // a small body limit, so that chunked bodies crossing it fit in the fuzzer's inputs
            try ControlServer.configure(channel, context: context, maxBodyBytes: ControlHarness.maxBodyBytes, logger: logger)
        } catch {
            fatalError("fuzz setup: \(error)")
        }
        var buffer = channel.allocator.buffer(capacity: input.count)
        buffer.writeBytes(input)
        // a request NIO's decoder refuses is answered 400 and the connection closed: an error here is fine
        _ = try? channel.writeInbound(buffer)
        channel.embeddedEventLoop.run()
        var output: [UInt8] = []
        while let part = try? channel.readOutbound(as: IOData.self) {
            if case var .byteBuffer(b) = part { output += b.readBytes(length: b.readableBytes) ?? [] }
        }
        _ = try? channel.finish()
        let statuses = ControlHarness.check(output, toHEAD: ControlHarness.headRequests(input), verbose: verbose)
        // a body over the limit is answered 413 and the connection closes: nothing after it is read
        if let tooLarge = statuses.firstIndex(of: 413) {
            require(tooLarge == statuses.count - 1, "a response follows a 413: \(statuses)")
        }
        // an override is only ever in force after a request answered 200 (none over the limit)
        require(
            overrides.current.count <= statuses.filter { $0 == 200 }.count,
            "\(overrides.current.count) override(s) in force after \(statuses.filter { $0 == 200 }.count) successful request(s)")
    }

    /// For each request NIO's decoder reads from `input`, in order: whether it is a HEAD (answered
    /// with GET's Content-Length and no body, RFC 9110 §9.3.2).
    static func headRequests(_ input: UnsafeRawBufferPointer) -> [Bool] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder()))
        var heads: [Bool] = []
        _ = try? channel.writeInbound(channel.allocator.buffer(bytes: input))
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
            if case let .head(head) = part { heads.append(head.method == .HEAD) }
        }
        _ = try? channel.finish()
        return heads
    }

    /// `output` is zero or more HTTP/1.1 responses, each a status line, headers, a blank line and
    /// exactly Content-Length octets of body (none for a HEAD request: `toHEAD`); a JSON body
    /// decodes. Returns the statuses in order.
    @discardableResult
    static func check(_ output: [UInt8], toHEAD: [Bool] = [], verbose: Bool) -> [Int] {
        var statuses: [Int] = []
        let separator: [UInt8] = [13, 10, 13, 10]
        var at = 0
        while at < output.count {
            let rest = output[at...]
            require(rest.starts(with: Array("HTTP/1.1 ".utf8)), "a response does not start with HTTP/1.1 at octet \(at)")
            guard let end = (at..<(output.count - 3)).first(where: { Array(output[$0..<($0 + 4)]) == separator }) else {
                require(false, "a response head has no end")
                return statuses
            }
            let head = String(decoding: output[at..<end], as: UTF8.self)
            let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
            let status = lines[0].split(separator: " ")
            require(status.count >= 2 && Int(status[1]).map { (100..<600).contains($0) } == true, "bad status line: \(lines[0])")
            statuses.append(Int(status[1]) ?? 0)
            var length = 0, json = false
            for line in lines.dropFirst() {
                let field = line.lowercased()
                if field.hasPrefix("content-length:") { length = Int(field.dropFirst(15).trimmingWhitespace()) ?? -1 }
                if field.hasPrefix("content-type: application/json") { json = true }
            }
            let answersHEAD = statuses.count <= toHEAD.count && toHEAD[statuses.count - 1]
            if answersHEAD { (length, json) = (0, false) } // a HEAD's answer has no body
            require(length >= 0 && end + 4 + length <= output.count, "Content-Length \(length) does not match the body")
            let body = Array(output[(end + 4)..<(end + 4 + length)])
            if verbose { print(lines[0], String(decoding: body, as: UTF8.self)) }
            if json { require(JSONValue.decode(body) != nil, "a JSON body does not decode: \(String(decoding: body, as: UTF8.self))") }
            at = end + 4 + length
        }
        return statuses
    }
}

/// Built on the first input (a lazy global) and kept for the whole run; libFuzzer calls on one thread.
nonisolated(unsafe) let harness = ControlHarness()

/// SwiftPM links executables on Linux with `--defsym main=FuzzControl_main`: libFuzzer runs from here
/// (see FuzzSupport's `runFuzzer`).
@_cdecl("FuzzControl_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { harness.run($0) }
}
