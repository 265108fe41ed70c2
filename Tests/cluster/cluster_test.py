#!/usr/bin/env python3
"""An NS set on etcd: three Meridian instances, each in its own network namespace, sharing health
and overrides through a three-member etcd cluster (Debian etcd-server), with real HTTP backends.

Usage: Tests/cluster/cluster_test.py BIN      (as root: it makes network namespaces)

Network (all made here and removed at the end):
  - backends eu/na/ap on 10.231.0.1-3 and the etcd members on 10.231.0.100, addresses on the host's
    loopback interface;
  - namespaces mcl-a, mcl-b, mcl-c, each joined to the host by a veth pair (10.231.1.0/30, .4/30,
    .8/30); an instance's path to a backend is cut with a `prohibit` route in its namespace.

Sections:
  - steady: all three in session, three peers, one configuration digest, the same answer
  - prober: a --no-dns instance with a different configuration file votes, is reported as a
    mismatch (status, metric, log), and leaves at once when stopped cleanly
  - backend: a backend stops: all three withdraw its region within fall x interval + timeout + 1 s,
    and restore it likewise
  - partition: one instance's path to a backend cut: no instance changes its answer; two cut: all withdraw
  - override: a drain through one instance is applied by all three within 1 s, and survives a
    restart of all three
  - etcd: the etcd leader then a second member killed under dnsperf load: 0 lost queries; the
    instances report degraded and return to connected when the members return
  - lease: kill -9 an instance: its votes expire with its lease and the quorum is recomputed
  - fallback: every etcd member down past the grace: answers follow each instance's own verdicts,
    /healthz says 503; etcd back: connected and 200 again
  - tls-auth: an etcd that requires client certificates and password authentication; a wrong
    password is refused and reported

Prints one PASS:/FAIL: line per check and "N passed, M failed"; exits 1 on any failure. Every wait
is bounded; every process started is stopped by PID at the end.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import dns.edns
import dns.message
import dns.query
import dns.rdatatype

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from meridian_testlib import Tally, run_sections, stop_process, wait_tcp, wait_until  # noqa: E402

BIN = None
ORIGIN = "cl.test."
NAME = "www." + ORIGIN
TOKEN = "cluster-token"
INTERVAL, TIMEOUT, RISE, FALL = 1.0, 0.5, 2, 2
DETECT_BOUND = FALL * INTERVAL + TIMEOUT + 1.0   # 3.5 s
RESTORE_BOUND = RISE * INTERVAL + TIMEOUT + 1.0  # 3.5 s
LEASE_TTL, GRACE = 3, 8
BACKENDS = {"eu": "10.231.0.1", "na": "10.231.0.2", "ap": "10.231.0.3"}
BACKEND_PORT = 8080
ETCD_HOST = "10.231.0.100"
ETCD = [("e1", 23791, 23801), ("e2", 23792, 23802), ("e3", 23793, 23803)]
NODES = {"a": 0, "b": 4, "c": 8}   # the /30 of each namespace: host .1+n, instance .2+n
DNS_PORT, CONTROL_PORT = 5353, 8053

tally = Tally(detail_on_pass=True)
result = tally.result

BACKEND_SCRIPT = r'''
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
'''

ZONE = f"""$ORIGIN {ORIGIN}
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 60
@ NS ns1
ns1 A 10.231.1.2
"""

# one file for all three instances (one configuration digest): what differs per instance comes
# from the command line (--node, --listen, --control) and the environment (the state directory)
CONFIG = f"""zones: [{{ origin: {ORIGIN}, file: zone }}]
control: {{ token: {TOKEN} }}
state_dir: ${{MERIDIAN_STATE}}
checks:
  web: {{ type: http, port: {BACKEND_PORT}, interval: {INTERVAL:g}s, timeout: {int(TIMEOUT * 1000)}ms, rise: {RISE}, fall: {FALL}, path: /healthz }}
