import Foundation
import XCTest
import DNSWire
@testable import Zones

/// A private temporary directory for zone files; removed on deinit.
final class TempDir {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-zones-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `text` at `relative` (subdirectories created) and returns the absolute path.
    @discardableResult
    func write(_ relative: String, _ text: String) -> String {
        let file = url.appendingPathComponent(relative)
        try! FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try! text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }
    func path(_ relative: String) -> String { url.appendingPathComponent(relative).path }
}

func wire(_ text: String) -> [UInt8] { WireName.fromText(text)! }

extension CompiledZone {
    /// Node index of a presentation name, or -1.
    func node(_ text: String) -> Int32 {
        let n = wire(text)
        return n.withUnsafeBufferPointer { find($0.baseAddress!, length: $0.count) }
    }
    /// Types of the RRsets at a node, in stored order.
    func types(_ text: String) -> [UInt16] {
        let n = node(text)
        guard n >= 0 else { return [] }
        let info = nodes[Int(n)]
        return (Int(info.firstRRSet)..<(Int(info.firstRRSet) + Int(info.rrsetCount))).map { rrsets[$0].type }
    }
    /// The RRset of a type at a name.
    func set(_ text: String, _ type: UInt16) -> PreparedRRSet? {
        let n = node(text)
        guard n >= 0 else { return nil }
        let i = rrset(of: n, type: type)
        return i < 0 ? nil : rrsets[Int(i)]
    }
    /// (ttl, rdata) of each record of a prepared RRset.
    func records(_ set: PreparedRRSet) -> [(ttl: UInt32, rdata: [UInt8])] {
        let b = Array(bodies(set))
        var out: [(UInt32, [UInt8])] = []
        var i = 0
        while i < b.count {
            XCTAssertEqual(Array(b[i..<(i + 4)]), [UInt8(set.type >> 8), UInt8(set.type & 0xFF), 0, 1])
            let ttl = b[(i + 4)..<(i + 8)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let len = Int(b[i + 8]) << 8 | Int(b[i + 9])
            out.append((ttl, Array(b[(i + 10)..<(i + 10 + len)])))
            i += 10 + len
        }
        return out
    }
    func nodeText(_ node: Int32) -> String {
        let (p, n) = name(of: node)
        return WireName.toText(Array(UnsafeBufferPointer(start: p, count: n)))
    }
}
