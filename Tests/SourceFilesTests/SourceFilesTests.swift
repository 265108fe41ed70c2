import SourceFiles
import XCTest

/// The shared load-error type prints the shapes operators see, and reads files whole.
final class SourceFilesTests: XCTestCase {
    func testDescriptionShapes() {
        XCTAssertEqual(SourceProblem(file: "z.db", line: 5, reason: "bad").description, "z.db:5: bad")
        XCTAssertEqual(SourceProblem(file: "z.db", reason: "cannot open").description, "z.db: cannot open")
        XCTAssertEqual(SourceProblem("", "no location").description, "no location")
    }

    func testLocationRoundTrip() {
        for location in ["m.yaml:12", "m.yaml", "AllocationGate:geo", "dir/with:colon/m.yaml:7", "x:0", ""] {
            let p = SourceProblem(location, "r")
            XCTAssertEqual(p.location, location)
            XCTAssertEqual(p.description, location.isEmpty ? "r" : "\(location): r")
        }
        let p = SourceProblem("m.yaml:12", "r")
        XCTAssertEqual(p.file, "m.yaml")
        XCTAssertEqual(p.line, 12)
        XCTAssertEqual(p, SourceProblem(file: "m.yaml", line: 12, reason: "r"))
    }

    func testReadAll() throws {
        let path = NSTemporaryDirectory() + "/meridian-sourcefile-\(getpid())"
        let text = String(repeating: "line of text\n", count: 10_000) // larger than one read chunk
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        XCTAssertEqual(try SourceFile.readAll(path), Array(text.utf8))
        XCTAssertThrowsError(try SourceFile.readAll(path + ".missing")) { error in
            XCTAssertTrue("\(error)".hasPrefix(path + ".missing: cannot open: "), "\(error)")
        }
    }

    /// A directory (fopen opens one; its end offset is no size), a device (/dev/zero never ends) and a
    /// name with a NUL in it are refused; a pipe is read to its end.
    func testReadAllRefusesDirectoriesAndNULNames() throws {
        XCTAssertThrowsError(try SourceFile.readAll(NSTemporaryDirectory())) { error in
            XCTAssertTrue("\(error)".hasSuffix("cannot open: is a directory"), "\(error)")
        }
        XCTAssertThrowsError(try SourceFile.readAll(NSTemporaryDirectory() + "/\u{0},x.zone")) { error in
            XCTAssertTrue("\(error)".hasSuffix("the name contains a NUL octet"), "\(error)")
        }
        XCTAssertThrowsError(try SourceFile.readAll("/dev/zero")) { error in
            XCTAssertTrue("\(error)".hasSuffix("cannot open: is a device"), "\(error)")
        }
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let text = Array(String(repeating: "piped line\n", count: 2_000).utf8) // within the pipe's buffer
        XCTAssertEqual(text.withUnsafeBytes { write(fds[1], $0.baseAddress!, $0.count) }, text.count)
        close(fds[1])
        defer { close(fds[0]) }
        XCTAssertEqual(try SourceFile.readAll("/dev/fd/\(fds[0])"), text)
    }
}
