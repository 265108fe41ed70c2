"""Shared helpers for the GSLB integration tests in Tests/gslb/ (python3 + dnspython + maxminddb).

Nothing here uses Meridian's code: the expectations are computed from the databases with the
`maxminddb` reader (and, for tor_geoip.py, Debian's tor-geoipdb text files). Only the binary is ours.
"""
import atexit
import ipaddress
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from meridian_testlib import free_port, geolite2_path  # noqa: E402,F401 (geolite2_path: g.geolite2_path in the tests)

ORIGIN = "gslb.test."
SERVICE = "geo.gslb.test."

# region -> (A, AAAA) the config's pools answer; "default" = the zone's static records
POOLS = {
    "eu": ("192.0.2.1", "2001:db8:1::1"),
    "na": ("192.0.2.2", "2001:db8:2::1"),
    "ap": ("192.0.2.3", "2001:db8:3::1"),
    "default": ("192.0.2.100", "2001:db8:100::1"),
}
REGION_OF_ADDRESS = {}
for _r, (_a, _aaaa) in POOLS.items():
    REGION_OF_ADDRESS[_a] = _r
    REGION_OF_ADDRESS[_aaaa] = _r

ZONE = """$ORIGIN gslb.test.
$TTL 3600
@        3600 IN SOA ns1.gslb.test. hostmaster.gslb.test. 2024010101 3600 900 604800 300
@             IN NS    ns1
ns1           IN A     127.0.0.1
geo        30 IN A     192.0.2.100
geo        30 IN AAAA  2001:db8:100::1
"""

POOLS_YAML = """    pools:
      eu: { addresses: [192.0.2.1, "2001:db8:1::1"] }
      na: { addresses: [192.0.2.2, "2001:db8:2::1"] }
      ap: { addresses: [192.0.2.3, "2001:db8:3::1"] }
"""


def write_config(tmp, geo_db, service_yaml):
    zone = os.path.join(tmp, "gslb.test.zone")
    with open(zone, "w") as f:
        f.write(ZONE)
    cfg = os.path.join(tmp, "meridian.yaml")
    with open(cfg, "w") as f:
        f.write(f"""listen: ["127.0.0.1:5353"]
zones:
  - origin: {ORIGIN}
    file: {zone}
geo:
  database: {geo_db}
state_dir: {tmp}/state
regions:
  eu: {{ location: [50.11, 8.68] }}
  na: {{ location: [39.04, -77.49] }}
  ap: {{ location: [1.35, 103.82] }}
services:
  {SERVICE}:
{service_yaml}{POOLS_YAML}""")
    return cfg


class Server:
    """`BIN serve` on a free loopback port; stopped by PID at exit, on signals and on errors."""

    def __init__(self, binary, config, tmp, startup_timeout=90):
        self.port = free_port()
        self.log_path = os.path.join(tmp, "server.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary, "serve", "--config", config, "--listen", f"127.0.0.1:{self.port}",
                                      "--workers", "1"],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        atexit.register(self.stop)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, lambda *_: sys.exit(3))
        deadline = time.monotonic() + startup_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} before answering:\n{self.tail()}")
            try:
                r = self.query(dns.message.make_query(ORIGIN, "SOA"), timeout=0.5, tries=1)
                if r.rcode() == dns.rcode.NOERROR:
                    return
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer within {startup_timeout}s:\n{self.tail()}")
            time.sleep(0.2)

    def tail(self):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-20:])
        except OSError:
            return ""

    def query(self, msg, timeout=2.0, tries=3):
        last = None
        for _ in range(tries):
            try:
                return dns.query.udp(msg, "127.0.0.1", port=self.port, timeout=timeout)
            except dns.exception.Timeout as e:
                last = e
        raise last

    def stop(self):
        p = getattr(self, "proc", None)
        if p is None or p.poll() is not None:
            return
        p.terminate()  # by PID (Popen.terminate -> kill(pid, SIGTERM))
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def ecs_query(name, rdtype, network):
    """`network` is an ip_network; the query carries ECS ADDRESS/SOURCE = network."""
    opt = dns.edns.ECSOption(str(network.network_address), network.prefixlen, 0)
    return dns.message.make_query(name, rdtype, use_edns=0, payload=1232, options=[opt])


def response_ecs(r):
    for o in r.options:
        if isinstance(o, dns.edns.ECSOption):
            return o
    return None


def answer_region(r, rdtype):
    """(region, ttls, addresses) of the answer for the service, or (None, ..) when it is not one pool."""
    addrs, ttls = [], set()
    for rrset in r.answer:
        if rrset.name != dns.name.from_text(SERVICE) or rrset.rdtype != dns.rdatatype.from_text(rdtype):
            return None, ttls, [f"unexpected {rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}"]
        ttls.add(rrset.ttl)
        addrs += [rd.address for rd in rrset]
    regions = {REGION_OF_ADDRESS.get(a) for a in addrs}
    if len(regions) != 1 or None in regions:
        return None, ttls, addrs
    region = regions.pop()
    want = POOLS[region][0 if rdtype == "A" else 1]
    return (region if addrs == [want] else None), ttls, addrs


def block_probes(block, rng, n=20):
    """First, last and n random addresses of `block`."""
    first = int(block.network_address)
    last = int(block.broadcast_address)
    out = [first, last] + [rng.randint(first, last) for _ in range(n)]
    cls = ipaddress.IPv4Address if block.version == 4 else ipaddress.IPv6Address
    return [cls(x) for x in out]


def watchdog(seconds):
    """Abort the whole test (and stop the server via atexit) after `seconds`."""
    def fire(*_):
        print(f"FAIL: time limit of {seconds}s exceeded", flush=True)
        sys.exit(1)
    signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)


def make_tmp(prefix):
    tmp = tempfile.mkdtemp(prefix=prefix)
    import shutil
    atexit.register(shutil.rmtree, tmp, True)
    return tmp
