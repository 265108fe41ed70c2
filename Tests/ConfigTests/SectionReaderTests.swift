import Config
import XCTest

/// One case per section reader: what an absent section leaves (the defaults), what a written one
/// reads, and one error with its file:line. Every case starts from a three-line `zones:` section,
/// so the section under test begins on line 4.
final class SectionReaderTests: XCTestCase {
    let zone = "zones:\n  - origin: a.\n    file: z\n"

    /// `section` after the zone is refused at `line` with a message containing `message`.
    func rejects(_ section: String, line: Int, _ message: String, file: StaticString = #filePath, sourceLine: UInt = #line) {
        expectError(zone + section, line: line, containing: message, file: file, sourceLine: sourceLine)
    }

    func testDefaultsOfAnAbsentSection() throws {
        let c = try parse(zone)
        XCTAssertEqual(c.listen, [.init(host: "127.0.0.1", port: 5353)])
        XCTAssertEqual(c.zones.map { [$0.origin, $0.file, $0.declaredAt] }, [["a.", "/etc/meridian/z", "/etc/meridian/m.yaml:2"]])
        XCTAssertEqual([c.identity.version, c.identity.id, c.identity.nsid], [nil, nil, nil])
        XCTAssertEqual(c.udpPayloadSize, 1232)
        XCTAssertEqual(c.workers, 0)
        XCTAssertEqual(c.tcpIdleTimeout, 10)
        XCTAssertEqual(c.tcpMaxConnections, 1024)
        XCTAssertEqual(c.tcpMessageTimeout, 3)
        XCTAssertEqual(c.tcpMaxConnectionsPerClient, 32)
        XCTAssertNil(c.geoDatabase)
        XCTAssertNil(c.geoNetworks)
        XCTAssertTrue(c.regions.isEmpty && c.checks.isEmpty && c.services.isEmpty)
        XCTAssertEqual(c.stateDir, "/var/lib/meridian")
        XCTAssertEqual(c.stateFile, "/var/lib/meridian/overrides.json")
        XCTAssertFalse(c.strictStateFile)
        XCTAssertTrue(c.waitForFirstRound)
        XCTAssertEqual(c.initialState, "up")
        XCTAssertEqual(c.controlListen, .init(host: "127.0.0.1", port: 8053))
        XCTAssertNil(c.controlToken)
        XCTAssertEqual(c.controlSocket, "/var/lib/meridian/control.sock")
        XCTAssertEqual(c.controlMaxConnections, 256)
        XCTAssertEqual(c.controlIdleTimeout, 10)
        XCTAssertNil(c.decisionLog)
        XCTAssertEqual(c.decisionLogSample, 100)
        XCTAssertEqual(c.sourceFile, "/etc/meridian/m.yaml")
        XCTAssertEqual(c.tcpMaxQueriesPerConnection, 10_000)
        XCTAssertEqual(c.tcpMaxConnectionLifetime, 300)
        XCTAssertTrue(c.controlAllow.isEmpty)
        XCTAssertFalse(c.rrl.enabled, "RRL is off unless configured (as in Knot and BIND)")
        XCTAssertTrue(c.cookies.enabled, "cookies are on by default")
        XCTAssertNil(c.cookies.secret)
    }

