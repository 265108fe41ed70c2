import Engine
import Health
import NIOConcurrencyHelpers
import Steering

/// Process-wide control-plane counters (reloads) and the sources the metrics page reads.
public final class MetricsSources: Sendable {
    let workerCounters = NIOLockedValueBox<[WorkerCounters]>([])
    let reloads = NIOLockedValueBox<(ok: Int, failed: Int, lastError: String?)>((0, 0, nil))
    let tcpConnections = NIOLockedValueBox<@Sendable () -> Int>({ 0 })
    public let version: String
    /// GSLB answer counts are kept per position in the snapshot; on reload the counts so far are
    /// folded into totals keyed by (service, region) and the positions restart from a baseline.
    let carried = NIOLockedValueBox<(totals: [String: UInt64], baseline: [Int: UInt64])>(([:], [:]))

    public init(version: String) { self.version = version }

    static func key(_ service: String, _ region: String) -> String { service + "\u{0}" + region }

    func slotTotal(_ slot: Int) -> UInt64 {
        workerCounters.withLockedValue { $0 }.reduce(0) { $0 &+ $1.value(slot) }
    }

    /// Call before a reloaded snapshot replaces `old`.
    public func foldAnswers(of old: Snapshot) {
        carried.withLockedValue { state in
            for (s, service) in old.services.enumerated() where s < WorkerCounters.Slot.maxServices {
                for (p, pool) in service.pools.enumerated() where p < WorkerCounters.Slot.maxPools {
                    let slot = WorkerCounters.Slot.gslbBase + s * WorkerCounters.Slot.maxPools + p
                    let now = slotTotal(slot)
                    state.totals[MetricsSources.key(service.spec.name, pool.region), default: 0] &+= now &- (state.baseline[slot] ?? 0)
                    state.baseline[slot] = now
                }
            }
            // positions the old snapshot did not use also restart from their current value
            for slot in WorkerCounters.Slot.gslbBase..<WorkerCounters.Slot.defenceBase where state.baseline[slot] == nil {
                let now = slotTotal(slot)
                if now > 0 { state.baseline[slot] = now }
            }
        }
    }

    /// Answers for (service, region) since start, across reloads.
    func answers(_ service: String, _ region: String, slot: Int) -> UInt64 {
        carried.withLockedValue { state in
            (state.totals[MetricsSources.key(service, region)] ?? 0) &+ (slotTotal(slot) &- (state.baseline[slot] ?? 0))
        }
    }

    public func register(_ counters: [WorkerCounters], tcpConnections: @escaping @Sendable () -> Int) {
        workerCounters.withLockedValue { $0 = counters }
        self.tcpConnections.withLockedValue { $0 = tcpConnections }
    }

    public func reloaded(error: String?) {
        reloads.withLockedValue {
            if let error { $0.failed += 1; $0.lastError = error } else { $0.ok += 1 }
        }
    }

    public var lastReloadError: String? { reloads.withLockedValue { $0.lastError } }
}