services:
  {NAME}:
    policy: failover
    order: [eu, na, ap]
    ttl: 30
    pools:
      eu: {{ addresses: [{BACKENDS['eu']}], check: web }}
      na: {{ addresses: [{BACKENDS['na']}], check: web }}
      ap: {{ addresses: [{BACKENDS['ap']}], check: web }}
  hash.{ORIGIN}:
    policy: hash
    ttl: 30
    pools:
      eu: {{ addresses: [{BACKENDS['eu']}], check: web }}
      na: {{ addresses: [{BACKENDS['na']}], check: web }}
      ap: {{ addresses: [{BACKENDS['ap']}], check: web }}
cluster:
  etcd: [{", ".join(f"http://{ETCD_HOST}:{c}" for _, c, _ in ETCD)}]
  prefix: /meridian/test
  lease_ttl: {LEASE_TTL}s
  grace: {GRACE}s
  timeout: 1s
"""


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout


def host_ip(node):
    return f"10.231.1.{NODES[node] + 1}"


def node_ip(node):
    return f"10.231.1.{NODES[node] + 2}"


class Network:
    """The namespaces, veth pairs and loopback addresses of the test; `close` removes them all."""

    def __init__(self):
        self.addresses = list(BACKENDS.values()) + [ETCD_HOST]
        self.close()  # leftovers of an interrupted run
        for address in self.addresses:
            sh("ip", "addr", "add", f"{address}/32", "dev", "lo")
        for node in NODES:
            ns, host_end, ns_end = f"mcl-{node}", f"mcl{node}-h", f"mcl{node}-n"
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", ns_end)
            sh("ip", "link", "set", ns_end, "netns", ns)
            sh("ip", "addr", "add", f"{host_ip(node)}/30", "dev", host_end)
            sh("ip", "link", "set", host_end, "up")
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{node_ip(node)}/30", "dev", ns_end)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", ns_end, "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            sh("ip", "netns", "exec", ns, "ip", "route", "add", "default", "via", host_ip(node))

    def cut(self, node, address):
        sh("ip", "netns", "exec", f"mcl-{node}", "ip", "route", "add", "prohibit", f"{address}/32")

    def mend(self, node, address):
        sh("ip", "netns", "exec", f"mcl-{node}", "ip", "route", "del", "prohibit", f"{address}/32", check=False)

    def close(self):
        for node in NODES:
            sh("ip", "netns", "del", f"mcl-{node}", check=False)
            sh("ip", "link", "del", f"mcl{node}-h", check=False)
        for address in getattr(self, "addresses", list(BACKENDS.values()) + [ETCD_HOST]):
            sh("ip", "addr", "del", f"{address}/32", "dev", "lo", check=False)


class Etcd:
    """A three-member etcd cluster on ETCD_HOST, election timeouts raised for a 2-core machine."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = {}
        self.initial = ",".join(f"{name}=http://{ETCD_HOST}:{peer}" for name, _, peer in ETCD)
        for name, _, _ in ETCD:
            self.start(name, new=True)
        ok, _ = wait_until(lambda: self.leader() is not None, 30)
        if not ok:
            raise RuntimeError("etcd did not elect a leader in 30 s")

    def start(self, name, new=False):
        _, client, peer = next(m for m in ETCD if m[0] == name)
        log = open(os.path.join(self.tmp, f"etcd-{name}.log"), "a")
        self.procs[name] = subprocess.Popen(
            ["etcd", "--name", name, "--data-dir", os.path.join(self.tmp, f"etcd-{name}"),
             "--listen-client-urls", f"http://{ETCD_HOST}:{client}", "--advertise-client-urls", f"http://{ETCD_HOST}:{client}",
             "--listen-peer-urls", f"http://{ETCD_HOST}:{peer}", "--initial-advertise-peer-urls", f"http://{ETCD_HOST}:{peer}",
             "--initial-cluster", self.initial, "--initial-cluster-state", "new", "--initial-cluster-token", "meridian-test",
             "--heartbeat-interval", "200", "--election-timeout", "2000", "--logger", "zap", "--log-level", "warn"],
            stdout=log, stderr=subprocess.STDOUT)

    def kill(self, name):
        stop_process(self.procs[name], signal.SIGKILL)

    def status(self, name):
        _, client, _ = next(m for m in ETCD if m[0] == name)
        try:
            req = urllib.request.Request(f"http://{ETCD_HOST}:{client}/v3/maintenance/status", data=b"{}", method="POST")
            with urllib.request.urlopen(req, timeout=1) as r:
                return json.load(r)
        except Exception:  # noqa: BLE001 - a member down or without a leader
            return None

    def leader(self):
        """The name of the leader, as a live member reports it."""
        for name, _, _ in ETCD:
            if self.procs.get(name) is None or self.procs[name].poll() is not None:
                continue
            s = self.status(name)
            if s and s.get("leader") and s["leader"] != "0":
                for other, _, _ in ETCD:
                    t = self.status(other) if self.procs[other].poll() is None else None
                    if t and t["header"]["member_id"] == s["leader"]:
                        return other
        return None

    def close(self):
        for p in self.procs.values():
            stop_process(p)


