import Engine
import FoundationEssentials
import Glibc
import Geo
import Logging
import Steering

/// Drains the workers' decision rings every 200 ms and appends JSON lines (time, qname, qtype,
/// client, ECS, policy, region, answer, scope) to a file, off the query path: a full ring drops
/// records (counted) instead of blocking a worker.
public final class DecisionLogWriter: @unchecked Sendable {
    let rings: [DecisionRing]
    let store: SnapshotStore
    /// The log file, opened for appending (O_APPEND: lines land at the end even if another writer appends).
    let fd: Int32
    let logger: Logger
    let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    public init(path: String, rings: [DecisionRing], store: SnapshotStore, logger: Logger) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DecisionLogError("cannot open decision log \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd
        self.rings = rings
        self.store = store
        self.logger = logger
    }

    /// Flushes every 200 ms, forever: the body of a thread of its own (the executable starts it).
    public func run() -> Never {
        while true {
            usleep(200_000)
            flush()
        }
    }

    public var dropped: Int { rings.reduce(0) { $0 + $1.dropped.load(ordering: .relaxed) } }

    func flush() {
        let (snapshot, _) = store.current()
        var out = ""
        for ring in rings {
            ring.drain { r in out += line(r, snapshot) + "\n" }
        }
        if !out.isEmpty { write(Array(out.utf8)) }
    }

    /// Writes all of `bytes` (a short write continues; an error drops the rest, logged).
    func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    logger.warning("decision log write failed", metadata: ["error": "\(String(cString: strerror(errno)))"])
                    return
                }
                offset += n
            }
        }
    }

    func line(_ r: DecisionRecord, _ snapshot: Snapshot) -> String {
        var o: [String: JSONValue] = [
            "time": .string(Date(timeIntervalSince1970: Double(r.nanoseconds) / 1e9).formatted(timeFormat)),
            "qname": .string(WireNameText.text(r.qnameBytes)),
            "qtype": .string(r.qtype == 1 ? "A" : r.qtype == 28 ? "AAAA" : r.qtype == 255 ? "ANY" : "TYPE\(r.qtype)"),
            "scope": .int(Int(r.scope)),
        ]
        o["client"] = r.family == 0 ? .null : .string(IPPrefix.formatAddress(family: Int(r.family), r.address))
        o["ecs"] = r.ecsSource >= 0 ? "\(IPPrefix.formatAddress(family: Int(r.family == 0 ? 4 : r.family), r.address))/\(r.ecsSource)" : .null
        if r.service >= 0 && Int(r.service) < snapshot.services.count {
            let service = snapshot.services[Int(r.service)]
            o["service"] = .string(service.spec.name)
            o["policy"] = .string(service.spec.policy.rawValue)
            switch r.pool {
            case Decision.staticRecords: o["region"] = "static"; o["answer"] = "zone records"
            case Decision.noData: o["region"] = .null; o["answer"] = "NODATA"
            default:
                if Int(r.pool) < service.spec.pools.count {
                    let pool = service.spec.pools[Int(r.pool)]
                    o["region"] = .string(pool.region)
                    o["answer"] = .array(pool.cname.map { [.string("CNAME " + $0)] } ?? pool.addresses.map { .string($0.text) })
                } else if case let .addresses(list) = service.spec.allDown {
                    o["region"] = "all_down"; o["answer"] = .array(list.map { .string($0.text) })
                } else if case let .cname(target) = service.spec.allDown {
                    o["region"] = "all_down"; o["answer"] = [.string("CNAME " + target)]
                }
            }
        }
        return String(decoding: JSONValue.object(o).encoded(), as: UTF8.self)
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
