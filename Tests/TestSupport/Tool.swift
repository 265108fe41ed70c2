import Foundation

/// Runs the command-line tools the tests compare Meridian with (ldns, dig, Python, the binary itself).
public enum Tool {
    /// Runs `tool` (a path, or a name found in PATH) with `arguments`, in `directory` when given, and
    /// waits for it: its exit status and its standard output and error together.
    public static func run(_ tool: String, _ arguments: [String], in directory: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool.hasPrefix("/") ? tool : "/usr/bin/env")
        process.arguments = tool.hasPrefix("/") ? arguments : [tool] + arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A tool that exited with a status other than 0.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// `run`, for a tool that must succeed: its output trimmed, or `Failure` naming the tool, its
    /// arguments and what it printed.
    public static func output(_ tool: String, _ arguments: [String], in directory: String? = nil) throws -> String {
        let r = try run(tool, arguments, in: directory)
        guard r.status == 0 else { throw Failure(description: "\(tool) \(arguments) exited with \(r.status): \(r.output)") }
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
