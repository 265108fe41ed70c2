/// `cluster:` the NS set this instance shares health and overrides with, through etcd:
///
///     cluster:
///       etcd: [http://10.0.0.1:2379, http://10.0.0.2:2379, http://10.0.0.3:2379]
///       node: ns1                 # unique in the NS set (default: the host name)
///       prefix: /meridian/default # one NS set per prefix
///       quorum: majority          # or N: at least N of the live probers must say down
///       lease_ttl: 10s            # a dead instance's votes vanish this long after it stops
///       grace: 30s                # etcd unreachable: keep the last shared state this long
///       tls: { ca: ca.pem, cert: client.pem, key: client.key }
///       user: meridian
///       password: ${ETCD_PASSWORD}
///
/// Without the section (and without `--cluster`) nothing of it runs.
enum ClusterSection: ConfigSection {
    static let key = "cluster"

    static func read(_ node: YAMLNode, _ reader: NodeReader, into draft: inout ConfigDraft) throws {
        var settings = MeridianConfig.ClusterSettings()
        settings.declaredAt = "\(reader.file):\(node.line)"
        for (k, v) in try reader.mapping(node, "cluster") {
            switch k {
            case "etcd":
                settings.etcd = try reader.sequence(v, k).map { item in
                    let url = try reader.string(item, "an etcd client URL")
                    guard MeridianConfig.ClusterSettings.isURL(url) else { throw reader.error(item, "'\(url)' is not http://HOST:PORT or https://HOST:PORT") }
                    return url
                }
                guard !settings.etcd.isEmpty else { throw reader.error(v, "etcd needs at least one client URL") }
            case "node":
                let name = try reader.string(v, k)
                guard MeridianConfig.ClusterSettings.isNodeName(name) else {
                    throw reader.error(v, "node '\(name)' must be 1-63 letters, digits, '-', '_' or '.'")
                }
                settings.node = name
            case "prefix":
                let prefix = try reader.string(v, k)
                guard prefix.hasPrefix("/"), prefix.count > 1, !prefix.utf8.contains(0) else {
                    throw reader.error(v, "prefix must start with '/' (e.g. /meridian/default)")
                }
                settings.prefix = prefix
            case "quorum":
                let text = try reader.string(v, k)
                if text == "majority" {
                    settings.quorum = 0
                } else if let n = Int(text), (1...100).contains(n) {
                    settings.quorum = n
                } else {
                    throw reader.error(v, "quorum must be majority or a number of instances (1-100)")
                }
            case "lease_ttl":
                let ttl = try reader.duration(v, k)
                guard ttl >= 2, ttl <= 3600, ttl == ttl.rounded() else { throw reader.error(v, "lease_ttl must be whole seconds from 2s to 1h") }
                settings.leaseTTL = Int(ttl)
            case "grace": settings.grace = try reader.duration(v, k)
            case "timeout":
                settings.timeout = try reader.duration(v, k)
                guard settings.timeout >= 0.1, settings.timeout <= 60 else { throw reader.error(v, "timeout must be from 100ms to 60s") }
            case "tls":
                for (tk, tv) in try reader.mapping(v, "tls") {
                    switch tk {
                    case "ca": settings.tlsCA = reader.resolve(try reader.string(tv, tk))
                    case "cert": settings.tlsCert = reader.resolve(try reader.string(tv, tk))
                    case "key": settings.tlsKey = reader.resolve(try reader.string(tv, tk))
                    default: throw reader.error(tv, "unknown cluster.tls key '\(tk)' (expected ca, cert, key)")
                    }
                }
                guard (settings.tlsCert == nil) == (settings.tlsKey == nil) else { throw reader.error(v, "tls needs both cert and key, or neither") }
            case "user": settings.user = try reader.string(v, k)
            case "password": settings.password = try reader.string(v, k)
            default:
                throw reader.error(
                    v, "unknown cluster key '\(k)' (expected etcd, node, prefix, quorum, lease_ttl, grace, timeout, tls, user, password)")
            }
        }
        guard !settings.etcd.isEmpty else { throw reader.error(node, "cluster needs etcd: [URL, ...]") }
        guard (settings.user == nil) == (settings.password == nil) else { throw reader.error(node, "cluster needs both user and password, or neither") }
        draft.config.cluster = settings
    }
}
