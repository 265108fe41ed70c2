#!/usr/bin/env python3
"""Hostile input and unlucky operators against the real binary: files changed under a running
server, the control API's limits and authentication, overrides and the state directory.

Usage: Tests/ops/hardening_test.py BIN GEOLITE2_CITY_MMDB

Each section starts its own `BIN serve` on free loopback ports with a config in a temp dir:
  - mmdb: the configured .mmdb is truncated, then overwritten with garbage, in place, while the
    server runs; GET /v1/explain still answers (with what was compiled) and DNS still answers
    (the database used to stay mapped: SIGBUS, exit 135)
  - overrides: an override whose state file cannot be written is answered 500 and changes nothing,
    not in /v1/status, not after a reload, not in the next successful write; unknown targets 404
  - body: a chunked body over 64 KiB is 413 and not acted on, even when the chunks around the
    excess are valid JSON (they used to be spliced and acted on)
  - auth: `bearer` in any case, wrong token 401 with WWW-Authenticate, 405 with Allow, HEAD
  - socket: `meridian ctl` writes through the control socket without a token; the socket is 0600
  - connections: 3x control.max_connections idle connections, then the API, DNS over TCP and a
    SIGHUP reload are all served; idle connections are closed after control.idle_timeout
  - state: a corrupt overrides file makes `check` exit 1 without touching it; `serve` sets it aside
    and starts; with health.strict_state_file it refuses; a group-writable state_dir is refused;
    a control.listen off loopback without a token is refused with file:line

Prints PASS:/FAIL: lines and "N passed, M failed, 0 skipped"; exits 1 on any failure. Every wait
is bounded; every process started is killed by PID.
"""
import glob
import http.client as httpclient
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

import dns.message
import dns.query
import dns.rcode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from meridian_testlib import Tally, free_port, run_sections, wait_answering  # noqa: E402

ORIGIN = "hard.test."
SERVICE = "geo.hard.test."
TOKEN = "s3cret-token"
# HARDENING_LEGACY=1 writes configs an older binary reads (no state_dir, no control limits), to show
# which checks fail without the fixes; HARDENING_SECTIONS=mmdb,overrides,... runs only those.
LEGACY = os.environ.get("HARDENING_LEGACY") == "1"
tally = Tally()
result = tally.result

ZONE = f"""$ORIGIN {ORIGIN}
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 900 604800 60
@ IN NS ns1
ns1 IN A 127.0.0.1
"""


class Server:
    """One `meridian serve` with its config in `tmp`."""

    def __init__(self, bin_path, tmp, extra="", mmdb=None, control=True, token=TOKEN, state_dir=None,
                 control_limits=", idle_timeout: 1s, max_connections: 40"):
        self.bin, self.tmp = bin_path, tmp
        self.dns_port, self.control_port = free_port(), free_port()
        self.state_dir = state_dir or os.path.join(tmp, "state")
        with open(os.path.join(tmp, "z.zone"), "w") as f:
            f.write(ZONE)
        geo = f"geo: {{ database: {mmdb} }}\n" if mmdb else ""
        limits = "" if LEGACY else control_limits
        ctl = f'control: {{ listen: "127.0.0.1:{self.control_port}", token: {token}{limits} }}\n' \
            if control else "control: { listen: off }\n"
        state = f"health: {{ state_file: {tmp}/overrides.json }}\n" if LEGACY and "state_file" not in extra \
            else "" if LEGACY else f"state_dir: {self.state_dir}\n"
        self.config = os.path.join(tmp, "meridian.yaml")
        with open(self.config, "w") as f:
            f.write(f'listen: ["127.0.0.1:{self.dns_port}"]\n'
                    f"zones: [{{ origin: {ORIGIN}, file: z.zone }}]\n"
                    + state + geo + ctl +
                    "regions: { eu: {}, na: {} }\n"
                    "services:\n"
                    f"  {SERVICE}:\n"
                    "    policy: geo\n"
                    "    map: { default: na, continent: { EU: eu } }\n"
                    "    pools:\n"
                    "      eu: { addresses: [198.51.100.1] }\n"
                    "      na: { addresses: [192.0.2.1] }\n" + extra)
        self.proc = None
        self.log = os.path.join(tmp, "log")

    def start(self, expect_up=True):
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen([self.bin, "serve", "--config", self.config], stdout=self.logf, stderr=subprocess.STDOUT)
        if not expect_up:
            try:
                return self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                return None
        return wait_answering(self.proc, self.dns_port, ORIGIN, 20)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None:
            self.logf.close()

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def query(self, name, rdtype="A", tcp=False, timeout=2.0):
        q = dns.message.make_query(name, rdtype)
        fn = dns.query.tcp if tcp else dns.query.udp
        return fn(q, "127.0.0.1", port=self.dns_port, timeout=timeout)

    def http(self, method, path, body=None, token=None, headers=None, scheme="Bearer"):
        conn = httpclient.HTTPConnection("127.0.0.1", self.control_port, timeout=10)
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"{scheme} {token}"
        data = json.dumps(body) if body is not None else None
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read().decode()
        finally:
            conn.close()

    def override(self, scope, name, state, token=TOKEN):
        return self.http("POST", "/v1/override", {"scope": scope, "name": name, "state": state}, token=token)

    def overrides(self):
        return json.loads(self.http("GET", "/v1/status")[2])["overrides"]


