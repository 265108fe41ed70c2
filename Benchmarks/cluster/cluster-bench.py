#!/usr/bin/env python3
"""Figures of an NS set on etcd (`make bench-cluster`, as root; outside CI): three instances in
network namespaces on a three-member etcd cluster, set up by Tests/cluster/cluster_test.py's
machinery.

  1. failover: time from a backend's failure (its process stopped) to the last of the three
     instances answering without it, and back, over TRIALS trials: p50 and p99 (the bound is
     fall x interval + timeout + 1 s = 3.5 s with the test's checks);
  2. etcd writes with 5,000 endpoints on 3 instances probed every second: the store revisions
     (one per write transaction or put) while the set starts, and per second in a steady minute
     (transitions only: none; the lease renewals are not writes to the key space);
  3. UDP qps of one instance with the cluster on and, in the same run, of the same instance
     standalone (dnsperf, one name, 10 s each): their ratio.

Usage: Benchmarks/cluster/cluster-bench.py BIN [TRIALS]
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Tests", "cluster"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Tests", "pylib"))
import cluster_test as ct  # noqa: E402
from meridian_testlib import stop_process, wait_until  # noqa: E402


def percentile(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def etcd_count(prefix):
    """Keys under `prefix` (count only), or None."""
    import base64
    key = base64.b64encode(prefix.encode()).decode()
    end = base64.b64encode(prefix[:-1].encode() + bytes([ord(prefix[-1]) + 1])).decode()
    for _, client, _ in ct.ETCD:
        try:
            req = urllib.request.Request(f"http://{ct.ETCD_HOST}:{client}/v3/kv/range", method="POST",
                                         data=json.dumps({"key": key, "range_end": end, "count_only": True}).encode())
            with urllib.request.urlopen(req, timeout=2) as r:
                return int(json.load(r).get("count", 0))
        except Exception:  # noqa: BLE001 - try the next member
            continue
    return None


def etcd_revision():
    for name, client, _ in ct.ETCD:
        try:
            req = urllib.request.Request(f"http://{ct.ETCD_HOST}:{client}/v3/kv/range", data=b'{"key":"AA=="}', method="POST")
            with urllib.request.urlopen(req, timeout=2) as r:
                return int(json.load(r)["header"]["revision"])
        except Exception:  # noqa: BLE001 - try the next member
            continue
    return None


def failover(trials):
    c = ct.Cluster()
    ct.C = c
    down, up = [], []
    try:
        for _ in range(trials):
            start = time.monotonic()
            c.stop_backend("eu")
            times = c.time_until_all([ct.BACKENDS["na"]], 10, start=start)
            if all(t is not None for t in times.values()):
                down.append(max(times.values()))
            start = time.monotonic()
            c.start_backend("eu")
            times = c.time_until_all([ct.BACKENDS["eu"]], 10, start=start)
            if all(t is not None for t in times.values()):
                up.append(max(times.values()))
            time.sleep(0.5)
        print(f"failover, {trials} trials: backend stopped -> last instance answers without it: "
              f"p50 {percentile(down, 50):.2f} s, p99 {percentile(down, 99):.2f} s, max {max(down):.2f} s ({len(down)} measured)")
        print(f"failover, {trials} trials: backend back -> last instance answers with it: "
              f"p50 {percentile(up, 50):.2f} s, p99 {percentile(up, 99):.2f} s, max {max(up):.2f} s ({len(up)} measured)")
        qps_on = dnsperf_qps("a")
    finally:
        c.close()
    return qps_on


def dnsperf_qps(node, host=None):
    qfile = "/tmp/meridian-cluster-bench-queries.txt"
    with open(qfile, "w") as f:
        f.write(f"{ct.NAME} A\n")
    out = subprocess.run(
        ["dnsperf", "-s", host or ct.node_ip(node), "-p", str(ct.DNS_PORT), "-d", qfile, "-l", "10", "-c", "4", "-T", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    m = re.search(r"Queries per second:\s+([0-9.]+)", out)
    return float(m.group(1)) if m else 0.0


def standalone_qps():
    """The same instance with the cluster section removed, in namespace mcl-a."""
    net = ct.Network()
    tmp = tempfile.mkdtemp(prefix="meridian-standalone-")
    try:
        with open(os.path.join(tmp, "zone"), "w") as f:
            f.write(ct.ZONE)
        config = os.path.join(tmp, "meridian.yaml")
        with open(config, "w") as f:
            f.write(ct.CONFIG.split("cluster:")[0])
        inst = ct.Instance("a", tmp, config)
        inst.start(standalone=True)
        wait_until(lambda: inst.answer() is not None, 10)
        qps = dnsperf_qps("a")
        inst.stop()
        return qps
    finally:
        net.close()
        shutil.rmtree(tmp, ignore_errors=True)


def writes(endpoints=5000):
    """A config with `endpoints` tcp-checked addresses (127.1.0.0/16 inside each namespace: refused,
    so steady down), 50 services of 2 regions."""
    per_region = endpoints // 100
    services = ""
    n = 0
    for s in range(50):
        services += f"  s{s}.{ct.ORIGIN}:\n    policy: failover\n    order: [r1, r2]\n    pools:\n"
        for r in ("r1", "r2"):
            addresses = []
            for _ in range(per_region):
                addresses.append(f"127.1.{n // 250}.{n % 250 + 1}")
                n += 1
            services += f"      {r}: {{ addresses: [{', '.join(addresses)}], check: port }}\n"
    # 15,000 probes a second share the machine with etcd here: etcd calls get 5 s, not the tests' 1 s
    config = ct.CONFIG.replace("timeout: 1s\n", "timeout: 5s\n").replace("services:\n", "services:\n" + services, 1).replace(
        "checks:\n", "checks:\n  port: { type: tcp, port: 9, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }\n", 1)
    c = None
    try:
        c = ct.Cluster(config=config, settle=False)
        print("the set is up; waiting for every verdict in etcd", flush=True)
        ok, _ = wait_until(lambda: (etcd_count("/meridian/test/verdicts/") or 0) >= 3 * (n + 3), 60, step=0.5)
        after_start = etcd_revision()
        print(f"all verdicts in etcd: {ok}, revision {after_start}; a steady minute follows", flush=True)
        time.sleep(5)
        before = etcd_revision()
        time.sleep(60)
        after = etcd_revision()
        print(f"etcd writes, {n + 3} endpoints on 3 instances at 1 s: {after_start} revisions to start the set "
              f"(members, verdicts in transactions of 128, all synced: {ok}); steady: {(after - before) / 60:.2f} writes/s over 60 s")
    finally:
        if c:
            c.close()


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    ct.BIN = os.path.abspath(sys.argv[1])
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    qps_on = failover(trials)
    qps_off = standalone_qps()
    print(f"UDP qps of one instance (dnsperf, 10 s): cluster on {qps_on:.0f}, standalone {qps_off:.0f}, ratio {qps_on / qps_off:.2f}")
    writes()
    return 0


if __name__ == "__main__":
    sys.exit(main())
