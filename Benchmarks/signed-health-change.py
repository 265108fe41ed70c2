#!/usr/bin/env python3
"""Time from a health change to the new answer being served signed, for 1 and for 1,000 services.

  Benchmarks/signed-health-change.py [--counts 1,1000] [--rounds 10] [--binary BIN]

One Meridian serves a zone with N failover services s0..s(N-1).gslb.test. (order na, eu). Every
service's na address, 192.0.2.1, is checked by one `push` check they share; eu's 192.0.2.2 has no
check. Each round pushes that check down (then up again, alternately) through the control API and
polls, with DO=1 over UDP, the last service s(N-1) until it answers the other region's address with
an RRSIG: the time from just before the push to that answer is one sample (the push's own HTTP round
trip included). After the rounds, the answer's signature is checked once with drill -S, anchored at
the zone's DNSKEY. The same runs with the zone unsigned, for comparison. Prints every sample and the
median per N. Every wait is bounded; the server is stopped by its PID.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import dns.flags
import dns.message
import dns.query
import dns.rdatatype

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ZONE = """$TTL 300
@    IN SOA ns1 hostmaster 1 3600 900 604800 300
@    IN NS  ns1
ns1  IN A   127.0.0.1
"""

SERVICE = """  s{i}.gslb.test.:
    policy: failover
    ttl: 30
    order: [na, eu]
    pools:
      na: {{ addresses: [192.0.2.1], check: ext }}
      eu: {{ addresses: [192.0.2.2] }}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answer(port, name):
    """The A addresses of `name` and whether they came with an RRSIG (DO=1, UDP)."""
    q = dns.message.make_query(name, "A", want_dnssec=True)
    q.flags &= ~dns.flags.RD
    r = dns.query.udp(q, "127.0.0.1", port=port, timeout=1)
    addresses = [rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A for rd in rrset]
    return addresses, any(rrset.rdtype == dns.rdatatype.RRSIG for rrset in r.answer)


def push(cport, state):
    body = json.dumps({"address": "192.0.2.1", "check": "ext", "state": state, "reason": "bench"}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{cport}/v1/push", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as r:
        r.read()


def wait(predicate, bound):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.0005)
    return False


def run(binary, n, rounds, signed, work):
    port, cport = free_port(), free_port()
    with open(os.path.join(work, "zone"), "w") as f:
        f.write(ZONE)
    with open(os.path.join(work, "m.yaml"), "w") as f:
        f.write(f'listen: ["127.0.0.1:{port}"]\nzones:\n  - origin: gslb.test.\n    file: zone\n'
                + ("    dnssec: { }\n" if signed else "")
                + f'state_dir: state\ncontrol: {{ listen: "127.0.0.1:{cport}" }}\nchecks:\n  ext: {{ type: push, rise: 1, fall: 1 }}\n'
                + "regions:\n  na: { location: [39.04, -77.49] }\n  eu: { location: [50.11, 8.68] }\nservices:\n"
                + "".join(SERVICE.format(i=i) for i in range(n)))
    shutil.rmtree(os.path.join(work, "state"), ignore_errors=True)
    started = time.monotonic()
    server = subprocess.Popen([binary, "serve", "--config", "m.yaml"], cwd=work, stdout=open(os.path.join(work, "log"), "w"),
                              stderr=subprocess.STDOUT)
    last = f"s{n - 1}.gslb.test."
    try:
        def serving():
            try:
                return bool(answer(port, last)[0])
            except Exception:
                return False
        if not wait(serving, 300):
            sys.exit(f"the server did not answer within 300 s: {open(os.path.join(work, 'log')).read()[-500:]}")
        ready = time.monotonic() - started
        push(cport, "up")
        if not wait(lambda: answer(port, last)[0] == ["192.0.2.1"], 10):
            sys.exit("the pushed up state did not take")
        samples = []
        for k in range(rounds):
            state, expected = ("down", "192.0.2.2") if k % 2 == 0 else ("up", "192.0.2.1")
            t0 = time.monotonic()
            push(cport, state)
            if not wait(lambda: answer(port, last) == ([expected], signed), 10):
                sys.exit(f"round {k}: {last} did not move to {expected} within 10 s")
            samples.append((time.monotonic() - t0) * 1000)
        verified = None
        if signed:
            anchor = os.path.join(work, "anchor.key")
            keys = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+short", "gslb.test", "DNSKEY"], capture_output=True,
                                  text=True, timeout=10).stdout.splitlines()
            with open(anchor, "w") as f:
                f.writelines(f"gslb.test. 3600 IN DNSKEY {k}\n" for k in keys if k)
            r = subprocess.run(["drill", "-S", "-k", anchor, "-p", str(port), "@127.0.0.1", last, "A"], capture_output=True,
                               text=True, timeout=30)
            verified = "Chase successful" in r.stdout
        return ready, samples, verified
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", default="1,1000")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/meridian"))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="meridian-healthchange-")
    try:
        for n in [int(x) for x in args.counts.split(",")]:
            for signed in (True, False):
                ready, samples, verified = run(os.path.abspath(args.binary), n, args.rounds, signed, work)
                print(f"{n} services, {'signed' if signed else 'unsigned'} zone (ready after {ready:.2f} s): health change -> new answer"
                      f"{' with its RRSIG' if signed else ''}: median {statistics.median(samples):.1f} ms, max {max(samples):.1f} ms "
                      f"over {len(samples)} changes ({', '.join(f'{s:.1f}' for s in samples)})"
                      + (f"; drill -S chases it: {'yes' if verified else 'NO'}" if signed else ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