    func testRRLAndCookies() throws {
        let c = try parse(
            zone + """
                rrl: { rate: 50, slip: 3, ipv4_prefix: 22, ipv6_prefix: 48, exempt: [127.0.0.1/32, "::1/128"], dry_run: true, badcookie_slip: true, table_size: 4096 }
                cookies: { secret: 0123456789ABCDEF0123456789abcdef, previous_secret: ffeeddccbbaa99887766554433221100 }
                server: { tcp_max_queries_per_connection: 100, tcp_max_connection_lifetime: 2m }
                control: { allow: [127.0.0.0/8, "::1/128"] }

                """)
        XCTAssertTrue(c.rrl.enabled)
        XCTAssertEqual([c.rrl.rate, c.rrl.slip, c.rrl.ipv4Prefix, c.rrl.ipv6Prefix, c.rrl.tableSize], [50, 3, 22, 48, 4096])
        XCTAssertEqual(c.rrl.exempt.map(\.description), ["127.0.0.1/32", "::1/128"])
        XCTAssertTrue(c.rrl.dryRun && c.rrl.badCookieSlip)
        XCTAssertEqual(c.rrl.declaredAt, "/etc/meridian/m.yaml:4")
        XCTAssertEqual(c.cookies.secret, "0123456789abcdef0123456789abcdef")
        XCTAssertEqual(c.cookies.previousSecret, "ffeeddccbbaa99887766554433221100")
        XCTAssertEqual(c.tcpMaxQueriesPerConnection, 100)
        XCTAssertEqual(c.tcpMaxConnectionLifetime, 120)
        XCTAssertEqual(c.controlAllow.map(\.description), ["127.0.0.0/8", "::1/128"])
        XCTAssertFalse(try parse(zone + "rrl: { enabled: false }\n").rrl.enabled)
        XCTAssertFalse(try parse(zone + "cookies: { enabled: false }\n").cookies.enabled)
        rejects("rrl: { rate: 0 }\n", line: 4, "rate")
        rejects("rrl:\n  exempt: [192.0.2.1/24]\n", line: 5, "'192.0.2.1/24' is not a network")
        rejects("rrl: { ratee: 5 }\n", line: 4, "unknown rrl key 'ratee'")
        rejects("cookies:\n  secret: abc\n", line: 5, "secret must be 32 hexadecimal digits")
        rejects("control:\n  allow: [nonsense]\n", line: 5, "'nonsense' is not a network")
    }

    func testCluster() throws {
        XCTAssertNil(try parse(zone).cluster, "no cluster: section: standalone")
        let c = try XCTUnwrap(
            try parse(
                zone + """
                    cluster:
                      etcd: [http://10.0.0.1:2379, "https://[2001:db8::1]:2379"]
                      node: ns1.eu
                      prefix: /meridian/prod
                      quorum: 2
                      lease_ttl: 5s
                      grace: 1m
                      tls: { ca: ca.pem, cert: client.pem, key: client.key }
                      user: meridian
                      password: ${ETCD_PASSWORD}

                    """, env: ["ETCD_PASSWORD": "pw"]
            ).cluster)
        XCTAssertEqual(c.etcd, ["http://10.0.0.1:2379", "https://[2001:db8::1]:2379"])
        XCTAssertEqual([c.node, c.prefix, c.user, c.password], ["ns1.eu", "/meridian/prod", "meridian", "pw"])
        XCTAssertEqual([c.quorum, c.leaseTTL], [2, 5])
        XCTAssertEqual(c.grace, 60)
        XCTAssertEqual([c.tlsCA, c.tlsCert, c.tlsKey], ["/etc/meridian/ca.pem", "/etc/meridian/client.pem", "/etc/meridian/client.key"])
        let defaults = try XCTUnwrap(try parse(zone + "cluster: { etcd: [http://127.0.0.1:2379] }\n").cluster)
        XCTAssertEqual([defaults.prefix, "\(defaults.quorum)", "\(defaults.leaseTTL)", "\(defaults.grace)"], ["/meridian/default", "0", "10", "30.0"])
        rejects("cluster: { node: a }\n", line: 4, "cluster needs etcd: [URL, ...]")
        rejects("cluster:\n  etcd: [127.0.0.1:2379]\n", line: 5, "'127.0.0.1:2379' is not http://HOST:PORT or https://HOST:PORT")
        rejects("cluster:\n  etcd: [http://a:1]\n  quorum: most\n", line: 6, "quorum must be majority or a number")
        rejects("cluster:\n  etcd: [http://a:1]\n  node: a/b\n", line: 6, "node 'a/b' must be 1-63 letters")
        rejects("cluster:\n  etcd: [http://a:1]\n  lease_ttl: 1s\n", line: 6, "lease_ttl must be whole seconds from 2s to 1h")
        rejects("cluster:\n  etcd: [http://a:1]\n  user: u\n", line: 5, "cluster needs both user and password")
        rejects("cluster:\n  etcd: [http://a:1]\n  tls: { cert: c.pem }\n", line: 6, "tls needs both cert and key")
        rejects("cluster:\n  etcd: [http://a:1]\n  prefix: meridian\n", line: 6, "prefix must start with '/'")
    }