/// Renders the Prometheus text exposition format (version 0.0.4). The query counters live in
/// per-worker slots bumped without locks on the query path, which no metrics library offers, so the
/// (small, fixed) format is written here; names follow Prometheus conventions (`_total` counters).
enum MetricsRenderer {
    static let rcodeNames = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
        "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI", "RCODE12", "RCODE13", "RCODE14", "RCODE15",
    ]
    static let qtypeNames: [Int: String] = [
        1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
        33: "SRV", 35: "NAPTR", 43: "DS", 48: "DNSKEY", 64: "SVCB", 65: "HTTPS",
        251: "IXFR", 252: "AXFR", 255: "ANY", 257: "CAA",
    ]

    static func render(sources: MetricsSources, snapshot: Snapshot, states: HealthMonitor.States) -> String {
        let workers = sources.workerCounters.withLockedValue { $0 }
        func sum(_ slot: Int) -> UInt64 { workers.reduce(0) { $0 &+ $1.value(slot) } }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        /// A label value in the text format: backslash, double quote and line feed escaped.
        func escape(_ v: String) -> String {
            var escaped = ""
            for c in v {
                switch c {
                case "\\": escaped += "\\\\"
                case "\"": escaped += "\\\""
                case "\n": escaped += "\\n"
                default: escaped.append(c)
                }
            }
            return escaped
        }
        family("meridian_build_info", "gauge", "Build information.")
        out += "meridian_build_info{version=\"\(sources.version)\"} 1\n"
        family("meridian_queries_total", "counter", "Queries received, by transport.")
        out += "meridian_queries_total{transport=\"udp\"} \(sum(WorkerCounters.Slot.udp))\n"
        out += "meridian_queries_total{transport=\"tcp\"} \(sum(WorkerCounters.Slot.tcp))\n"
        family("meridian_responses_total", "counter", "Responses sent, by RCODE (extended RCODEs by their low 4 bits).")
        for r in 0..<16 {
            let v = sum(WorkerCounters.Slot.rcodeBase + r)
            if v > 0 || r < 6 { out += "meridian_responses_total{rcode=\"\(rcodeNames[r])\"} \(v)\n" }
        }
        family("meridian_queries_by_qtype_total", "counter", "Answered queries by QTYPE.")
        for t in 0..<256 {
            let v = sum(WorkerCounters.Slot.qtypeBase + t)
            if v > 0 { out += "meridian_queries_by_qtype_total{qtype=\"\(qtypeNames[t] ?? "TYPE\(t)")\"} \(v)\n" }
        }
        let other = sum(WorkerCounters.Slot.qtypeOther)
        if other > 0 { out += "meridian_queries_by_qtype_total{qtype=\"other\"} \(other)\n" }
        family("meridian_dropped_total", "counter", "Packets not answered (shorter than a header, or QR=1).")
        out += "meridian_dropped_total \(sum(WorkerCounters.Slot.dropped))\n"
        family("meridian_truncated_total", "counter", "Responses truncated (TC) to fit the client's UDP size.")
        out += "meridian_truncated_total \(sum(WorkerCounters.Slot.truncated))\n"
        family("meridian_ecs_queries_total", "counter", "Queries carrying EDNS Client Subnet.")
        out += "meridian_ecs_queries_total \(sum(WorkerCounters.Slot.clientSubnet))\n"
        family("meridian_badvers_total", "counter", "Queries answered BADVERS (EDNS version > 0).")
        out += "meridian_badvers_total \(sum(WorkerCounters.Slot.badVersion))\n"
        family("meridian_cookies_total", "counter", "Queries with a DNS COOKIE (RFC 7873), by what their server cookie was.")
        out += "meridian_cookies_total{server_cookie=\"new\"} \(sum(WorkerCounters.Slot.cookieNew))\n"
        out += "meridian_cookies_total{server_cookie=\"valid\"} \(sum(WorkerCounters.Slot.cookieValid))\n"
        family("meridian_badcookie_total", "counter", "Responses sent with RCODE BADCOOKIE.")
        out += "meridian_badcookie_total \(sum(WorkerCounters.Slot.cookieBadCookie))\n"
        family("meridian_rrl_limited_total", "counter", "UDP responses over the rate limit (sent anyway in dry-run mode).")
        out += "meridian_rrl_limited_total \(sum(WorkerCounters.Slot.rrlLimited))\n"
        family("meridian_rrl_slipped_total", "counter", "Limited responses sent truncated (or as BADCOOKIE with badcookie_slip).")
        out += "meridian_rrl_slipped_total \(sum(WorkerCounters.Slot.rrlSlipped))\n"
        family("meridian_rrl_dropped_total", "counter", "Limited responses dropped.")
        out += "meridian_rrl_dropped_total \(sum(WorkerCounters.Slot.rrlDropped))\n"
        family("meridian_tcp_connections", "gauge", "Open TCP connections.")
        out += "meridian_tcp_connections \(sources.tcpConnections.withLockedValue { $0 }())\n"
        family("meridian_gslb_answers_total", "counter", "GSLB answers by service and region (since start).")
        for (s, service) in snapshot.services.enumerated() where s < WorkerCounters.Slot.maxServices {
            for (p, pool) in service.pools.enumerated() where p < WorkerCounters.Slot.maxPools {
                let v = sources.answers(
                    service.spec.name, pool.region,
                    slot: WorkerCounters.Slot.gslbBase + s * WorkerCounters.Slot.maxPools + p)
                out += "meridian_gslb_answers_total{service=\"\(escape(service.spec.name))\",region=\"\(escape(pool.region))\"} \(v)\n"
            }
        }
        family("meridian_region_up", "gauge", "Whether a region (pool) of a service is in answers (1) or withdrawn (0).")
        for (s, service) in snapshot.services.enumerated() {
            for (p, pool) in service.spec.pools.enumerated() {
                out +=
                    "meridian_region_up{service=\"\(escape(service.spec.name))\",region=\"\(escape(pool.region))\"} \(snapshot.health.isUp(service: s, pool: p) ? 1 : 0)\n"
            }
        }
        family("meridian_endpoint_up", "gauge", "Health state of each probed endpoint (1 up, 0 down or unknown).")
        let sorted = states.sorted { $0.key < $1.key }
        for (e, st) in sorted {
            out += "meridian_endpoint_up{endpoint=\"\(escape(e.address))\",check=\"\(escape(e.check))\"} \(st.status == .up ? 1 : 0)\n"
        }
        family("meridian_check_latency_seconds", "gauge", "Duration of the last probe of each endpoint.")
        for (e, st) in sorted {
            if let l = st.lastLatency {
                out += "meridian_check_latency_seconds{endpoint=\"\(escape(e.address))\",check=\"\(escape(e.check))\"} \(l)\n"
            }
        }
        family("meridian_certificate_days_left", "gauge", "Days until an HTTPS endpoint's certificate expires.")
        for (e, st) in sorted {
            if let d = st.certificateDaysLeft {
                out += "meridian_certificate_days_left{endpoint=\"\(escape(e.address))\",check=\"\(escape(e.check))\"} \(d)\n"
            }
        }
        let reloads = sources.reloads.withLockedValue { $0 }
        family("meridian_reloads_total", "counter", "Configuration reloads, by result.")
        out += "meridian_reloads_total{result=\"success\"} \(reloads.ok)\n"
        out += "meridian_reloads_total{result=\"failure\"} \(reloads.failed)\n"
        family("meridian_zone_serial", "gauge", "SOA serial of each served zone.")
        for zone in snapshot.zones { out += "meridian_zone_serial{zone=\"\(escape(zone.originText))\"} \(zone.serial)\n" }
        return out
    }
}