class Instance:
    def __init__(self, node, tmp, config):
        self.node, self.tmp, self.config = node, tmp, config
        self.state = os.path.join(tmp, f"state-{node}")
        self.log_path = os.path.join(tmp, f"meridian-{node}.log")
        self.proc = None

    def start(self, standalone=False):
        env = dict(os.environ, MERIDIAN_STATE=self.state)
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", f"mcl-{self.node}", BIN, "serve", "--config", self.config]
            + ([] if standalone else ["--node", self.node])
            + ["--listen", f"{node_ip(self.node)}:{DNS_PORT}", "--control", f"{node_ip(self.node)}:{CONTROL_PORT}"],
            stdout=log, stderr=subprocess.STDOUT, env=env)

    def stop(self, sig=signal.SIGTERM):
        if self.proc:
            stop_process(self.proc, sig)

    def answer(self):
        """The A answer's addresses, sorted; None when there is no answer in time."""
        try:
            r = dns.query.udp(dns.message.make_query(NAME, "A"), node_ip(self.node), port=DNS_PORT, timeout=0.5)
        except Exception:  # noqa: BLE001 - not answering (yet)
            return None
        return sorted(rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A for rd in rrset)

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://{node_ip(self.node)}:{CONTROL_PORT}{path}", timeout=2) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)
        except Exception:  # noqa: BLE001 - not up
            return None, None

    def cluster(self):
        _, status = self.get("/v1/status")
        return (status or {}).get("cluster") or {}

    def override(self, scope, name, state):
        req = urllib.request.Request(
            f"http://{node_ip(self.node)}:{CONTROL_PORT}/v1/override", method="POST",
            data=json.dumps({"scope": scope, "name": name, "state": state}).encode(),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=3) as r:
            return r.status