    func testUnknownTopLevelKeyListsEverySection() {
        rejects(
            "listn: []\n", line: 4,
            "unknown key 'listn' (expected listen, zones, identity, server, geo, regions, checks, health, control, decision_log, state_dir, services, tsig_keys, rrl, cookies, cluster)"
        )
        rejects("listen: []\nlisten: []\n", line: 5, "duplicate key 'listen'")
    }

    func testZones() {
        expectError("zones:\n  - file: z\n", line: 2, containing: "zone needs 'origin'")
        expectError("zones:\n  - origin: a.\n", line: 2, containing: "zone a. needs 'file'")
        XCTAssertThrowsError(try parse("listen: []\n")) { XCTAssertEqual("\($0)", "/etc/meridian/m.yaml: no zones configured") }
    }

    func testZoneDNSSECAndTransfer() throws {
        let secret = "c2VjcmV0c2VjcmV0c2VjcmV0MTI="
        let c = try parse(
            "tsig_keys:\n  xfr: { algorithm: hmac-sha256, secret: \"\(secret)\" }\n"
                + "zones:\n  - origin: a.\n    file: z\n    dnssec: { serial_policy: increment, refresh: 2d, denial: nsec }\n"
                + "    transfer:\n      allow: [127.0.0.1, \"::1\", { network: 10.0.0.0/8, key: xfr }, { key: XFR }]\n"
                + "      notify: [\"192.0.2.53\", { address: \"[2001:db8::53]:5300\", key: xfr }]\n")
        XCTAssertEqual(c.tsigKeys.map { [$0.name, $0.algorithm, $0.secret] }, [["xfr", "hmac-sha256", secret]])
        XCTAssertEqual(c.zones[0].dnssec?.serialPolicy, "increment")
        XCTAssertEqual(c.zones[0].dnssec?.refresh, 2 * 86400)
        XCTAssertEqual(c.zones[0].dnssec?.denial, "nsec")
        let transfer = try XCTUnwrap(c.zones[0].transfer)
        XCTAssertEqual(
            transfer.allow.map { [$0.network.map { "\($0)" } ?? "-", $0.key ?? "-"] },
            [["127.0.0.1/32", "-"], ["::1/128", "-"], ["10.0.0.0/8", "xfr"], ["-", "XFR"]])
        XCTAssertEqual(transfer.notify.map { "\($0.server)|\($0.key ?? "-")" }, ["192.0.2.53:53|-", "[2001:db8::53]:5300|xfr"])
        XCTAssertNil(try parse(zone).zones[0].transfer, "no transfer section: no transfers")
        rejects("tsig_keys:\n  k: { secret: \"c2hvcnQ=\" }\n", line: 5, "secret must be base64 of at least 16 octets")
        rejects("tsig_keys:\n  k: { algorithm: hmac-md5, secret: \"\(secret)\" }\n", line: 5, "algorithm must be hmac-sha256")
        expectError(
            "zones:\n  - origin: a.\n    file: z\n    dnssec: { serial_policy: keep }\n", line: 4, containing: "serial_policy must be unixtime or increment")
        expectError("zones:\n  - origin: a.\n    file: z\n    dnssec: { denial: nsec5 }\n", line: 4, containing: "denial must be nsec3 or nsec")
        expectError("zones:\n  - origin: a.\n    file: z\n    transfer: { allow: [10.0.0.1/8] }\n", line: 4, containing: "'10.0.0.1/8' is not a network")
        expectError("zones:\n  - origin: a.\n    file: z\n    transfer: { notify: [ns1.example.] }\n", line: 4, containing: "a notify target is an IP address")
        expectError(
            "zones:\n  - origin: a.\n    file: z\n    transfer: { allow: [{ key: nokey }] }\n", line: 4,
            containing: "TSIG key 'nokey', which is not defined under tsig_keys")
    }

