import Foundation
import TestSupport
import XCTest

/// Runs the real `meridian` binary (MERIDIAN_BIN, else .build/debug/meridian) for integration tests.
final class MeridianProcess {
    let process = Process()
    let port: Int
    let directory: URL
    let log: URL

    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["MERIDIAN_BIN"] { return path }
        return FileManager.default.currentDirectoryPath + "/.build/debug/meridian"
    }

    /// Writes `zone` and a config to a temp dir and starts `meridian serve` on 127.0.0.1 and ::1.
    init(zoneText: String, origin: String, extraConfig: String = "") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try zoneText.write(to: directory.appendingPathComponent("zone.db"), atomically: true, encoding: .utf8)
        port = try Self.freePort()
        let config = """
            listen: ["127.0.0.1:\(port)", "[::1]:\(port)"]
            zones:
              - origin: \(origin)
                file: zone.db
            identity:
              version: "Meridian test"
              id: "it-1"
              nsid: "it-1"
            server:
              workers: 2
              tcp_idle_timeout: 2s
            control:
              listen: off
            state_dir: \(directory.path)/state
            \(extraConfig)
            """
        try config.write(to: directory.appendingPathComponent("meridian.yaml"), atomically: true, encoding: .utf8)
        log = directory.appendingPathComponent("meridian.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["serve", "--config", directory.appendingPathComponent("meridian.yaml").path]
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try waitUntilServing()
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    private func waitUntilServing() throws {
        for _ in 0..<100 {
            if !process.isRunning { throw Failure("meridian exited: \(logText)") }
            let out = try Tool.run("dig", ["@127.0.0.1", "-p", "\(port)", "+time=1", "+tries=1", "+norec", "version.bind", "TXT", "CH"])
            if out.output.contains("status: NOERROR") { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw Failure("meridian did not answer within 10 s: \(logText)")
    }

    /// A port free for both UDP and TCP on 127.0.0.1 and ::1 right now.
    static func freePort() throws -> Int {
        for _ in 0..<50 {
            let port = Int.random(in: 20000...59000)
            if canBind(port, Int32(SOCK_DGRAM.rawValue)) && canBind(port, Int32(SOCK_STREAM.rawValue)) { return port }
        }
        throw Failure("no free port")
    }

    private static func canBind(_ port: Int, _ type: Int32) -> Bool {
        let fd = socket(AF_INET, type, 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Runs a command-line tool and captures its output (bounded by the tool's own timeouts).
enum Tool {
    struct Result {
        let status: Int32
        let output: String
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> Result {
        let r = try TestSupport.Tool.run(tool, arguments)
        return Result(status: r.status, output: r.output)
    }
}