def section_mmdb(bin_path, geo_db):
    tmp = tempfile.mkdtemp(prefix="meridian-hard.")
    mmdb = os.path.join(tmp, "GeoLite2-City.mmdb")
    shutil.copyfile(geo_db, mmdb)
    s = Server(bin_path, tmp, mmdb=mmdb)
    try:
        if not result(s.start(), "mmdb: serve starts with a copy of GeoLite2-City"):
            return
        path = f"/v1/explain?name={SERVICE}&type=A&client=193.0.0.1"
        st, _, before = s.http("GET", path)
        result(st == 200 and "eu" in before, "mmdb: explain answers before the file changes", before[:200])
        os.truncate(mmdb, 4096)  # in place: same inode, as `truncate` or a cut-short download
        st, _, after = s.http("GET", path)
        result(st == 200 and after == before, "mmdb: explain after the file is truncated in place says what was compiled", after[:200])
        with open(mmdb, "r+b") as f:  # garbage of another size, in place (cp over it)
            f.truncate(0)
            f.write(os.urandom(3 << 20))
        for client in ("193.0.0.1", "8.8.8.8", "2001:67c:2e8::1", "81.2.69.160/27"):
            st, _, text = s.http("GET", f"/v1/explain?name={SERVICE}&type=A&client={client}")
            result(st == 200, f"mmdb: explain for {client} after the file is overwritten answers 200", text[:200])
        result(s.alive(), "mmdb: the server is still running", f"exit {s.proc.poll()}")
        r = s.query(SERVICE, "A")
        result(r.rcode() == 0 and r.answer, "mmdb: DNS still answers")
        # a reload now meets the garbage: refused, the old snapshot keeps serving
        st, _, text = s.http("POST", "/v1/reload", token=TOKEN)
        result(st == 422 and "MaxMind" in text and s.alive(), "mmdb: a reload of the garbage file is refused, the server keeps serving", f"{st} {text[:200]}")
    finally:
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def section_overrides(bin_path):
    tmp = tempfile.mkdtemp(prefix="meridian-hard.")
    sub = os.path.join(tmp, "sub")
    os.mkdir(sub)
    s = Server(bin_path, tmp, extra=f"health: {{ state_file: {sub}/overrides.json }}\n")
    try:
        if not result(s.start(), "overrides: serve starts"):
            return
        st, _, _ = s.override("region", "eu", "drain")
        result(st == 200, "overrides: a region override is accepted while the state file can be written")
        st, _, _ = s.override("region", "eu", "clear")
        shutil.rmtree(sub)  # the state file's directory goes (a full or read-only disk says no the same way)
        st, _, text = s.override("service", SERVICE, "down")
        result(st == 500, "overrides: an override that cannot be persisted is answered 500", f"{st} {text[:200]}")
        result(s.overrides() == [], "overrides: the refused override is not in force (status)", json.dumps(s.overrides()))
        r = s.query(SERVICE, "A")
        result(r.rcode() == 0 and any(rr.to_text() == "192.0.2.1" for a in r.answer for rr in a),
               "overrides: answers are unchanged by the refused override")
        st, _, _ = s.http("POST", "/v1/reload", token=TOKEN)
        result(st == 200 and s.overrides() == [], "overrides: and not after a reload either", json.dumps(s.overrides()))
        os.mkdir(sub)
        st, _, _ = s.override("region", "na", "drain")
        with open(os.path.join(sub, "overrides.json")) as f:
            saved = json.load(f)
        result(st == 200 and len(saved) == 1 and saved[0]["target"]["name"] == "na",
               "overrides: the next successful write persists only what was accepted", json.dumps(saved))
        mode = stat.S_IMODE(os.stat(os.path.join(sub, "overrides.json")).st_mode)
        result(mode == 0o600, "overrides: the state file is mode 0600", oct(mode))
        for scope, name in [("region", "eu-typo"), ("endpoint", "192.0.2.99"), ("service", "nope.hard.test.")]:
            st, _, text = s.override(scope, name, "down")
            result(st == 404, f"overrides: unknown {scope} {name} is refused with 404", f"{st} {text[:120]}")
        st, _, text = s.http("POST", "/v1/override", {"scope": "region", "name": "na", "service": "other.hard.test.", "state": "down"}, token=TOKEN)
        result(st == 404, "overrides: a region of an unknown service is refused", f"{st} {text[:120]}")
        st, _, _ = s.override("endpoint", "198.51.100.1", "drain")
        result(st == 200, "overrides: a configured endpoint is accepted")
        st, _, text = s.override("region", "x" * 300, "down")
        result(st == 404 and "at most" in text, "overrides: an over-long name is refused", text[:120])
    finally:
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def raw_request(port, data, timeout=5):
    """Sends raw bytes to the control API and returns the status line's code and the whole reply."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(data)
        reply = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            reply += chunk
            if b"\r\n\r\n" in reply:
                head, _, body = reply.partition(b"\r\n\r\n")
                length = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
                if length and len(body) >= length[0]:
                    break
        code = int(reply.split(b" ")[1]) if reply.startswith(b"HTTP/1.1 ") else 0
        return code, reply
    finally:
        sock.close()


def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


def section_body_and_auth(bin_path):
    tmp = tempfile.mkdtemp(prefix="meridian-hard.")
    s = Server(bin_path, tmp)
    try:
        if not result(s.start(), "body: serve starts"):
            return
        # valid JSON before and after the excess: spliced, it would read as a drain of the service
        head = json.dumps({"scope": "service", "name": SERVICE, "state": "drain"})[:-1].encode() + b" " * 60000
        request = (b"POST /v1/override HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
                   b"\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n" +
                   chunk(head) + chunk(b"#" * 10000) + chunk(b"}") + b"0\r\n\r\n")
        code, _ = raw_request(s.control_port, request)
        result(code == 413, "body: a chunked body over 64 KiB is answered 413", f"got {code}")
        result(s.overrides() == [], "body: and not acted on", json.dumps(s.overrides()))
        big = json.dumps({"scope": "service", "name": SERVICE, "state": "drain", "pad": "x" * 70000}).encode()
        code, _ = raw_request(s.control_port, b"POST /v1/override HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
                              b"\r\nContent-Length: %d\r\n\r\n" % len(big) + big)
        result(code == 413 and s.overrides() == [], "body: a Content-Length body over 64 KiB is 413 and not acted on", f"got {code}")
        # authentication
        st, h, _ = s.override("region", "eu", "drain", token="wrong")
        result(st == 401 and h.get("WWW-Authenticate", "").startswith("Bearer"), "auth: a wrong token is 401 with WWW-Authenticate", f"{st} {h}")
        st, h, _ = s.override("region", "eu", "drain", token=None)
        result(st == 401 and "WWW-Authenticate" in h, "auth: no token is 401 with WWW-Authenticate", f"{st}")
        st, _, _ = s.http("POST", "/v1/override", {"scope": "region", "name": "eu", "state": "drain"}, token=TOKEN, scheme="bEaReR")
        result(st == 200, "auth: the Bearer scheme matches in any case (RFC 9110 §11.1)", f"{st}")
        st, _, _ = s.override("region", "eu", "clear", token=TOKEN + "x")
        result(st == 401, "auth: a token with a suffix is refused", f"{st}")
        st, _, _ = s.override("region", "eu", "clear", token=TOKEN[:-1])
        result(st == 401, "auth: a token's prefix is refused", f"{st}")
        st, h, _ = s.http("DELETE", "/v1/status")
        result(st == 405 and set(h.get("Allow", "").replace(" ", "").split(",")) == {"GET", "HEAD"},
               "auth: 405 names the allowed methods in Allow", f"{st} {h.get('Allow')}")
        st, h, _ = s.http("GET", "/v1/override")
        result(st == 405 and h.get("Allow") == "POST", "auth: GET on a write endpoint is 405, Allow: POST", f"{st} {h.get('Allow')}")
        st, h, body = s.http("HEAD", "/v1/status")
        _, _, full = s.http("GET", "/v1/status")
        result(st == 200 and body == "" and int(h.get("Content-Length", -1)) == len(full.encode()),
               "auth: HEAD /v1/status is 200 with GET's Content-Length and no body", f"{st} {h.get('Content-Length')} {len(full)}")
        # the control socket: writes without a token, mode 0600, through `meridian ctl`
        sock_path = os.path.join(s.state_dir, "control.sock")
        mode = stat.S_IMODE(os.stat(sock_path).st_mode) if os.path.exists(sock_path) else None
        result(mode == 0o600, "socket: the control socket exists with mode 0600", f"{mode and oct(mode)}")
        ctl = subprocess.run([bin_path, "ctl", "--socket", sock_path, "override", "region", "na", "drain"],
                             capture_output=True, text=True, timeout=20, env={k: v for k, v in os.environ.items() if k != "MERIDIAN_TOKEN"})
        result(ctl.returncode == 0 and any(o["target"] == "region na" for o in s.overrides()),
               "socket: `meridian ctl --socket` writes an override without a token", ctl.stdout[-200:] + ctl.stderr[-200:])
        result("target=region eu" in s.log_text() and "target=region na" in s.log_text(), "auth: overrides are logged with their target")
    finally:
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def section_connections(bin_path):
    tmp = tempfile.mkdtemp(prefix="meridian-hard.")
    s = Server(bin_path, tmp)
    socks = []
    try:
        if not result(s.start(), "connections: serve starts"):
            return
        for _ in range(120):  # 3x control.max_connections (40), idle
            socks.append(socket.create_connection(("127.0.0.1", s.control_port), timeout=5))
        time.sleep(0.2)
        st, _, _ = s.http("GET", "/v1/status")
        result(st == 200, "connections: the control API answers with 3x max_connections idle connections open", f"{st}")
        r = s.query(ORIGIN, "SOA", tcp=True)
        result(r.rcode() == 0, "connections: DNS over TCP answers meanwhile")
        os.kill(s.proc.pid, signal.SIGHUP)
        time.sleep(1.0)
        result(s.alive() and "Too many open files" not in s.log_text() and "reload" in s.log_text().lower(),
               "connections: a SIGHUP reload works meanwhile")
        fds = len(os.listdir(f"/proc/{s.proc.pid}/fd"))
        result(fds < 100, "connections: the server holds at most max_connections of them", f"{fds} descriptors")
        # the idle timeout (1 s) closes what is left
        time.sleep(1.6)
        closed = 0
        for sock in socks:
            sock.settimeout(0.05)
            try:
                if sock.recv(1) == b"":
                    closed += 1
            except (ConnectionResetError, BrokenPipeError):
                closed += 1
            except socket.timeout:
                pass
        result(closed == len(socks), "connections: idle control connections are closed after idle_timeout", f"{closed}/{len(socks)} closed")
    finally:
        for sock in socks:
            sock.close()
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def section_state(bin_path):
    tmp = tempfile.mkdtemp(prefix="meridian-hard.")
    state = os.path.join(tmp, "state")
    os.mkdir(state, 0o700)
    corrupt = b'[{"target": {"scope": "region", "name": "eu"'
    path = os.path.join(state, "overrides.json")
    with open(path, "wb") as f:
        f.write(corrupt)
    s = Server(bin_path, tmp)
    try:
        c = subprocess.run([bin_path, "check", "--config", s.config], capture_output=True, text=True, timeout=60)
        with open(path, "rb") as f:
            untouched = f.read() == corrupt
        result(c.returncode == 1 and "overrides.json" in c.stderr and untouched,
               "state: check reports a corrupt overrides file, exits 1 and changes nothing", f"rc {c.returncode}: {c.stderr[-200:]}")
        up = s.start()
        aside = glob.glob(path + ".corrupt-*")
        result(up and len(aside) == 1 and not os.path.exists(path) and "corrupt" in s.log_text(),
               "state: serve sets a corrupt overrides file aside, says so, and serves", f"up {up}, aside {aside}")
        s.stop()
        with open(path, "wb") as f:
            f.write(corrupt)
        strict = Server(bin_path, tmp, extra="health: { strict_state_file: true }\n")
        rc = strict.start(expect_up=False)
        strict.stop()
        result(rc == 1 and os.path.exists(path), "state: with health.strict_state_file a corrupt file refuses the start", f"rc {rc}")
        os.unlink(path)
        c = subprocess.run([bin_path, "check", "--config", s.config], capture_output=True, text=True, timeout=60)
        result(c.returncode == 0, "state: check passes once the file is gone", c.stderr[-200:])
        os.chmod(state, 0o777)
        c = subprocess.run([bin_path, "check", "--config", s.config], capture_output=True, text=True, timeout=60)
        result(c.returncode == 1 and "writable by group or others" in c.stderr, "state: check refuses a world-writable state_dir", c.stderr[-200:])
        rc = Server(bin_path, tmp).start(expect_up=False)
        result(rc == 1, "state: so does serve", f"rc {rc}")
        os.chmod(state, 0o700)
        fresh = os.path.join(tmp, "fresh")
        s2 = Server(bin_path, tmp, state_dir=fresh)
        up = s2.start()
        mode = stat.S_IMODE(os.stat(fresh).st_mode) if os.path.exists(fresh) else None
        s2.stop()
        result(up and mode == 0o700, "state: serve creates a missing state_dir with mode 0700", f"{mode and oct(mode)}")
        # control off loopback without a token
        with open(s.config) as f:
            text = f.read()
        open_cfg = os.path.join(tmp, "open.yaml")
        with open(open_cfg, "w") as f:
            f.write(re.sub(r'listen: "127\.0\.0\.1:(\d+)", token: [^,]*', r'listen: "0.0.0.0:\1"', text))
        c = subprocess.run([bin_path, "check", "--config", open_cfg], capture_output=True, text=True, timeout=60)
        result(c.returncode == 1 and "open.yaml:" in c.stderr and "no control.token" in c.stderr,
               "state: a control.listen off loopback without a token is refused with file:line", c.stderr[-200:])
    finally:
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    bin_path, geo_db = os.path.abspath(sys.argv[1]), sys.argv[2]
    only = [x for x in os.environ.get("HARDENING_SECTIONS", "").split(",") if x]
    run_sections(tally, [("mmdb", lambda: section_mmdb(bin_path, geo_db)), ("overrides", lambda: section_overrides(bin_path)),
                         ("body and auth", lambda: section_body_and_auth(bin_path)),
                         ("connections", lambda: section_connections(bin_path)), ("state", lambda: section_state(bin_path))], only)
    print(f"{tally.passed} passed, {tally.failed} failed, {tally.skipped} skipped")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
