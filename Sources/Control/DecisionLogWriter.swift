import Engine
import Foundation
import Geo
import Logging
import Server
import Steering

/// Drains the workers' decision rings every 200 ms and appends JSON lines (time, qname, qtype,
/// client, ECS, policy, region, answer, scope) to a file, off the query path: a full ring drops
/// records (counted) instead of blocking a worker.
public final class DecisionLogWriter: @unchecked Sendable {
    let rings: [DecisionRing]
    let store: SnapshotStore
    let handle: FileHandle
    let logger: Logger
    private var thread: Thread?

    public init(path: String, rings: [DecisionRing], store: SnapshotStore, logger: Logger) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw DecisionLogError("cannot create decision log \(path)")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw DecisionLogError("cannot open decision log \(path)") }
        handle.seekToEndOfFile()
        self.handle = handle
        self.rings = rings
        self.store = store
        self.logger = logger
    }

    public func start() {
        let t = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: 0.2)
                flush()
            }
        }
        t.name = "decision-log"
        thread = t
        t.start()
    }

    public var dropped: Int { rings.reduce(0) { $0 + $1.dropped.load(ordering: .relaxed) } }

    func flush() {
        let (snapshot, _) = store.current()
        var out = ""
        for ring in rings {
            ring.drain { r in out += line(r, snapshot) + "\n" }
        }
        if !out.isEmpty { handle.write(Data(out.utf8)) }
    }

    func line(_ r: DecisionRecord, _ snapshot: Snapshot) -> String {
        var o: [String: Any] = [
            "time": ISO8601DateFormatter.string(from: Date(timeIntervalSince1970: Double(r.nanoseconds) / 1e9),
                                                timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withInternetDateTime, .withFractionalSeconds]),
            "qname": WireNameText.text(r.qnameBytes),
            "qtype": r.qtype == 1 ? "A" : r.qtype == 28 ? "AAAA" : r.qtype == 255 ? "ANY" : "TYPE\(r.qtype)",
            "scope": Int(r.scope),
        ]
        o["client"] = r.family == 0 ? NSNull() : IPPrefix.formatAddress(family: Int(r.family), r.address) as Any
        o["ecs"] = r.ecsSource >= 0 ? "\(IPPrefix.formatAddress(family: Int(r.family == 0 ? 4 : r.family), r.address))/\(r.ecsSource)" as Any : NSNull()
        if r.service >= 0 && Int(r.service) < snapshot.services.count {
            let service = snapshot.services[Int(r.service)]
            o["service"] = service.spec.name
            o["policy"] = service.spec.policy.rawValue
            switch r.pool {
            case Decision.staticRecords: o["region"] = "static"; o["answer"] = "zone records"
            case Decision.noData: o["region"] = NSNull(); o["answer"] = "NODATA"
            default:
                if Int(r.pool) < service.spec.pools.count {
                    let pool = service.spec.pools[Int(r.pool)]
                    o["region"] = pool.region
                    o["answer"] = pool.cname.map { ["CNAME " + $0] } ?? pool.addresses.map(\.text)
                } else if case let .addresses(list) = service.spec.allDown {
                    o["region"] = "all_down"; o["answer"] = list.map(\.text)
                } else if case let .cname(target) = service.spec.allDown {
                    o["region"] = "all_down"; o["answer"] = ["CNAME " + target]
                }
            }
        }
        let data = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

struct DecisionLogError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

import DNSWire
enum WireNameText {
    static func text(_ wire: [UInt8]) -> String { WireName.toText(wire) }
}