    func testIdentity() throws {
        let c = try parse(zone + "identity: { version: v1, id: ns1, nsid: abc }\n")
        XCTAssertEqual([c.identity.version, c.identity.id, c.identity.nsid], ["v1", "ns1", "abc"])
        rejects("identity:\n  name: x\n", line: 5, "unknown identity key 'name' (expected version, id, nsid)")
    }

    func testServer() {
        rejects("server:\n  udp_payload_size: 256\n", line: 5, "udp_payload_size must be an integer in 512...4096, got '256'")
    }

    func testStateDirMovesTheDefaultsInsideIt() throws {
        let c = try parse(zone + "state_dir: state\n")
        XCTAssertEqual(c.stateDir, "/etc/meridian/state")
        XCTAssertEqual(c.stateFile, "/etc/meridian/state/overrides.json")
        XCTAssertEqual(c.controlSocket, "/etc/meridian/state/control.sock")
        let written = try parse(zone + "state_dir: /srv/m\nhealth: { state_file: o.json }\ncontrol: { socket: ~ }\n")
        XCTAssertEqual(written.stateFile, "/etc/meridian/o.json", "health.state_file is taken as written")
        XCTAssertNil(written.controlSocket)
        XCTAssertNil(try parse(zone + "health: { state_file: ~ }\n").stateFile, "~ keeps overrides in memory")
        rejects("state_dir: \"\"\n", line: 4, "state_dir must be a directory path")
    }

    func testGeo() throws {
        let c = try parse(zone + "geo:\n  database: g.mmdb\n  networks: off\n")
        XCTAssertEqual(c.geoDatabase, "/etc/meridian/g.mmdb")
        XCTAssertNil(c.geoNetworks)
        XCTAssertEqual(c.geoDeclaredAt, "/etc/meridian/m.yaml:5")
        rejects("geo:\n  db: g.mmdb\n", line: 5, "unknown geo key 'db' (expected database, networks)")
    }

    func testRegions() throws {
        let c = try parse(zone + "regions:\n  eu: { location: [50.1, 8.7] }\n  na:\n")
        XCTAssertEqual(c.regions.map(\.name), ["eu", "na"])
        XCTAssertEqual(c.regions[0].latitude, 50.1)
        XCTAssertEqual(c.regions[0].longitude, 8.7)
        XCTAssertNil(c.regions[1].latitude)
        rejects("regions:\n  eu: { location: [91, 0] }\n", line: 5, "location must be [latitude, longitude] in degrees")
        rejects("regions:\n  eu: west\n", line: 5, "region eu must be a mapping such as { location: [lat, lon] }")
    }

    func testHealth() throws {
        let down = try parse(zone + "health: { initial: down, strict_state_file: yes }\n")
        XCTAssertFalse(down.waitForFirstRound)
        XCTAssertEqual(down.initialState, "down")
        XCTAssertTrue(down.strictStateFile)
        XCTAssertTrue(try parse(zone + "health: { wait_first_round: false, initial: wait }\n").waitForFirstRound)
        rejects("health:\n  initial: maybe\n", line: 5, "initial must be wait, up or down")
        rejects("health:\n  strict_state_file: maybe\n", line: 5, "strict_state_file must be true or false")
    }

    func testControl() throws {
        let c = try parse(zone + "control: { listen: \"[::1]:9053\", token: t, max_connections: 8, idle_timeout: 2s }\n")
        XCTAssertEqual(c.controlListen, .init(host: "::1", port: 9053))
        XCTAssertEqual(c.controlToken, "t")
        XCTAssertEqual(c.controlMaxConnections, 8)
        XCTAssertEqual(c.controlIdleTimeout, 2)
        XCTAssertNil(try parse(zone + "control: { listen: off }\n").controlListen)
        XCTAssertEqual(try parse(zone + "control: { listen: \"0.0.0.0:8053\", token: t }\n").controlListen?.host, "0.0.0.0")
        rejects("control:\n  listen: \"0.0.0.0:8053\"\n", line: 5, "control.listen 0.0.0.0:8053 is not a loopback address and no control.token is set")
        rejects("control:\n  port: 1\n", line: 5, "unknown control key 'port' (expected listen, token, socket, max_connections, idle_timeout, allow)")
    }