class Cluster:
    """Everything the sections share."""

    def __init__(self, config=CONFIG, settle=True):
        self.tmp = tempfile.mkdtemp(prefix="meridian-cluster-")
        self.backends = {}
        self.net = Network()
        self.etcd = Etcd(self.tmp)
        with open(os.path.join(self.tmp, "zone"), "w") as f:
            f.write(ZONE)
        self.config = os.path.join(self.tmp, "meridian.yaml")
        with open(self.config, "w") as f:
            f.write(config)
        self.backend_script = os.path.join(self.tmp, "backend.py")
        with open(self.backend_script, "w") as f:
            f.write(BACKEND_SCRIPT)
        for region in BACKENDS:
            self.start_backend(region)
        for region in BACKENDS:
            if not wait_tcp(BACKENDS[region], BACKEND_PORT, 10):
                raise RuntimeError(f"backend {region} did not listen in 10 s")
        self.instances = {n: Instance(n, self.tmp, self.config) for n in NODES}
        for i in self.instances.values():
            i.start()
        ok, _ = wait_until(lambda: all(i.cluster().get("connected") and len(i.cluster().get("peers", [])) == 3 for i in self.instances.values()), 30)
        if not ok:
            raise RuntimeError("the three instances did not join the NS set in 30 s: " + self.logs())
        if settle:
            self.settle()

    def start_backend(self, region):
        self.backends[region] = subprocess.Popen([sys.executable, self.backend_script, BACKENDS[region], str(BACKEND_PORT)])

    def stop_backend(self, region):
        stop_process(self.backends.pop(region))

    def answers(self):
        return {n: i.answer() for n, i in self.instances.items()}

    def settle(self, want=None, bound=15):
        """Waits until all three answer `want` (default: eu's address)."""
        want = want or [BACKENDS["eu"]]
        ok, _ = wait_until(lambda: all(a == want for a in self.answers().values()), bound)
        return ok

    def time_until_all(self, want, bound, start=None):
        """Seconds from `start` (default: now) until every instance answers `want`, per instance
        (None: not within `bound`)."""
        start = start or time.monotonic()
        seen = {}
        while time.monotonic() - start < bound and len(seen) < len(self.instances):
            for n, i in self.instances.items():
                if n not in seen and i.answer() == want:
                    seen[n] = time.monotonic() - start
            time.sleep(0.05)
        return {n: seen.get(n) for n in self.instances}

    def logs(self):
        out = ""
        for n in NODES:
            try:
                with open(os.path.join(self.tmp, f"meridian-{n}.log")) as f:
                    out += f"--- {n}\n" + "".join(f.readlines()[-15:])
            except OSError:
                pass
        return out

    def close(self):
        for i in self.instances.values() if hasattr(self, "instances") else []:
            i.stop()
        for p in list(self.backends.values()):
            stop_process(p)
        if hasattr(self, "etcd"):
            self.etcd.close()
        self.net.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


C = None


def fmt(times):
    return ", ".join(f"{n} {t:.2f} s" if t is not None else f"{n} never" for n, t in times.items())


def section_steady():
    statuses = [i.cluster() for i in C.instances.values()]
    result(all(s.get("state") == "connected" and len(s.get("peers", [])) == 3 for s in statuses),
           "all three instances are in session with three peers", str([(s.get("node"), s.get("state")) for s in statuses]))
    digests = {p["config_digest"] for s in statuses for p in s.get("peers", [])}
    result(len(digests) == 1 and all(not s.get("config_mismatch") for s in statuses),
           "one configuration digest across the NS set, no mismatch reported", str(digests))
    result(C.settle(), "all three answer the first region (eu)", str(C.answers()))
    code, body = C.instances["a"].get("/healthz")
    result(code == 200 and body.get("cluster") == "connected", "/healthz: 200, connected", f"{code} {body}")
    # deterministic answers: the consistent hash of 40 client networks (ECS) is the same on all three
    seen = {}
    for n, inst in C.instances.items():
        answers = []
        for k in range(40):
            q = dns.message.make_query("hash." + ORIGIN, "A", use_edns=0, options=[dns.edns.ECSOption(f"198.{k}.{k * 7 % 256}.0", 24)])
            try:
                r = dns.query.udp(q, node_ip(n), port=DNS_PORT, timeout=1)
                answers.append(tuple(sorted(rd.address for rrset in r.answer for rd in rrset)))
            except Exception:  # noqa: BLE001 - recorded as no answer
                answers.append(None)
        seen[n] = answers
    regions = {a for a in seen["a"] if a}
    result(seen["a"] == seen["b"] == seen["c"] and None not in seen["a"] and len(regions) == 3,
           "policy hash: 40 client networks get the same region from all three instances (all three regions used)",
           f"{len(regions)} regions; equal {seen['a'] == seen['b'] == seen['c']}")
    values = {m: metric("b", m) for m in ("meridian_cluster_connected", "meridian_cluster_peers", "meridian_cluster_shared_verdicts",
                                           "meridian_cluster_config_mismatch")}
    result(values == {"meridian_cluster_connected": 1, "meridian_cluster_peers": 3, "meridian_cluster_shared_verdicts": 1,
                      "meridian_cluster_config_mismatch": 0}, "/metrics: connected, three peers, shared verdicts, no mismatch", str(values))
    def all_up():
        peers = {p["node"]: p for p in C.instances["a"].cluster().get("peers", [])}
        return len(peers) == 3 and all(v == "up" for p in peers.values() for v in p["verdicts"].values()) and peers
    peers, _ = wait_until(all_up, 10)
    peers = peers or {}
    result(len(peers) == 3 and all(p["verdicts"].get(f"{BACKENDS['eu']}/web") == "up" for p in peers.values()),
           "each peer's verdict on eu is visible in /v1/status", str({n: p["verdicts"] for n, p in peers.items()}))


