import ArgumentParser
import Cluster
import Config
import Engine
import Glibc
import Health
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SnapshotAssembly
import Verdicts

/// Joins `serve` to an NS set on etcd (`cluster:` or `--cluster`): the agent, its TLS and
/// credentials, what it tells the publisher, and what this instance says about itself.
enum ClusterWiring {
    /// The config's `cluster:` with the command line's `--cluster` and `--node` on top (the flags
    /// win; the flags alone take the defaults: prefix /meridian/default, quorum majority); nil when
    /// neither asks for a cluster.
    static func settings(config: MeridianConfig.ClusterSettings?, urls: String?, node: String?) throws -> MeridianConfig.ClusterSettings? {
        guard config != nil || urls != nil else {
            if node != nil { throw ValidationError("--node needs --cluster or a cluster: section") }
            return nil
        }
        var settings = config ?? MeridianConfig.ClusterSettings()
        if let urls {
            settings.etcd = urls.split(separator: ",").map { String($0.filter { $0 != " " }) }
            for url in settings.etcd where !MeridianConfig.ClusterSettings.isURL(url) {
                throw ValidationError("--cluster '\(url)' is not http://HOST:PORT or https://HOST:PORT")
            }
            guard !settings.etcd.isEmpty else { throw ValidationError("--cluster needs at least one etcd URL") }
        }
        if let node {
            guard MeridianConfig.ClusterSettings.isNodeName(node) else {
                throw ValidationError("--node '\(node)' must be 1-63 letters, digits, '-', '_' or '.'")
            }
            settings.node = node
        }
        return settings
    }

    /// This host's name (the default node name).
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "meridian" }
        let name = String(cString: buffer).split(separator: ".").first.map(String.init) ?? "meridian"
        return MeridianConfig.ClusterSettings.isNodeName(name) ? name : "meridian"
    }

    /// What this instance publishes about itself.
    static func memberInfo(node: String, configPath: String, snapshot: Snapshot, listen: [String], startedAt: Int64) -> MemberInfo {
        MemberInfo(
            node: node, version: Meridian.version, configDigest: ConfigDigest.of(path: configPath),
            zones: Dictionary(snapshot.zones.map { ($0.originText, $0.serial) }, uniquingKeysWith: { a, _ in a }), listen: listen,
            startedAt: startedAt)
    }

    /// The agent for `settings`, wired to `publisher` and its override store; not started.
    static func agent(
        settings: MeridianConfig.ClusterSettings, info: MemberInfo, publisher: HealthPublisher, group: EventLoopGroup, logger: Logger
    ) throws -> ClusterAgent {
        let endpoints = settings.etcd.compactMap(EtcdEndpoint.init(url:))
        var tls: NIOSSLContext?
        if endpoints.contains(where: \.tls) || settings.tlsCA != nil || settings.tlsCert != nil {
            var config = TLSConfiguration.makeClientConfiguration()
            /// The file's contents, or an error that names it and the key it came from.
            func load<T>(_ path: String, _ key: String, _ read: (String) throws -> T) throws -> T {
                do { return try read(path) } catch {
                    throw ValidationError("\(settings.declaredAt): cluster.tls.\(key) \(path): \(error)")
                }
            }
            if let ca = settings.tlsCA {
                config.trustRoots = .certificates(try load(ca, "ca") { try NIOSSLCertificate.fromPEMFile($0) })
            }
            if let cert = settings.tlsCert, let key = settings.tlsKey {
                config.certificateChain = try load(cert, "cert") { try NIOSSLCertificate.fromPEMFile($0) }.map { .certificate($0) }
                config.privateKey = .privateKey(try load(key, "key") { try NIOSSLPrivateKey(file: $0, format: .pem) })
            }
            tls = try NIOSSLContext(configuration: config)
        }
        let client = EtcdClient(
            endpoints: endpoints, credentials: settings.user.flatMap { user in settings.password.map { (user, $0) } }, tls: tls, group: group,
            timeout: .milliseconds(Int64(settings.timeout * 1000)))
        let overrides = publisher.overrides
        let sink = ClusterAgent.Sink(
            verdicts: { publisher.update(shared: $0) },
            overrides: { shared in
                if let error = overrides.replaceAll(shared) {
                    logger.error("cluster: the NS set's overrides apply but the state file was not written", metadata: ["error": "\(error)"])
                }
                publisher.publish()
            })
        return ClusterAgent(
            client: client, node: info.node, keys: ClusterKeys(prefix: settings.prefix), rule: settings.quorum == 0 ? .majority : .atLeast(settings.quorum),
            leaseTTL: settings.leaseTTL, grace: settings.grace, info: info, sink: sink, logger: logger)
    }

    /// Revokes the agent's lease (the NS set stops counting this instance at once), waiting at most
    /// about two seconds.
    static func leave(_ agent: ClusterAgent, group: EventLoopGroup) {
        let done = group.next().makePromise(of: Void.self)
        done.completeWithTask { await agent.stop() }
        _ = try? done.futureResult.wait()
    }
}
