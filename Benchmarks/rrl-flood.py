#!/usr/bin/env python3
"""A reflection flood against Meridian and Knot, each with and without response rate limiting
(make bench-rrl). Prints, per server: the responses and octets that went back to the flooded
network, the amplification (octets back / octets sent), and the server's CPU per incoming query.

Usage: Benchmarks/rrl-flood.py BIN [--qps 20000] [--seconds 10]

Every server gets one UDP thread and the same zone; the flood is `dnsperf -Q QPS` (a fixed rate; it
does not wait for answers beyond its 1 s timeout) from 127.0.9.1 for a ~1 KB TXT answer, RRL at
`rate 100, slip 2` per /24 (Meridian `rrl:`, Knot `mod-rrl`). CPU per query is the server's user +
system time (from /proc) over the queries sent. Loopback only, bounded in time; every process
started is stopped by PID. Outputs are printed, not kept.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "pylib"))
from meridian_testlib import free_port, stop_process, wait_answering  # noqa: E402

ORIGIN = "flood.test."
BIG_TXT = " ".join(['"' + chr(ord("a") + i) * 200 + '"' for i in range(5)])
ZONE = f"""$ORIGIN {ORIGIN}
$TTL 300
@ IN SOA ns.{ORIGIN} admin.{ORIGIN} 1 3600 600 86400 60
@ IN NS ns
ns IN A 127.0.0.1
big IN TXT {BIG_TXT}
"""


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def meridian(bin_path, tmp, port, rrl):
    with open(os.path.join(tmp, "meridian.yaml"), "w") as f:
        f.write(f'listen: ["127.0.0.1:{port}"]\nzones:\n  - origin: {ORIGIN}\n    file: {tmp}/zone.db\n'
                f"server: {{ workers: 1 }}\ncontrol: {{ listen: ~, socket: ~ }}\nstate_dir: {tmp}/state\n"
                + ("rrl: { rate: 100, slip: 2 }\n" if rrl else ""))
    return subprocess.Popen([bin_path, "serve", "--config", os.path.join(tmp, "meridian.yaml")],
                            stdout=open(os.path.join(tmp, "meridian.log"), "w"), stderr=subprocess.STDOUT)


def knot(tmp, port, rrl):
    module = "mod-rrl:\n  - id: flood\n    rate-limit: 100\n    slip: 2\n" if rrl else ""
    template = "template:\n  - id: default\n    global-module: mod-rrl/flood\n" if rrl else ""
    with open(os.path.join(tmp, "knot.conf"), "w") as f:
        f.write(f"server:\n    listen: 127.0.0.1@{port}\n    rundir: {tmp}\n    user: root:root\n    udp-workers: 1\n"
                f"    tcp-workers: 1\n    background-workers: 1\nlog:\n  - target: stderr\n    any: error\n"
                f"database:\n    storage: {tmp}\n{module}{template}zone:\n  - domain: {ORIGIN}\n    file: {tmp}/zone.db\n")
    return subprocess.Popen(["knotd", "-c", os.path.join(tmp, "knot.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def flood(port, qps, seconds, tmp):
    with open(os.path.join(tmp, "queries"), "w") as f:
        f.write(f"big.{ORIGIN} TXT\n")
    out = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-a", "127.0.9.1", "-d", os.path.join(tmp, "queries"),
                          "-Q", str(qps), "-l", str(seconds), "-c", "4", "-q", "60000", "-t", "1", "-e"],
                         capture_output=True, text=True, timeout=seconds + 30).stdout

    def number(pattern):
        m = re.search(pattern, out)
        return float(m.group(1)) if m else 0.0
    return {"sent": number(r"Queries sent:\s+(\d+)"), "completed": number(r"Queries completed:\s+(\d+)"),
            "request": number(r"Average packet size:\s+request (\d+)"), "response": number(r"Average packet size:\s+request \d+, response (\d+)"),
            "raw": out}


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    bin_path = os.path.abspath(sys.argv[1])
    qps = int(sys.argv[sys.argv.index("--qps") + 1]) if "--qps" in sys.argv else 20000
    seconds = int(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 10
    print(f"flood: dnsperf -Q {qps} for {seconds} s from 127.0.9.1, big.{ORIGIN} TXT (EDNS), one UDP thread per server")
    for name, start, rrl in (("meridian rrl", meridian, True), ("meridian no-rrl", meridian, False),
                             ("knot rrl", None, True), ("knot no-rrl", None, False)):
        if start is None and shutil.which("knotd") is None:
            print(f"{name}: knotd not installed")
            continue
        tmp = tempfile.mkdtemp(prefix="meridian-rrl-flood.")
        with open(os.path.join(tmp, "zone.db"), "w") as f:
            f.write(ZONE)
        port = free_port("127.0.0.1")
        proc = start(bin_path, tmp, port, rrl) if start else knot(tmp, port, rrl)
        try:
            if not wait_answering(proc, port, ORIGIN, bound=30):
                print(f"{name}: did not start")
                continue
            time.sleep(0.5)
            before = cpu_seconds(proc.pid)
            r = flood(port, qps, seconds, tmp)
            cpu = cpu_seconds(proc.pid) - before
            back = r["completed"] * r["response"]
            sent = r["sent"] * r["request"]
            print(f"{name}: {r['sent']:.0f} queries sent, {r['completed']:.0f} responses back "
                  f"({100 * r['completed'] / max(1, r['sent']):.1f} %), {back / 1e6:.2f} MB back for {sent / 1e6:.2f} MB sent: "
                  f"amplification {back / max(1, sent):.2f}x; server CPU {cpu:.2f} s = {1e6 * cpu / max(1, r['sent']):.2f} us per query")
        finally:
            stop_process(proc)
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