def metric(node, name):
    try:
        with urllib.request.urlopen(f"http://{node_ip(node)}:{CONTROL_PORT}/metrics", timeout=2) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
    except Exception:  # noqa: BLE001 - not up
        pass
    return None


def section_prober():
    """A fourth instance that serves no DNS (--no-dns) and runs a different configuration file: it
    votes, the others report the mismatch loudly, and a clean stop removes it at once (its lease
    is revoked)."""
    config = os.path.join(C.tmp, "meridian-d.yaml")
    with open(C.config) as f:
        text = f.read()
    with open(config, "w") as f:
        f.write(text + "# a different file: a different digest\n")
    env = dict(os.environ, MERIDIAN_STATE=os.path.join(C.tmp, "state-d"))
    log = open(os.path.join(C.tmp, "meridian-d.log"), "w")
    d = subprocess.Popen([BIN, "serve", "--config", config, "--node", "d", "--no-dns", "--control", "127.0.0.1:18353"],
                         stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        def joined():
            peers = {p["node"]: p for p in C.instances["a"].cluster().get("peers", [])}
            return "d" in peers and peers["d"]["verdicts"] and peers
        peers, _ = wait_until(joined, 15)
        peers = peers or {}
        result(bool(peers) and peers["d"]["serves_dns"] is False and len(peers["d"]["verdicts"]) == 3,
               "a --no-dns prober joins the NS set and votes", str(peers.get("d")))
        vote = next((e for e in C.instances["a"].cluster().get("endpoints", []) if e["endpoint"] == f"{BACKENDS['eu']}/web"), {})
        result(vote.get("probers") == 4 and vote.get("needed") == 3, "four probers: three down votes needed", str(vote))
        status = C.instances["a"].cluster()
        with open(os.path.join(C.tmp, "meridian-a.log")) as f:
            logged = "runs a different configuration" in f.read()
        result(status.get("config_mismatch") == ["d"] and metric("a", "meridian_cluster_config_mismatch") == 1 and logged,
               "its different configuration digest is reported in the status, the metrics and the log",
               f"{status.get('config_mismatch')}, metric {metric('a', 'meridian_cluster_config_mismatch')}, logged {logged}")
        result(C.answers() == {n: [BACKENDS["eu"]] for n in NODES}, "answers unchanged", str(C.answers()))
    finally:
        stop_process(d)
    start = time.monotonic()
    ok, _ = wait_until(lambda: len(C.instances["a"].cluster().get("peers", [])) == 3, 2)
    result(ok, "stopped cleanly: its lease is revoked and it leaves at once (well before the lease TTL)",
           f"{time.monotonic() - start:.2f} s")


def section_backend():
    C.stop_backend("eu")
    times = C.time_until_all([BACKENDS["na"]], DETECT_BOUND + 3)
    result(all(t is not None and t <= DETECT_BOUND for t in times.values()),
           f"eu's backend stopped: all three withdraw it within {DETECT_BOUND:g} s", fmt(times))
    C.start_backend("eu")
    times = C.time_until_all([BACKENDS["eu"]], RESTORE_BOUND + 3)
    result(all(t is not None and t <= RESTORE_BOUND for t in times.values()),
           f"eu's backend back: all three restore it within {RESTORE_BOUND:g} s", fmt(times))


def section_partition():
    C.net.cut("b", BACKENDS["eu"])
    ok, _ = wait_until(lambda: any(e["endpoint"] == f"{BACKENDS['eu']}/web" and e["down_votes"] == 1
                                   for e in C.instances["a"].cluster().get("endpoints", [])), DETECT_BOUND + 3)
    result(ok, "one instance (b) cut from eu: its down vote is seen by the others", str(C.instances["a"].cluster().get("endpoints")))
    changed = []
    end = time.monotonic() + 3
    while time.monotonic() < end:
        for n, a in C.answers().items():
            if a != [BACKENDS["eu"]]:
                changed.append((n, a))
        time.sleep(0.1)
    result(not changed, "with one of three cut, no instance changes its answer (3 s watched)", str(changed[:5]))
    C.net.cut("c", BACKENDS["eu"])
    times = C.time_until_all([BACKENDS["na"]], DETECT_BOUND + 3)
    result(all(t is not None for t in times.values()), "two of three cut: all three withdraw eu", fmt(times))
    C.net.mend("b", BACKENDS["eu"])
    C.net.mend("c", BACKENDS["eu"])
    times = C.time_until_all([BACKENDS["eu"]], RESTORE_BOUND + 3)
    result(all(t is not None for t in times.values()), "paths mended: all three restore eu", fmt(times))


def section_override():
    start = time.monotonic()
    code = C.instances["a"].override("region", "eu", "drain")
    times = C.time_until_all([BACKENDS["na"]], 4, start=start)
    result(code == 200 and all(t is not None and t <= 1.0 for t in times.values()),
           "a drain through a: all three apply it within 1 s", fmt(times))
    for i in C.instances.values():
        i.stop()
    for i in C.instances.values():
        i.start()
    ok = C.settle([BACKENDS["na"]], 20)
    result(ok, "the drain survives a restart of all three", str(C.answers()))
    C.instances["b"].override("region", "eu", "clear")
    result(C.settle(bound=5), "cleared through b: all three answer eu again", str(C.answers()))


def dnsperf(node, seconds, qps):
    qfile = os.path.join(C.tmp, "queries.txt")
    with open(qfile, "w") as f:
        f.write(f"{NAME} A\n")
    return subprocess.Popen(
        ["dnsperf", "-s", node_ip(node), "-p", str(DNS_PORT), "-d", qfile, "-l", str(seconds), "-Q", str(qps), "-t", "2", "-c", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def lost(output):
    m = re.search(r"Queries lost:\s+(\d+)", output)
    sent = re.search(r"Queries sent:\s+(\d+)", output)
    return (int(m.group(1)) if m else None), (int(sent.group(1)) if sent else None)


def section_etcd():
    load = dnsperf("a", 14, 500)
    time.sleep(1)
    leader = C.etcd.leader()
    C.etcd.kill(leader)
    time.sleep(1)
    second = next(name for name, _, _ in ETCD if name != leader)
    C.etcd.kill(second)
    ok, _ = wait_until(lambda: all(i.cluster().get("state") == "degraded" for i in C.instances.values()), 6)
    result(ok, f"etcd leader ({leader}) and a second member ({second}) down: all three report degraded",
           str([i.cluster().get("state") for i in C.instances.values()]))
    result(all(a == [BACKENDS["eu"]] for a in C.answers().values()), "degraded: answers unchanged", str(C.answers()))
    code, body = C.instances["b"].get("/healthz")
    result(code == 200 and body.get("cluster") == "degraded", "/healthz while degraded (within the grace): 200", f"{code} {body}")
    C.etcd.start(leader)
    C.etcd.start(second)
    start = time.monotonic()
    ok, _ = wait_until(lambda: all(i.cluster().get("state") == "connected" for i in C.instances.values()), 20)
    result(ok, "members back: all three return to connected by themselves",
           f"{time.monotonic() - start:.1f} s; {[i.cluster().get('state') for i in C.instances.values()]}")
    out, _ = load.communicate(timeout=30)
    n_lost, n_sent = lost(out)
    result(n_lost == 0 and (n_sent or 0) > 1000, "dnsperf at 500 qps through the etcd failures: 0 lost queries",
           f"sent {n_sent}, lost {n_lost}")


def section_lease():
    C.net.cut("b", BACKENDS["eu"])
    C.net.cut("c", BACKENDS["eu"])
    times = C.time_until_all([BACKENDS["na"]], DETECT_BOUND + 3)
    result(all(t is not None for t in times.values()), "b and c cut from eu: all withdraw it (2 of 3 down)", fmt(times))
    C.instances["c"].stop(signal.SIGKILL)
    start = time.monotonic()
    ok, _ = wait_until(lambda: len(C.instances["a"].cluster().get("peers", [])) == 2, LEASE_TTL + 3)
    gone = time.monotonic() - start
    result(ok, f"kill -9 c: it leaves the peers when its lease expires ({LEASE_TTL} s)", f"{gone:.1f} s")
    ok, _ = wait_until(lambda: all(C.instances[n].answer() == [BACKENDS["eu"]] for n in ("a", "b")), 3)
    vote = next((e for e in C.instances["a"].cluster().get("endpoints", []) if e["endpoint"] == f"{BACKENDS['eu']}/web"), {})
    result(ok and vote.get("probers") == 2 and vote.get("needed") == 2,
           "the quorum is recomputed over the two live instances: 1 of 2 down keeps eu", str(vote))
    C.net.mend("b", BACKENDS["eu"])
    C.net.mend("c", BACKENDS["eu"])
    C.instances["c"].start()
    ok = C.settle(bound=20)
    result(ok, "c back: all three answer eu", str(C.answers()))


def section_fallback():
    C.net.cut("a", BACKENDS["eu"])
    time.sleep(DETECT_BOUND)
    for name, _, _ in ETCD:
        C.etcd.kill(name)
    ok, _ = wait_until(lambda: C.instances["a"].cluster().get("state") == "fallback", GRACE + 4)
    result(ok, f"every etcd member down: past the grace ({GRACE} s) the instances fall back to their own verdicts",
           str(C.instances["a"].cluster().get("state")))
    result(C.instances["a"].answer() == [BACKENDS["na"]] and C.instances["b"].answer() == [BACKENDS["eu"]],
           "fallback: a (cut from eu) withdraws it, b keeps it", str(C.answers()))
    code, _ = C.instances["a"].get("/healthz")
    result(code == 503, "/healthz in fallback: 503", str(code))
    for name, _, _ in ETCD:
        C.etcd.start(name)
    ok, _ = wait_until(lambda: all(i.cluster().get("state") == "connected" for i in C.instances.values()), 30)
    result(ok, "etcd back: all three reconnect and resync", str([i.cluster().get("state") for i in C.instances.values()]))
    result(C.settle(bound=5), "shared again: a's lone down vote no longer withdraws eu", str(C.answers()))
    code, _ = C.instances["a"].get("/healthz")
    result(code == 200, "/healthz: 200 again", str(code))
    C.net.mend("a", BACKENDS["eu"])


def section_tls_auth():
    """One instance on loopback against a one-member etcd that requires client certificates and
    password authentication (etcd 3.4's gateway refuses client certificates with a CommonName, so
    the client certificate has none; the user comes from the password)."""
    tmp = os.path.join(C.tmp, "tls")
    os.makedirs(tmp)

    def openssl(*args):
        sh("openssl", *args)

    def path(name):
        return os.path.join(tmp, name)

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path("ca.key"),
            "-out", path("ca.pem"), "-days", "2", "-subj", "/CN=meridian-test-ca")
    for name, subject, ext in (("server", "/CN=etcd", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"),
                               ("client", "/O=meridian", "extendedKeyUsage=clientAuth\n")):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path(f"{name}.key"),
                "-out", path(f"{name}.csr"), "-subj", subject)
        with open(path(f"{name}.ext"), "w") as f:
            f.write(ext)
        openssl("x509", "-req", "-in", path(f"{name}.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
                "-out", path(f"{name}.pem"), "-days", "2", "-extfile", path(f"{name}.ext"))
    url = "https://127.0.0.1:23794"
    log = open(path("etcd.log"), "w")
    etcd = subprocess.Popen(
        ["etcd", "--name", "t", "--data-dir", path("data"), "--listen-client-urls", url, "--advertise-client-urls", url,
         "--listen-peer-urls", "http://127.0.0.1:23804", "--initial-advertise-peer-urls", "http://127.0.0.1:23804",
         "--initial-cluster", "t=http://127.0.0.1:23804", "--cert-file", path("server.pem"), "--key-file", path("server.key"),
         "--client-cert-auth", "--trusted-ca-file", path("ca.pem"), "--logger", "zap", "--log-level", "warn"],
        stdout=log, stderr=subprocess.STDOUT)
    instances = []
    try:
        ctl = ["etcdctl", "--endpoints", url, "--cacert", path("ca.pem"), "--cert", path("client.pem"), "--key", path("client.key")]
        ok, _ = wait_until(lambda: subprocess.run(ctl + ["endpoint", "health"], capture_output=True).returncode == 0, 15)
        for args in (["user", "add", "root:rootpw"], ["user", "add", "meridian:s3cret"], ["role", "add", "meridian-rw"],
                     ["role", "grant-permission", "meridian-rw", "readwrite", "/meridian/tls", "--prefix=true"],
                     ["user", "grant-role", "meridian", "meridian-rw"], ["auth", "enable"]):
            sh(*(ctl + args))
        with open(path("zone"), "w") as f:
            f.write(ZONE)
        config = path("meridian.yaml")
        with open(config, "w") as f:
            f.write(f"""zones: [{{ origin: {ORIGIN}, file: zone }}]
state_dir: ${{MERIDIAN_STATE}}
checks:
  web: {{ type: tcp, port: 9, interval: 1s, timeout: 500ms }}
services:
  {NAME}:
    policy: failover
    pools:
      one: {{ addresses: [127.0.3.1], check: web }}
cluster:
  etcd: [{url}]
  prefix: /meridian/tls
  tls: {{ ca: ca.pem, cert: client.pem, key: client.key }}
  user: meridian
  password: ${{ETCD_PASSWORD}}
""")

        def start(password, port):
            env = dict(os.environ, MERIDIAN_STATE=path(f"state-{port}"), ETCD_PASSWORD=password)
            p = subprocess.Popen([BIN, "serve", "--config", config, "--node", f"t{port}", "--listen", f"127.0.0.1:{port}",
                                  "--control", f"127.0.0.1:{port + 1}"], stdout=open(path(f"m{port}.log"), "w"),
                                 stderr=subprocess.STDOUT, env=env)
            instances.append(p)
            return port + 1

        def cluster_of(control):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{control}/v1/status", timeout=2) as r:
                    return json.load(r).get("cluster", {})
            except Exception:  # noqa: BLE001 - not up yet
                return {}
        good = start("s3cret", 25353)
        state, _ = wait_until(lambda: cluster_of(good).get("state") == "connected" and cluster_of(good), 15)
        result(bool(state) and state.get("peers", [{}])[0].get("verdicts", {}).get("127.0.3.1/web") == "down",
               "etcd with client certificates and authentication: in session, its verdict written", str(state))
        bad = start("wrong", 25363)
        state, _ = wait_until(lambda: "authentication failed" in cluster_of(bad).get("last_error", "") and cluster_of(bad), 15)
        result(bool(state) and state.get("state") != "connected", "a wrong password: not in session, and the status says why",
               str(state.get("last_error") if state else None))
    finally:
        for p in instances:
            stop_process(p)
        stop_process(etcd)


def main():
    global BIN, C
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    BIN = os.path.abspath(sys.argv[1])
    try:
        C = Cluster()
        run_sections(tally, [
            ("steady", section_steady),
            ("prober", section_prober),
            ("backend", section_backend),
            ("partition", section_partition),
            ("override", section_override),
            ("etcd", section_etcd),
            ("lease", section_lease),
            ("fallback", section_fallback),
            ("tls-auth", section_tls_auth),
        ], only=tuple(os.environ.get("ONLY", "").split(",")) if os.environ.get("ONLY") else ())
        if tally.failed:
            print(C.logs())
    except Exception as e:  # noqa: BLE001 - set-up failed: report it as a failure
        result(False, "the NS set was set up", repr(e))
    finally:
        if C:
            C.close()
    print(f"{tally.passed} passed, {tally.failed} failed, 0 skipped")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
