#!/usr/bin/env python3
"""Defence on the open internet, against the real binary: response rate limiting, DNS cookies,
TCP limits and the control API's allow list.

Usage: Tests/defence/defence_test.py BIN GEOLITE2_CITY_MMDB

Sections (each starts its own `BIN serve` on free loopback ports, config in a temp dir):
  - reflection: from 50 sources inside 127.0.9.0/24, 20,000 queries for a ~1 KB TXT answer in 2 s,
    sent without waiting for answers; the bytes that come back to that /24 stay within what `rate`,
    `slip` and the number of workers allow, and the amplification factor is printed with RRL on and
    off (a second server without `rrl:`); meanwhile a client in 127.0.11.0/24 gets every answer, a
    client inside the limited /24 that retries over TCP on TC (as resolvers and dig do) gets every
    answer, dig +tries gets its answers too, and a client presenting a valid server cookie is never
    limited; the metrics count what was limited, slipped and dropped, and the log says when the
    network started being limited
  - dry-run: the same flood with `dry_run: true` is answered in full and counted
  - cookies: dig +cookie and kdig +cookie round trips (client cookie -> server cookie -> sent back
    and echoed), a second instance sharing the secret accepts the first one's cookie, malformed
    COOKIE options get FORMERR, a query without a question learns a cookie (RFC 7873 §5.4), and with
    no secret configured the state directory's secret survives a restart
  - knot-cookies: knotd with mod-cookies and the same secret: a cookie Knot made is valid at
    Meridian and one Meridian made is valid at Knot (RFC 9018 interoperability)
  - resolver: Unbound with ECS, sending from 127.0.10.1 (not exempt), resolves 1,000 distinct client
    /24s at 200 qps through Meridian with RRL on: 0 SERVFAIL; prints what Meridian limited
  - tcp: tcp_max_queries_per_connection closes a connection after that many answers (all of them
    delivered), kdig +keepalive learns the idle timeout (RFC 7828)
  - control-allow: control.allow refuses a connection from an address outside it

Prints PASS:/FAIL: lines and "N passed, M failed, 0 skipped"; exits 1 on any failure. Loopback
only; every load is bounded in count and time; every process started is stopped by PID.
"""
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from meridian_testlib import Tally, free_port, run_sections, stop_process, wait_answering, wait_for  # noqa: E402

tally = Tally(detail_on_pass=True)
result = tally.result
BIN = ""
GEO = ""
ORIGIN = "defence.test."
SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
WORKERS = 2
RATE = 100
SLIP = 2
# 5 strings of 200 octets: a TXT answer of about 1 KB, under the default 1232-octet UDP size
BIG_TXT = " ".join(['"' + chr(ord("a") + i) * 200 + '"' for i in range(5)])


def zone_text():
    return f"""$ORIGIN {ORIGIN}
$TTL 300
@ IN SOA ns.{ORIGIN} admin.{ORIGIN} 1 3600 600 86400 60
@ IN NS ns
ns IN A 127.0.0.1
www IN A 192.0.2.10
big IN TXT {BIG_TXT}
"""


