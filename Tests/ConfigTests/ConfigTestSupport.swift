import Config
import XCTest

/// Parsing as if from /etc/meridian/m.yaml (relative paths resolve to /etc/meridian/), and checking
/// that an error is a `ConfigError` at the expected line.
extension XCTestCase {
    func parse(_ text: String, env: [String: String] = [:]) throws -> MeridianConfig {
        try ConfigLoader.parse(text, file: "/etc/meridian/m.yaml", environment: env)
    }

    func expectError(
        _ text: String, line: Int, containing: String, env: [String: String] = [:],
        file: StaticString = #filePath, sourceLine: UInt = #line
    ) {
        XCTAssertThrowsError(try parse(text, env: env), file: file, line: sourceLine) { error in
            guard let e = error as? ConfigError else { return XCTFail("not a ConfigError: \(error)", file: file, line: sourceLine) }
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: sourceLine)
            XCTAssertTrue(e.reason.contains(containing), "\(e)", file: file, line: sourceLine)
            XCTAssertTrue(e.description.hasPrefix("/etc/meridian/m.yaml:\(line): "), "\(e)", file: file, line: sourceLine)
        }
    }
}