    func testDecisionLog() throws {
        let c = try parse(zone + "decision_log: { file: d.jsonl, sample: 5 }\n")
        XCTAssertEqual(c.decisionLog, "/etc/meridian/d.jsonl")
        XCTAssertEqual(c.decisionLogSample, 5)
        rejects("decision_log:\n  sample: 0\n", line: 5, "sample must be an integer in 1...1000000, got '0'")
    }

    func testChecks() throws {
        let c = try parse(zone + "checks:\n  web: { type: http, port: 80, interval: 2s, timeout: 1s, expect: [200, 204], ca_file: ca.pem }\n")
        XCTAssertEqual(c.checks.map(\.name), ["web"])
        XCTAssertEqual(c.checks[0].kind, .http)
        XCTAssertEqual(c.checks[0].port, 80)
        XCTAssertEqual(c.checks[0].expect, [200, 204])
        XCTAssertEqual(c.checks[0].caFile, "/etc/meridian/ca.pem")
        XCTAssertEqual(c.checks[0].declaredAt, "/etc/meridian/m.yaml:5")
        rejects("checks:\n  web: { port: 80 }\n", line: 5, "check web needs a type")
        rejects("checks:\n  web: { type: tcp, port: 80, interval: 1s, timeout: 2s }\n", line: 5, "timeout (2.0s) must be below interval (1.0s)")
    }

    func testServices() throws {
        let c = try parse(
            zone + """
                services:
                  www.a:
                    policy: failover
                    order: [eu, na]
                    map: { continent: { eu: eu } }
                    pools:
                      eu: { addresses: [192.0.2.1, { address: 192.0.2.2, weight: 3 }], check: web }
                      na: { cname: backup.example. }
                checks:
                  web: { type: tcp, port: 80 }
                """)
        let s = try XCTUnwrap(c.services.first)
        XCTAssertEqual(s.name, "www.a.")
        XCTAssertEqual(s.policy, .failover)
        XCTAssertEqual(s.ttl, 30)
        XCTAssertEqual(s.order, ["eu", "na"])
        XCTAssertEqual(s.map.continent, ["EU": ["eu"]])
        XCTAssertEqual(s.pools.map(\.region), ["eu", "na"])
        XCTAssertEqual(s.pools[0].addresses.map(\.weight), [1, 3])
        XCTAssertEqual(s.pools[0].declaredAt, "/etc/meridian/m.yaml:10")
        XCTAssertEqual(s.pools[1].cname, "backup.example.")
        let hashed = try parse(
            zone + """
                services:
                  h.a:
                    policy: hash
                    hash_prefix: { v4: 16 }
                    all_down: { cname: sorry.example. }
                    map: { default: static }
                    pools: { eu: { addresses: [192.0.2.1] } }
                """
        ).services[0]
        XCTAssertEqual([hashed.hashPrefixV4, hashed.hashPrefixV6], [16, 48])
        XCTAssertEqual(hashed.allDown, .cname("sorry.example."))
        XCTAssertEqual(hashed.map.defaultRegions, [])
        XCTAssertEqual(s.allDown, .failOpen)
        rejects("services:\n  h.a:\n    hash_prefix: { v5: 1 }\n", line: 6, "hash_prefix keys are v4 and v6")
        rejects("services:\n  h.a:\n    all_down: closed\n", line: 6, "all_down must be fail_open, { addresses: [...] } or { cname: NAME }")
        rejects("services:\n  www.a:\n    policy: failover\n", line: 6, "service www.a needs pools")
        rejects(
            "services:\n  www.a:\n    pools:\n      eu: { addresses: [192.0.2.1], check: web }\n", line: 7,
            "pool eu of www.a. uses check 'web', which is not defined under checks")
    }
}