class Server:
    """`BIN serve` with the test zone, a geo service, and the extra YAML `extra`."""

    def __init__(self, extra="", control=True, name="m", state_dir=None, port=None, server="", control_extra=""):
        self.tmp = tempfile.mkdtemp(prefix="meridian-defence.")
        self.port = port or free_port("127.0.0.1")
        self.control_port = free_port("127.0.0.1") if control else None
        self.state_dir = state_dir or os.path.join(self.tmp, "state")
        with open(os.path.join(self.tmp, "zone.db"), "w") as f:
            f.write(zone_text())
        control_yaml = (f"control: {{ listen: 127.0.0.1:{self.control_port}, socket: ~{control_extra} }}\n" if control
                        else "control: { listen: ~, socket: ~ }\n")
        with open(os.path.join(self.tmp, "meridian.yaml"), "w") as f:
            f.write(f'listen: ["127.0.0.1:{self.port}"]\n'
                    f"zones:\n  - origin: {ORIGIN}\n    file: zone.db\n"
                    f"server: {{ workers: {WORKERS}{server} }}\n"
                    f"geo: {{ database: {GEO} }}\n"
                    "regions: { eu: {}, na: {}, ap: {} }\n"
                    "services:\n"
                    f"  geo.{ORIGIN}:\n    policy: geo\n    ttl: 30\n"
                    "    map: { continent: { EU: eu, AF: eu, NA: na, SA: na, AS: ap, OC: ap }, default: [na] }\n"
                    "    pools:\n      eu: { addresses: [192.0.2.1] }\n      na: { addresses: [192.0.2.2] }\n"
                    "      ap: { addresses: [192.0.2.3] }\n"
                    f"state_dir: {self.state_dir}\n" + control_yaml + extra)
        self.log_path = os.path.join(self.tmp, name + ".log")
        self.proc = None
        self.start()

    def start(self):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([BIN, "serve", "--config", os.path.join(self.tmp, "meridian.yaml")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_answering(self.proc, self.port, ORIGIN, bound=30):
            raise RuntimeError("meridian did not start: " + self.log_text()[-2000:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            stop_process(self.proc)
        self.log.close()

    def close(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def metric(self, name):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.control_port}/metrics", timeout=5).read().decode()
        total = 0
        for line in text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total += float(line.rsplit(" ", 1)[1])
        return total


def query_wire(name, rdtype="TXT", qid=0, cookie=None, payload=4096):
    options = [dns.edns.GenericOption(dns.edns.COOKIE, cookie)] if cookie is not None else []
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=payload, options=options)
    q.id = qid
    q.flags = 0
    return q.to_wire()


def raw_opt(cookie):
    """An OPT record (UDP size 4096) with one COOKIE option of any length, by hand (dnspython
    refuses malformed cookies)."""
    option = (10).to_bytes(2, "big") + len(cookie).to_bytes(2, "big") + cookie
    return b"\x00" + (41).to_bytes(2, "big") + (4096).to_bytes(2, "big") + b"\x00\x00\x00\x00" + len(option).to_bytes(2, "big") + option


def raw_query(name, cookie):
    """A query for `name` A with an OPT carrying a COOKIE of any length."""
    header = bytes([0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])
    return header + dns.name.from_text(name).to_wire() + (1).to_bytes(2, "big") + (1).to_bytes(2, "big") + raw_opt(cookie)


def raw_udp(port, wire, timeout=2):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    try:
        sock.sendto(wire, ("127.0.0.1", port))
        return sock.recv(65535)
    except socket.timeout:
        return None
    finally:
        sock.close()


def cookie_of(msg):
    for o in msg.options:
        if o.otype == dns.edns.COOKIE:
            return o.to_wire() if hasattr(o, "to_wire") else o.data
    return None


def flood(port, sources, count, seconds, name="big." + ORIGIN, qtype="TXT"):
    """Sends `count` queries from the `sources` addresses round-robin, paced evenly over `seconds`,
    without waiting for answers; returns (bytes sent, bytes received, responses, truncated) for those
    sources, receiving until 1 s after the last send."""
    socks = []
    for src in sources:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((src, 0))
        s.setblocking(False)
        socks.append(s)
    wire = bytearray(query_wire(name, qtype))
    sent_bytes = recv_bytes = responses = truncated = 0
    start = time.monotonic()
    i = 0

    def receive(wait):
        nonlocal recv_bytes, responses, truncated
        ready, _, _ = select.select(socks, [], [], wait)
        for s in ready:
            while True:
                try:
                    data = s.recv(65535)
                except BlockingIOError:
                    break
                recv_bytes += len(data)
                responses += 1
                if len(data) > 3 and data[2] & 0x02:
                    truncated += 1

    while i < count:
        due = start + seconds * i / count
        now = time.monotonic()
        if now < due:
            receive(min(due - now, 0.01))
            continue
        wire[0] = (i >> 8) & 0xFF
        wire[1] = i & 0xFF
        try:
            sent_bytes += socks[i % len(socks)].sendto(bytes(wire), ("127.0.0.1", port))
        except BlockingIOError:
            pass
        i += 1
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        receive(0.05)
    for s in socks:
        s.close()
    return sent_bytes, recv_bytes, responses, truncated, time.monotonic() - start - 1.0


def resolve_retrying(port, name, rdtype, source, tries=20, timeout=0.3, cookie=None):
    """A client as resolvers behave: UDP, on TC retry over TCP, on silence retry; returns
    (answer message or None, UDP tries, went to TCP)."""
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232,
                               options=[dns.edns.GenericOption(dns.edns.COOKIE, cookie)] if cookie else [])
    for attempt in range(1, tries + 1):
        try:
            r = dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout, source=source, ignore_trailing=True)
        except dns.exception.Timeout:
            continue
        if r.flags & dns.flags.TC:
            return dns.query.tcp(q, "127.0.0.1", port=port, timeout=2, source=source), attempt, True
        return r, attempt, False
    return None, tries, False


def section_reflection():
    on = Server(extra=f"rrl: {{ rate: {RATE}, slip: {SLIP}, exempt: [127.0.0.1/32] }}\n"
                      f"cookies: {{ secret: {SECRET} }}\n")
    off = Server(extra=f"cookies: {{ secret: {SECRET} }}\n", name="off")
    try:
        big = dns.query.udp(dns.message.make_query("big." + ORIGIN, "TXT", use_edns=0, payload=4096), "127.0.0.1", port=on.port, timeout=2)
        big_size = len(big.to_wire())
        query_size = len(query_wire("big." + ORIGIN))
        result(not (big.flags & dns.flags.TC) and big_size > 1000, "the large answer fits one UDP response", f"{big_size} octets")

        sources = [f"127.0.9.{i}" for i in range(1, 51)]
        # RRL off: the amplification an unprotected server gives
        s_off, r_off, n_off, _, _ = flood(off.port, sources, 20000, 2.0)
        factor_off = r_off / max(1, s_off)
        result(n_off > 19000, "with RRL off the flood is answered (the baseline)",
               f"{n_off} responses, {r_off} octets back for {s_off} sent: amplification {factor_off:.1f}x")

        # RRL on, with a bystander, a retrying client, dig and a cookie client during the flood
        other = {"asked": 0, "answered": 0}
        retry = {"asked": 0, "answered": 0, "tcp": 0, "tries": 0}
        cookie_client = {"asked": 0, "answered": 0, "limited": 0}
        stop = threading.Event()

        # the cookie client learns its server cookie over TCP (not limited), then uses it over UDP
        first = dns.query.tcp(dns.message.make_query("big." + ORIGIN, "TXT", use_edns=0, payload=4096,
                                                     options=[dns.edns.GenericOption(dns.edns.COOKIE, b"\x11" * 8)]),
                              "127.0.0.1", port=on.port, timeout=2, source="127.0.9.202")
        learned = cookie_of(first)
        result(learned is not None and len(learned) == 24, "a client learns a server cookie over TCP", str(learned and learned.hex()))

        def bystander():
            while not stop.is_set():
                other["asked"] += 1
                try:
                    r = dns.query.udp(dns.message.make_query("big." + ORIGIN, "TXT", use_edns=0, payload=4096), "127.0.0.1",
                                      port=on.port, timeout=1, source="127.0.11.1")
                    if r.answer and not (r.flags & dns.flags.TC):
                        other["answered"] += 1
                except dns.exception.Timeout:
                    pass
                time.sleep(0.02)

        def retrier():
            while not stop.is_set():
                retry["asked"] += 1
                r, tries, tcp = resolve_retrying(on.port, "big." + ORIGIN, "TXT", "127.0.9.201")
                retry["tries"] += tries
                if r is not None and r.answer:
                    retry["answered"] += 1
                    retry["tcp"] += 1 if tcp else 0
                time.sleep(0.05)

        def cookie_user():
            while not stop.is_set():
                cookie_client["asked"] += 1
                q = dns.message.make_query("big." + ORIGIN, "TXT", use_edns=0, payload=4096,
                                           options=[dns.edns.GenericOption(dns.edns.COOKIE, learned)])
                try:
                    r = dns.query.udp(q, "127.0.0.1", port=on.port, timeout=1, source="127.0.9.202")
                    if r.answer and not (r.flags & dns.flags.TC):
                        cookie_client["answered"] += 1
                    else:
                        cookie_client["limited"] += 1
                except dns.exception.Timeout:
                    cookie_client["limited"] += 1
                time.sleep(0.02)

        threads = [threading.Thread(target=f, daemon=True) for f in (bystander, retrier, cookie_user)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        digs = []

        def dig_during():
            for _ in range(3):
                out = subprocess.run(["dig", "-b", "127.0.9.203", "-p", str(on.port), "@127.0.0.1", "+tries=20", "+time=1",
                                      "big." + ORIGIN, "TXT"], capture_output=True, text=True, timeout=60).stdout
                digs.append(out)
        dig_thread = threading.Thread(target=dig_during, daemon=True)
        dig_thread.start()
        s_on, r_on, n_on, tc_on, duration = flood(on.port, sources, 20000, 2.0)
        dig_thread.join(timeout=70)
        stop.set()
        for t in threads:
            t.join(timeout=10)
        factor_on = r_on / max(1, s_on)
        # per worker table: each worker allows `rate` per second; 2 s of sending touch at most 3
        # distinct seconds, plus the full bucket each worker starts with
        full_allowed = WORKERS * RATE * 4
        tc_size = query_size + 28  # the question back, OPT; the cookie-less flood gets no COOKIE
        bound = full_allowed * big_size + (20000 // SLIP + WORKERS) * tc_size
        result(r_on <= bound, "with RRL on, the octets sent towards the flooded /24 stay within rate and slip",
               f"{r_on} octets back for {s_on} sent in {duration:.2f} s: amplification {factor_on:.2f}x "
               f"(RRL off: {factor_off:.1f}x); bound {bound} = {full_allowed} full answers + {20000 // SLIP + WORKERS} "
               f"truncated; {n_on} responses of which {tc_on} truncated")
        result(tc_on > 0 and n_on - tc_on <= full_allowed, "over the limit the flood gets truncated answers, not full ones",
               f"{n_on - tc_on} full, {tc_on} truncated")
        result(other["asked"] > 20 and other["answered"] == other["asked"],
               "a client in another /24 is answered 100 % during the flood", f"{other['answered']}/{other['asked']}")
        result(retry["asked"] > 5 and retry["answered"] == retry["asked"],
               "a client inside the limited /24 that retries over TCP on TC gets every answer",
               f"{retry['answered']}/{retry['asked']}, {retry['tcp']} over TCP, {retry['tries']} UDP tries")
        result(len(digs) == 3 and all("status: NOERROR" in d and "ANSWER: 1" in d for d in digs),
               "dig inside the limited /24 (+tries=20, TCP on TC) gets its answers", f"{len(digs)} runs")
        result(cookie_client["asked"] > 20 and cookie_client["limited"] == 0,
               "a client presenting a valid server cookie is not limited",
               f"{cookie_client['answered']}/{cookie_client['asked']} answered in full")
        limited = on.metric("meridian_rrl_limited_total")
        slipped = on.metric("meridian_rrl_slipped_total")
        dropped = on.metric("meridian_rrl_dropped_total")
        result(limited > 15000 and abs(slipped + dropped - limited) < 1 and slipped > 0 and dropped > 0,
               "the metrics count limited, slipped and dropped responses",
               f"limited {limited:.0f}, slipped {slipped:.0f}, dropped {dropped:.0f}")
        wait_for(lambda: "rrl: limiting" in on.log_text(), 3)
        log = on.log_text()
        lines = [line for line in log.splitlines() if "rrl:" in line]
        result(any("rrl: limiting" in line and "127.0.9.0/24" in line for line in lines) and len(lines) < 50,
               "the log says 127.0.9.0/24 started being limited, in a few lines", f"{len(lines)} rrl lines")
        on_memory = re.search(r"rrl_table_bytes=(\d+)", log)
        result(on_memory is not None, "the start-up log states the RRL tables' memory",
               f"{int(on_memory.group(1)) if on_memory else '?'} octets for {WORKERS} workers")
    finally:
        on.close()
        off.close()


def section_dry_run():
    s = Server(extra=f"rrl: {{ rate: {RATE}, slip: {SLIP}, dry_run: true }}\n")
    try:
        _, _, n, tc, _ = flood(s.port, [f"127.0.9.{i}" for i in range(1, 11)], 3000, 1.0)
        limited = s.metric("meridian_rrl_limited_total")
        result(n >= 2900 and tc == 0 and limited > 1000, "dry-run answers everything and counts what it would limit",
               f"{n} responses, {tc} truncated, {limited:.0f} counted as over the limit")
        wait_for(lambda: "rrl: would limit" in s.log_text(), 3)
        result("rrl: would limit" in s.log_text(), "dry-run logs 'would limit'")
    finally:
        s.close()


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout


def section_cookies():
    a = Server(extra=f"cookies: {{ secret: {SECRET} }}\n")
    b = Server(extra=f"cookies: {{ secret: {SECRET} }}\n", name="b")
    c = None
    try:
        out = run(["kdig", "@127.0.0.1", "-p", str(a.port), "+cookie", "www." + ORIGIN, "A"])
        m = re.search(r";; COOKIE: ([0-9A-F]+)", out)
        result(m is not None and len(m.group(1)) == 48, "kdig +cookie gets a server cookie", m.group(1) if m else out[-300:])
        cookie = m.group(1) if m else ""
        out = run(["kdig", "@127.0.0.1", "-p", str(a.port), "+cookie=" + cookie, "www." + ORIGIN, "A"])
        m2 = re.search(r";; COOKIE: ([0-9A-F]+)", out)
        result(m2 is not None and m2.group(1) == cookie and "NOERROR" in out, "kdig sends it back: valid, echoed", m2.group(1) if m2 else out[-300:])
        valid_before = a.metric('meridian_cookies_total{server_cookie="valid"')
        out = run(["kdig", "@127.0.0.1", "-p", str(a.port), "+tcp", "+cookie=" + cookie, "www." + ORIGIN, "A"])
        result(re.search(r";; COOKIE: " + cookie, out) is not None, "the cookie is valid over TCP too")
        result(a.metric('meridian_cookies_total{server_cookie="valid"') == valid_before + 1, "the metrics count the valid cookie")
        out = run(["dig", "@127.0.0.1", "-p", str(a.port), "+cookie", "www." + ORIGIN, "A"])
        m = re.search(r"; COOKIE: ([0-9a-f]+) \(good\)", out)
        result(m is not None, "dig +cookie: the server cookie is returned and dig calls it good", m.group(0) if m else out[-300:])
        if m:
            out = run(["dig", "@127.0.0.1", "-p", str(a.port), "+cookie=" + m.group(1), "www." + ORIGIN, "A"])
            result(f"; COOKIE: {m.group(1)} (good)" in out, "dig sends it back and gets it echoed")
        # a second instance of the NS set, same secret: the first one's cookie is valid there
        out = run(["kdig", "@127.0.0.1", "-p", str(b.port), "+cookie=" + cookie, "www." + ORIGIN, "A"])
        m3 = re.search(r";; COOKIE: ([0-9A-F]+)", out)
        result(m3 is not None and m3.group(1) == cookie and b.metric('meridian_cookies_total{server_cookie="valid"') >= 1,
               "a second instance sharing the secret accepts the first one's cookie", m3.group(1) if m3 else out[-200:])
        # malformed COOKIE options: FORMERR (RFC 7873 §5.2.2)
        for label, body in (("7-octet client cookie", b"\x01" * 7), ("15 octets (7-octet server cookie)", b"\x01" * 15),
                            ("41 octets", b"\x01" * 41)):
            r = raw_udp(a.port, raw_query("www." + ORIGIN, body))
            rcode = r[3] & 0x0F if r else None
            result(rcode == 1, f"COOKIE with a {label} -> FORMERR", f"rcode {rcode}")
        # RFC 7873 §5.4: no question, a client cookie: NOERROR with a server cookie
        header = bytes([0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        r = dns.message.from_wire(raw_udp(a.port, header + raw_opt(b"\x05" * 8)))
        got = cookie_of(r)
        result(r.rcode() == dns.rcode.NOERROR and got is not None and len(got) == 24 and len(r.question) == 0,
               "a query without a question learns a cookie (RFC 7873 §5.4)", dns.rcode.to_text(r.rcode()))
        # no secret configured: the state directory's survives a restart
        c = Server(name="c")
        first = dns.query.udp(dns.message.from_wire(query_wire("www." + ORIGIN, "A", cookie=b"\x07" * 8)), "127.0.0.1", port=c.port, timeout=2)
        made = cookie_of(first)
        secret_file = os.path.join(c.state_dir, "cookie-secret")
        mode = os.stat(secret_file).st_mode & 0o777 if os.path.exists(secret_file) else None
        result(mode == 0o600, "without cookies.secret a secret is made in the state directory, mode 0600", oct(mode) if mode else "missing")
        c.stop()
        c.start()
        again = dns.query.udp(dns.message.from_wire(query_wire("www." + ORIGIN, "A", cookie=made)), "127.0.0.1", port=c.port, timeout=2)
        result(cookie_of(again) == made, "after a restart the same secret accepts the cookie made before it")
    finally:
        a.close()
        b.close()
        if c:
            c.close()


def section_knot_cookies():
    """Knot's mod-cookies and Meridian with one secret: each accepts the other's server cookies."""
    if shutil.which("knotd") is None:
        result(False, "knotd is installed (make test-deps installs knot)")
        return
    m = Server(extra=f"cookies: {{ secret: {SECRET} }}\n")
    tmp = tempfile.mkdtemp(prefix="meridian-knot-cookies.")
    kport = free_port("127.0.0.1")
    with open(os.path.join(tmp, "zone.db"), "w") as f:
        f.write(zone_text())
    with open(os.path.join(tmp, "knot.conf"), "w") as f:
        f.write(f"""server:
    listen: 127.0.0.1@{kport}
    rundir: {tmp}
    user: root:root
log:
  - target: stderr
    any: warning
database:
    storage: {tmp}
mod-cookies:
  - id: shared
    secret: 0x{SECRET}
template:
  - id: default
    global-module: mod-cookies/shared
zone:
  - domain: {ORIGIN}
    file: {tmp}/zone.db
""")
    knot = subprocess.Popen(["knotd", "-c", os.path.join(tmp, "knot.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        if not wait_for(lambda: "NOERROR" in run(["kdig", "@127.0.0.1", "-p", str(kport), ORIGIN, "SOA"]), 10):
            result(False, "knotd with mod-cookies starts")
            return
        out = run(["kdig", "@127.0.0.1", "-p", str(kport), "+cookie", "www." + ORIGIN, "A"])
        k = re.search(r";; COOKIE: ([0-9A-F]+)", out)
        result(k is not None and len(k.group(1)) == 48, "Knot gives an RFC 9018 server cookie", k.group(1) if k else out[-200:])
        if not k:
            return
        before = m.metric('meridian_cookies_total{server_cookie="valid"')
        out = run(["kdig", "@127.0.0.1", "-p", str(m.port), "+cookie=" + k.group(1), "www." + ORIGIN, "A"])
        result(m.metric('meridian_cookies_total{server_cookie="valid"') == before + 1 and re.search(";; COOKIE: " + k.group(1), out),
               "Meridian accepts the cookie Knot made (valid, echoed)")
        out = run(["kdig", "@127.0.0.1", "-p", str(m.port), "+cookie", "www." + ORIGIN, "A"])
        mc = re.search(r";; COOKIE: ([0-9A-F]+)", out)
        out = run(["kdig", "@127.0.0.1", "-p", str(kport), "+cookie=" + mc.group(1), "+badcookie", "www." + ORIGIN, "A"]) if mc else ""
        echoed = re.search(r";; COOKIE: ([0-9A-F]+)", out)
        # Knot answers a valid cookie by echoing it (or renewing it with the same client cookie)
        result(mc is not None and echoed is not None and echoed.group(1)[:16] == mc.group(1)[:16] and "BADCOOKIE" not in out,
               "Knot accepts the cookie Meridian made", f"sent {mc.group(1) if mc else None}, got {echoed.group(1) if echoed else None}")
    finally:
        stop_process(knot)
        m.close()
        shutil.rmtree(tmp, ignore_errors=True)


def section_resolver():
    """Unbound with ECS sends from 127.0.10.1 (not exempt) through Meridian with RRL on."""
    m = Server(extra=f"rrl: {{ rate: {RATE}, slip: {SLIP}, exempt: [127.0.0.1/32, \"::1/128\"] }}\n")
    tmp = tempfile.mkdtemp(prefix="meridian-unbound-rrl.")
    uport = free_port("127.0.0.1")
    with open(os.path.join(tmp, "unbound.conf"), "w") as f:
        f.write(f"""server:
  interface: 127.0.0.1
  port: {uport}
  outgoing-interface: 127.0.10.1
  do-daemonize: no
  use-syslog: no
  logfile: "{tmp}/unbound.log"
  username: ""
  chroot: ""
  directory: "{tmp}"
  pidfile: "{tmp}/unbound.pid"
  module-config: "subnetcache iterator"
  send-client-subnet: 127.0.0.1
  client-subnet-always-forward: yes
  max-client-subnet-ipv4: 24
  do-not-query-localhost: no
  qname-minimisation: no
  local-zone: "test." nodefault
  num-threads: 1
  outgoing-range: 512
stub-zone:
  name: "{ORIGIN}"
  stub-addr: 127.0.0.1@{m.port}
""")
    unbound = subprocess.Popen(["unbound", "-d", "-c", os.path.join(tmp, "unbound.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        ok = wait_for(lambda: "NOERROR" in run(["dig", "@127.0.0.1", "-p", str(uport), "+time=1", "+tries=1", ORIGIN, "SOA"]), 15)
        if not result(ok, "Unbound resolves through Meridian"):
            return
        import random
        rng = random.Random(7)
        nets = set()
        while len(nets) < 1000:
            a = rng.choice([x for x in range(1, 224) if x not in (10, 127)])
            nets.add(f"{a}.{rng.randrange(256)}.{rng.randrange(256)}.0")
        nets = sorted(nets)
        received_before = m.metric('meridian_queries_total{transport="udp"}')
        codes = {}
        lock = threading.Lock()
        start = time.monotonic()

        def one(net):
            q = dns.message.make_query("geo." + ORIGIN, "A", use_edns=0, options=[dns.edns.ECSOption(net, 24)])
            try:
                r = dns.query.udp(q, "127.0.0.1", port=uport, timeout=5)
                code = dns.rcode.to_text(r.rcode())
            except dns.exception.Timeout:
                code = "timeout"
            with lock:
                codes[code] = codes.get(code, 0) + 1

        threads = []
        for i, net in enumerate(nets):
            due = start + i / 200.0
            while time.monotonic() < due:
                time.sleep(0.001)
            t = threading.Thread(target=one, args=(net,), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(timeout=15)
        elapsed = time.monotonic() - start
        upstream = m.metric('meridian_queries_total{transport="udp"}') - received_before
        limited = m.metric("meridian_rrl_limited_total")
        result(codes.get("SERVFAIL", 0) == 0 and codes.get("timeout", 0) == 0 and codes.get("NOERROR", 0) == 1000,
               "Unbound with ECS resolves 1,000 client /24s at 200 qps through Meridian with RRL on: 0 SERVFAIL",
               f"{codes} in {elapsed:.1f} s; Meridian got {upstream:.0f} UDP queries from 127.0.10.1 and limited {limited:.0f}")
    finally:
        stop_process(unbound)
        m.close()
        shutil.rmtree(tmp, ignore_errors=True)


def section_tcp():
    s = Server(server=", tcp_max_queries_per_connection: 5, tcp_idle_timeout: 7s")
    try:
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=3)
        # pipelined: 8 queries, the connection answers 5 and closes. The last three arrive after the
        # server has answered five and begun to close: they must not reset the connection and so
        # destroy answers the client has not read yet (the server half-closes and lingers).
        for i in range(8):
            if i == 5:
                time.sleep(0.3)
            wire = query_wire("www." + ORIGIN, "A", qid=i)
            sock.sendall(len(wire).to_bytes(2, "big") + wire)
        answers = 0
        data = b""
        closed = False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            chunk = sock.recv(65535)
            if not chunk:
                closed = True
                break
            data += chunk
        while len(data) >= 2 and len(data) >= 2 + int.from_bytes(data[:2], "big"):
            n = int.from_bytes(data[:2], "big")
            if dns.message.from_wire(data[2:2 + n]).answer:
                answers += 1
            data = data[2 + n:]
        sock.close()
        result(closed and answers == 5, "tcp_max_queries_per_connection 5: five answers delivered, then the server closes",
               f"{answers} answers, closed {closed}")
        out = run(["dig", "@127.0.0.1", "-p", str(s.port), "+tcp", "+keepalive", "www." + ORIGIN, "A"])
        m = re.search(r"TCP KEEPALIVE: ([0-9.]+) secs", out)
        result(m is not None and float(m.group(1)) == 7.0, "dig +tcp +keepalive learns the idle timeout (RFC 7828)",
               m.group(0) if m else out[-300:])
        out = run(["dig", "@127.0.0.1", "-p", str(s.port), "+notcp", "+keepalive", "www." + ORIGIN, "A"])
        result("KEEPALIVE" not in out and "NOERROR" in out, "over UDP the option is ignored (RFC 7828 §3.2.1)")
    finally:
        s.close()


def section_control_allow():
    s = Server(control_extra=", allow: [127.0.0.2/32]")
    try:
        code = None
        try:
            code = urllib.request.urlopen(f"http://127.0.0.1:{s.control_port}/v1/status", timeout=3).status
        except Exception as e:  # noqa: BLE001 - refused at accept: the connection is closed
            code = type(e).__name__
        result(code != 200, "control.allow: a client outside the list is refused at accept", str(code))

        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", s.control_port, timeout=3, source_address=("127.0.0.2", 0))
        conn.request("GET", "/v1/status")
        status = conn.getresponse().status
        conn.close()
        result(status == 200, "control.allow: a client inside it is served", str(status))
    finally:
        s.close()


def main():
    global BIN, GEO
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    BIN = os.path.abspath(sys.argv[1])
    GEO = os.path.abspath(sys.argv[2])
    run_sections(tally, [
        ("reflection", section_reflection),
        ("dry-run", section_dry_run),
        ("cookies", section_cookies),
        ("knot-cookies", section_knot_cookies),
        ("resolver", section_resolver),
        ("tcp", section_tcp),
        ("control-allow", section_control_allow),
    ], only=tuple(os.environ.get("ONLY", "").split(",")) if os.environ.get("ONLY") else ())
    print(f"{tally.passed} passed, {tally.failed} failed, 0 skipped")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
