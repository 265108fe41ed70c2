import Control
import Engine
import Foundation
import Geo
import Health
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Steering
import Verdicts
import Zones

/// The server context the route tests drive, built in `make` only: the types behind a
/// `ControlServer.Context` (snapshot store, health publisher, overrides) are named nowhere else in
/// this target, so a change to them changes this file alone.
struct ControlFixture {
    static let token = "test-token"
    let context: ControlServer.Context

    /// gslb.test. with two services: `geo.gslb.test.` (geo, a CIDR table: 192.0.2.0/24 -> eu,
    /// 198.51.100.0/24 -> na; default eu, na) and `fo.gslb.test.` (failover na, eu); regions eu
    /// (192.0.2.1, 2001:db8:1::1) and na (198.51.100.1). No health checks: every address is up.
    /// `token` nil is the Unix socket's mode (writes need no token).
    static func make(
        token: String? = ControlFixture.token, metrics: Bool = false, keyDirectories: [(origin: String, directory: String)] = []
    ) throws -> ControlFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("control-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let zonePath = directory.appendingPathComponent("gslb.test.zone").path
        let networksPath = directory.appendingPathComponent("networks.csv").path
        try """
        $TTL 300
        @ IN SOA ns1 hostmaster 7 3600 600 86400 60
        @ IN NS ns1
        ns1 IN A 192.0.2.53
        static IN A 192.0.2.100

        """.write(toFile: zonePath, atomically: true, encoding: .utf8)
        try "192.0.2.0/24,eu\n198.51.100.0/24,na\n".write(toFile: networksPath, atomically: true, encoding: .utf8)
        let regions = [RegionSpec(name: "eu", latitude: 50.11, longitude: 8.68), RegionSpec(name: "na", latitude: 39.04, longitude: -77.49)]
        let pools = [
            PoolSpec(region: "eu", addresses: [PoolAddress(text: "192.0.2.1"), PoolAddress(text: "2001:db8:1::1")]),
            PoolSpec(region: "na", addresses: [PoolAddress(text: "198.51.100.1")]),
        ]
        var geo = ServiceSpec(name: "geo.gslb.test.")
        geo.policy = .geo
        geo.pools = pools
        geo.networks = networksPath
        geo.map.defaultRegions = ["eu", "na"]
        var failover = ServiceSpec(name: "fo.gslb.test.")
        failover.policy = .failover
        failover.pools = pools
        failover.order = ["na", "eu"]
        let services = try [geo, failover].map { try ServiceCompiler.compile($0, regions: regions, sources: GeoSources()) }
        let zone = try ZoneCompiler.load(path: zonePath, origin: "gslb.test.", extraOwners: services.map(\.name))
        let snapshot = try Snapshot(zones: [zone], services: services, health: HealthTable(allUp: services))
        let store = SnapshotStore(snapshot)
        let publisher = HealthPublisher(store: store, overrides: try OverrideStore(path: nil))
        return ControlFixture(
            context: ControlServer.Context(
                store: store, publisher: publisher, monitor: nil, token: token,
                metrics: metrics ? MetricsSources(version: "test") : nil, keyDirectories: keyDirectories))
    }
}

/// One HTTP response as read off the connection.
struct Response {
    var status: Int
    /// Header names lower-cased.
    var headers: [String: String]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    /// The body as JSON (a JSONSerialization object), nil when it is not JSON.
    var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
}

/// A connection to the control API: the server's own pipeline (`ControlServer.configure`) on an
/// EmbeddedChannel, fed raw request bytes.
final class Connection {
    let channel = EmbeddedChannel()

    init(_ fixture: ControlFixture, maxBodyBytes: Int = 65536) throws {
        try ControlServer.configure(
            channel, context: fixture.context, maxBodyBytes: maxBodyBytes,
            logger: Logger(label: "control-tests", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    deinit { _ = try? channel.finish() }

    /// Sends `raw` (one or more requests) and returns the responses; `heads[i]` says whether request
    /// i is a HEAD (its answer has no body whatever its Content-Length).
    func exchange(_ raw: String, heads: [Bool] = []) throws -> [Response] {
        try channel.writeInbound(channel.allocator.buffer(string: raw))
        channel.embeddedEventLoop.run()
        var output: [UInt8] = []
        while let part = try channel.readOutbound(as: IOData.self) {
            if case var .byteBuffer(b) = part { output += b.readBytes(length: b.readableBytes) ?? [] }
        }
        return try Self.parse(output, heads: heads)
    }

    /// One request with `Connection: keep-alive` semantics of HTTP/1.1 (no Connection header).
    func request(_ method: String, _ target: String, body: String? = nil, headers: [String: String] = [:]) throws -> Response {
        var raw = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n"
        for (name, value) in headers { raw += "\(name): \(value)\r\n" }
        if let body { raw += "Content-Length: \(body.utf8.count)\r\n" }
        raw += "\r\n" + (body ?? "")
        let responses = try exchange(raw, heads: [method == "HEAD"])
        guard responses.count == 1 else { throw ParseError("\(responses.count) responses to one request") }
        return responses[0]
    }

    /// Output that is not a sequence of well-formed HTTP/1.1 responses.
    struct ParseError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    static func parse(_ output: [UInt8], heads: [Bool]) throws -> [Response] {
        var responses: [Response] = []
        var at = 0
        while at < output.count {
            guard
                let end = (at..<max(at, output.count - 3)).first(where: {
                    output[$0] == 13 && output[$0 + 1] == 10 && output[$0 + 2] == 13 && output[$0 + 3] == 10
                })
            else {
                throw ParseError("a response head has no end")
            }
            let lines = String(decoding: output[at..<end], as: UTF8.self).components(separatedBy: "\r\n")
            let statusLine = lines[0].split(separator: " ")
            guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1", let status = Int(statusLine[1]) else {
                throw ParseError("bad status line \(lines[0])")
            }
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { throw ParseError("bad header \(line)") }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let isHEAD = responses.count < heads.count && heads[responses.count]
            let length = isHEAD ? 0 : Int(headers["content-length"] ?? "") ?? -1
            guard length >= 0, end + 4 + length <= output.count else { throw ParseError("Content-Length does not match the body") }
            responses.append(Response(status: status, headers: headers, body: Array(output[(end + 4)..<(end + 4 + length)])))
            at = end + 4 + length
        }
        return responses
    }
}
