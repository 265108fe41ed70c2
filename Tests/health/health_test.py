#!/usr/bin/env python3
"""Health-check integration test for Meridian: real HTTP/HTTPS/script backends on loopback.

Usage: Tests/health/health_test.py BIN      (BIN = .build/debug/meridian or .build/release/meridian)

Starts HTTP and HTTPS backends (python http.server subprocesses on 127.0.1.x), writes a CA and
certificates with `cryptography`, a zone and a config with http / https / script checks, runs
`BIN serve` and checks failover timing, the control API (/v1/status, overrides with a token,
persistence across a restart), TLS failure reasons, the all-down fallback, script checks (including
a hanging script killed at its timeout) and `BIN check` errors at file:line.

Prints one PASS:/FAIL: line per check and "N passed, M failed"; exits 1 on any failure. Every wait is
bounded; every process started is killed by PID at the end.
"""
import datetime
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from meridian_testlib import Tally, free_port, stop_process, wait_tcp, wait_until  # noqa: E402

ORIGIN = "hc.test."
TOKEN = "s3cret-token"
INTERVAL, TIMEOUT, RISE, FALL = 1.0, 0.5, 2, 2
DETECT_BOUND = FALL * INTERVAL + TIMEOUT + 1.0   # 3.5 s
RESTORE_BOUND = RISE * INTERVAL + 1.0             # 3.0 s

# addresses (all on loopback 127.0.0.0/8)
WEB = {"a": "127.0.1.1", "b": "127.0.1.2", "c": "127.0.1.3"}
TLS_GOOD, TLS_DEAD = "127.0.1.4", "127.0.1.5"
TLS_WRONG, TLS_EXPIRED = "127.0.1.6", "127.0.1.7"
ALLDOWN_X, ALLDOWN_Y, ALLDOWN_LAST = "127.0.1.8", "127.0.1.9", "192.0.2.99"
SCRIPT_UP, SCRIPT_SPARE = "127.0.1.10", "127.0.1.11"
HANG, HANG_SPARE = "127.0.1.12", "127.0.1.13"

tally = Tally(detail_on_pass=True)
result = tally.result


# ---------------------------------------------------------------- certificates

def write_pki(tmp):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Meridian health test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(ca_ski, critical=False)
          .sign(ca_key, hashes.SHA256()))
    ca_file = os.path.join(tmp, "ca.pem")
    with open(ca_file, "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))

    def leaf(label, cn, sans, not_before, not_after):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                .issuer_name(ca_name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(not_before).not_valid_after(not_after)
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
                .sign(ca_key, hashes.SHA256()))
        cert_path = os.path.join(tmp, label + ".crt")
        key_path = os.path.join(tmp, label + ".key")
        with open(cert_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(key_path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        return cert_path, key_path

    good_sans = [x509.DNSName("backend.test"), x509.IPAddress(ipaddress.ip_address(TLS_GOOD))]
    certs = {
        "good": leaf("good", "backend.test", good_sans, now - datetime.timedelta(days=1), now + datetime.timedelta(days=90)),
        "wrong": leaf("wrong", "other.test", [x509.DNSName("other.test")],
                      now - datetime.timedelta(days=1), now + datetime.timedelta(days=90)),
        "expired": leaf("expired", "backend.test",
                        [x509.DNSName("backend.test"), x509.IPAddress(ipaddress.ip_address(TLS_EXPIRED))],
                        now - datetime.timedelta(days=60), now - datetime.timedelta(days=2)),
    }
    return ca_file, certs


# ---------------------------------------------------------------- backends and processes

BACKEND = r'''
import http.server, socket, ssl, sys
addr, port = sys.argv[1], int(sys.argv[2])
ctx = None
if len(sys.argv) > 4:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code, body = (200, b"ok") if self.path == "/healthz" else (404, b"not found")
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    def finish_request(self, request, client_address):
        request.settimeout(5)
        if ctx is None:
            return super().finish_request(request, client_address)
        try:
            tls = ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        except (ssl.SSLError, OSError):
            pass
        finally:
            tls.close()
    def handle_error(self, request, client_address):
        pass

Server((addr, port), Handler).serve_forever()
'''


class Procs:
    """Every process the test starts, killed by PID at the end."""

    def __init__(self):
        self.procs = []

    def start(self, args, **kw):
        p = subprocess.Popen(args, **kw)
        self.procs.append(p)
        return p

    stop = staticmethod(stop_process)

    def stop_all(self):
        for p in self.procs:
            try:
                self.stop(p)
            except Exception as e:  # keep going: every process must be stopped
                print(f"warning: stopping pid {p.pid}: {e}", file=sys.stderr)


# ---------------------------------------------------------------- DNS and control helpers

class Dns:
    def __init__(self, port):
        self.port = port

    def query(self, name, rdtype="A", timeout=1.0):
        q = dns.message.make_query(name, rdtype)
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=timeout)

    def answer(self, name, rdtype="A"):
        """(rcode, sorted addresses, ttl) or (None, [], None) on timeout."""
        try:
            r = self.query(name, rdtype)
        except Exception:
            return None, [], None
        addrs, ttl = [], None
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.from_text(rdtype) and rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                addrs += [rd.address for rd in rrset]
                ttl = rrset.ttl
        return r.rcode(), sorted(addrs), ttl


def http_json(url, method="GET", body=None, token=None, timeout=5):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read().decode() or "{}")
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text


def endpoints(status, service):
    """address -> endpoint dict for one service in /v1/status."""
    out = {}
    for s in status.get("services", []):
        if s.get("name") == service:
            for r in s.get("regions", []):
                for e in r.get("endpoints", []):
                    out[e["address"]] = e
    return out


# ---------------------------------------------------------------- config

ZONE = f"""$ORIGIN {ORIGIN}
$TTL 3600
@        IN SOA ns1.{ORIGIN} hostmaster.{ORIGIN} 2024010101 3600 900 604800 300
@        IN NS    ns1
ns1      IN A     127.0.0.1
web   30 IN A     192.0.2.10
tls   30 IN A     192.0.2.11
bad   30 IN A     192.0.2.12
alldown 30 IN A   192.0.2.13
script 30 IN A    192.0.2.14
hang  30 IN A     192.0.2.15
"""


def write_config(tmp, dns_port, control_port, http_port, https_port, ca_file, marker):
    zone = os.path.join(tmp, "hc.test.zone")
    with open(zone, "w") as f:
        f.write(ZONE)
    check_script = os.path.join(tmp, "marker-check.sh")
    with open(check_script, "w") as f:
        f.write(f'#!/bin/sh\n# args: ADDRESS PORT\nif [ -e "{marker}" ]; then exit 0; fi\nexit 1\n')
    os.chmod(check_script, 0o755)
    # the hanging script runs a child (a symlink to sleep, so its processes can be found by path)
    sleeper = os.path.join(tmp, "hangsleep")
    os.symlink(shutil.which("sleep"), sleeper)
    hang_script = os.path.join(tmp, "hang-check.sh")
    with open(hang_script, "w") as f:
        f.write(f'#!/bin/sh\n"{sleeper}" 30\nexit 0\n')
    os.chmod(hang_script, 0o755)
    timings = f"interval: {INTERVAL:g}s, timeout: {int(TIMEOUT * 1000)}ms, rise: {RISE}, fall: {FALL}"
    cfg = os.path.join(tmp, "meridian.yaml")
    with open(cfg, "w") as f:
        f.write(f"""listen: ["127.0.0.1:{dns_port}"]
zones:
  - origin: {ORIGIN}
    file: {zone}
control: {{ listen: "127.0.0.1:{control_port}", token: {TOKEN} }}
health: {{ state_file: {tmp}/overrides.json }}
state_dir: {tmp}/state
checks:
  web: {{ type: http, port: {http_port}, {timings}, path: /healthz, expect: [200], body: ok }}
  tls: {{ type: https, port: {https_port}, {timings}, path: /healthz, expect: [200], body: ok, host: backend.test, ca_file: {ca_file} }}
  tls-wrong: {{ type: https, port: {https_port}, {timings}, path: /healthz, host: backend.test, ca_file: {ca_file} }}
  tls-expired: {{ type: https, port: {https_port}, {timings}, path: /healthz, host: backend.test, ca_file: {ca_file} }}
  marker: {{ type: script, command: [{check_script}], {timings} }}
  hang: {{ type: script, command: [{hang_script}], {timings} }}
services:
  web.{ORIGIN}:
    policy: failover
    order: [a, b, c]
    ttl: 30
    degraded_ttl: 5
    pools:
      a: {{ addresses: [{WEB['a']}], check: web }}
      b: {{ addresses: [{WEB['b']}], check: web }}
      c: {{ addresses: [{WEB['c']}], check: web }}
  tls.{ORIGIN}:
    policy: failover
    order: [dead, good]
    pools:
      dead: {{ addresses: [{TLS_DEAD}], check: tls }}
      good: {{ addresses: [{TLS_GOOD}], check: tls }}
  bad.{ORIGIN}:
    policy: failover
    pools:
      wrong: {{ addresses: [{TLS_WRONG}], check: tls-wrong }}
      expired: {{ addresses: [{TLS_EXPIRED}], check: tls-expired }}
  alldown.{ORIGIN}:
    policy: failover
    order: [x, y]
    up_share: 0.5
    all_down: {{ addresses: [{ALLDOWN_LAST}] }}
    pools:
      x: {{ addresses: [{ALLDOWN_X}], check: web }}
      y: {{ addresses: [{ALLDOWN_Y}], check: web }}
  script.{ORIGIN}:
    policy: failover
    order: [m, spare]
    pools:
      m: {{ addresses: [{SCRIPT_UP}], check: marker }}
      spare: {{ addresses: [{SCRIPT_SPARE}] }}
  hang.{ORIGIN}:
    policy: failover
    order: [h, spare]
    pools:
      h: {{ addresses: [{HANG}], check: hang }}
      spare: {{ addresses: [{HANG_SPARE}] }}
""")
    return cfg, sleeper


# ---------------------------------------------------------------- checks of `meridian check`

def config_errors(binary, tmp):
    zone = os.path.join(tmp, "hc.test.zone")
    cases = {
        "timeout >= interval": ("bad-timeout.yaml", f"""zones:
  - origin: {ORIGIN}
    file: {zone}
checks:
  slow:
    type: http
    interval: 1s
    timeout: 2s
services:
  web.{ORIGIN}:
    pools:
      a: {{ addresses: [127.0.1.1], check: slow }}
""", range(5, 9)),   # the check's block: lines 5 (slow:) .. 8 (timeout:)
        "unknown check type": ("bad-type.yaml", f"""zones:
  - origin: {ORIGIN}
    file: {zone}
checks:
  weird:
    type: carrier-pigeon
    interval: 10s
services:
  web.{ORIGIN}:
    pools:
      a: {{ addresses: [127.0.1.1], check: weird }}
""", range(6, 7)),   # the type: line
    }
    for what, (name, text, lines) in cases.items():
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(text)
        try:
            r = subprocess.run([binary, "check", "--config", path], capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            result(False, f"check --config with {what} exits 1 with file:line", "timed out")
            continue
        m = re.search(re.escape(path) + r":(\d+):", r.stderr)
        line = int(m.group(1)) if m else None
        result(r.returncode == 1 and line in lines,
               f"check --config with {what} exits 1 with file:line",
               f"exit {r.returncode}, {r.stderr.strip()!r}")


# ---------------------------------------------------------------- main

def main():
    if len(sys.argv) != 2:
        print("usage: health_test.py BIN", file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    # become the subreaper of everything started below: children that Meridian's scripts leave behind
    # are re-parented to this process (not to PID 1), so they can be killed and reaped at the end
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass
    tmp = tempfile.mkdtemp(prefix="meridian-health-")
    procs = Procs()
    meridian = None
    sleeper = None
    log_path = os.path.join(tmp, "meridian.log")
    env = {k: v for k, v in os.environ.items() if k not in ("MERIDIAN_TOKEN", "MERIDIAN_CONTROL")}
    try:
        ca_file, certs = write_pki(tmp)
        backend_py = os.path.join(tmp, "backend.py")
        with open(backend_py, "w") as f:
            f.write(BACKEND)
        http_port = free_port(list(WEB.values()) + [ALLDOWN_X, ALLDOWN_Y])
        https_port = free_port([TLS_GOOD, TLS_DEAD, TLS_WRONG, TLS_EXPIRED])
        dns_port = free_port(["127.0.0.1"])
        control_port = free_port(["127.0.0.1"])
        marker = os.path.join(tmp, "marker")
        open(marker, "w").close()
        cfg, sleeper = write_config(tmp, dns_port, control_port, http_port, https_port, ca_file, marker)

        def start_backend(addr, port, cert=None):
            args = [sys.executable, backend_py, addr, str(port)] + (list(cert) if cert else [])
            p = procs.start(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if not wait_tcp(addr, port):
                raise RuntimeError(f"backend {addr}:{port} did not start")
            return p

        backends = {}
        for name, addr in WEB.items():
            backends[name] = start_backend(addr, http_port)
        backends["y"] = start_backend(ALLDOWN_Y, http_port)
        backends["tls"] = start_backend(TLS_GOOD, https_port, certs["good"])
        backends["wrong"] = start_backend(TLS_WRONG, https_port, certs["wrong"])
        backends["expired"] = start_backend(TLS_EXPIRED, https_port, certs["expired"])

        d = Dns(dns_port)
        control = f"http://127.0.0.1:{control_port}"

        def start_meridian():
            log = open(log_path, "a")
            p = procs.start([binary, "serve", "--config", cfg, "--listen", f"127.0.0.1:{dns_port}"],
                            stdout=log, stderr=log, env=env)
            log.close()
            ok, took = wait_until(lambda: p.poll() is None and d.answer(ORIGIN, "SOA")[0] == dns.rcode.NOERROR, 30, 0.1)
            if not ok:
                raise RuntimeError(f"meridian did not answer within 30 s (exit {p.poll()}); log:\n" + open(log_path).read()[-3000:])
            return p, took

        meridian, took = start_meridian()
        print(f"meridian answering after {took:.2f} s", flush=True)

        def answers(name):
            return d.answer(name)[1]

        # ---------------- web: failover timing
        got, _ = wait_until(lambda: answers("web." + ORIGIN) == [WEB["a"]], 5)
        result(got, "web answers 127.0.1.1 at start", f"got {answers('web.' + ORIGIN)}")

        procs.stop(backends["a"], signal.SIGKILL)
        start = time.monotonic()
        got, _ = wait_until(lambda: answers("web." + ORIGIN) == [WEB["b"]], 10, 0.02)
        detect = time.monotonic() - start
        print(f"measured: detection (backend a killed -> answers 127.0.1.2) = {detect:.2f} s (bound {DETECT_BOUND:g} s)", flush=True)
        result(got and detect <= DETECT_BOUND, f"failover to 127.0.1.2 within {DETECT_BOUND:g} s", f"{detect:.2f} s")
        rc, addrs, ttl = d.answer("web." + ORIGIN)
        result(ttl == 5, "degraded_ttl applies while region a is down", f"ttl {ttl}, answer {addrs}")

        # /v1/status shows the killed endpoint down with a reason
        code, st = http_json(control + "/v1/status")
        ep = endpoints(st, "web." + ORIGIN).get(WEB["a"], {}) if code == 200 else {}
        result(ep.get("state") == "down" and bool(ep.get("reason")) and ep.get("in_answers") is False,
               "/v1/status: killed endpoint is down with a reason", f"{ep}")

        backends["a"] = start_backend(WEB["a"], http_port)
        start = time.monotonic()
        got, _ = wait_until(lambda: answers("web." + ORIGIN) == [WEB["a"]], 10, 0.02)
        restore = time.monotonic() - start
        print(f"measured: restore (backend a listening again -> answers 127.0.1.1) = {restore:.2f} s (bound {RESTORE_BOUND:g} s)", flush=True)
        result(got and restore <= RESTORE_BOUND, f"answers return to 127.0.1.1 within {RESTORE_BOUND:g} s", f"{restore:.2f} s")
        rc, addrs, ttl = d.answer("web." + ORIGIN)
        result(ttl == 30, "normal TTL once every region is up again", f"ttl {ttl}")

        # ---------------- TLS
        result(answers("tls." + ORIGIN) == [TLS_GOOD], "tls answers the valid HTTPS pool (the dead first pool is skipped)",
               f"got {answers('tls.' + ORIGIN)}")
        code, st = http_json(control + "/v1/status")
        tls_eps = endpoints(st, "tls." + ORIGIN)
        good = tls_eps.get(TLS_GOOD, {})
        days = good.get("certificate_days_left")
        result(good.get("state") == "up" and isinstance(days, int) and 88 <= days <= 90,
               "/v1/status: valid TLS endpoint up with certificate_days_left (cert valid 90 days)", f"{good}")
        dead = tls_eps.get(TLS_DEAD, {})
        result(dead.get("state") == "down" and bool(dead.get("reason")), "/v1/status: TLS endpoint with no server is down", f"{dead}")
        bad = endpoints(st, "bad." + ORIGIN)
        wrong, expired = bad.get(TLS_WRONG, {}), bad.get(TLS_EXPIRED, {})
        print(f"  tls-wrong reason:   {wrong.get('reason')!r}", flush=True)
        print(f"  tls-expired reason: {expired.get('reason')!r}", flush=True)
        result(wrong.get("state") == "down" and "TLS" in (wrong.get("reason") or ""),
               "/v1/status: wrong-host certificate endpoint down with a TLS reason", f"{wrong}")
        result(expired.get("state") == "down" and "TLS" in (expired.get("reason") or ""),
               "/v1/status: expired certificate endpoint down with a TLS reason", f"{expired}")
        wr, er = (wrong.get("reason") or "").lower(), (expired.get("reason") or "").lower()
        result(re.search(r"host|name|mismatch", wr) is not None,
               "wrong-host reason names the host mismatch", f"{wrong.get('reason')!r}")
        result("expired" in er, "expired reason says the certificate expired", f"{expired.get('reason')!r}")
        rc, addrs, _ = d.answer("bad." + ORIGIN)
        # default all_down = fail_open: answer as if every region were up (the first pool of the order)
        result(rc == dns.rcode.NOERROR and addrs == [TLS_WRONG],
               "bad (every pool down, default all_down fail_open) answers its first pool", f"rcode {rc}, {addrs}")

        # ---------------- all down -> last-resort address, never NXDOMAIN/SERVFAIL
        result(answers("alldown." + ORIGIN) == [ALLDOWN_Y], "alldown answers its only live pool y", f"got {answers('alldown.' + ORIGIN)}")
        procs.stop(backends["y"], signal.SIGKILL)
        seen_bad = []

        def last_resort():
            rc, addrs, _ = d.answer("alldown." + ORIGIN)
            if rc != dns.rcode.NOERROR or not addrs:
                seen_bad.append((rc, addrs))
            return addrs == [ALLDOWN_LAST]

        got, took = wait_until(last_resort, 10, 0.02)
        result(got and took <= DETECT_BOUND and not seen_bad,
               f"alldown answers {ALLDOWN_LAST} when every backend is down (never NXDOMAIN/SERVFAIL/empty)",
               f"{took:.2f} s, bad answers {seen_bad[:3]}")
        try:
            r = dns.query.tcp(dns.message.make_query("alldown." + ORIGIN, "A"), "127.0.0.1", port=dns_port, timeout=2)
            tcp = sorted(rd.address for rrset in r.answer for rd in rrset)
            result(r.rcode() == dns.rcode.NOERROR and tcp == [ALLDOWN_LAST], "alldown over TCP too", f"{tcp}")
        except Exception as e:
            result(False, "alldown over TCP too", str(e))

        # ---------------- script checks
        result(answers("script." + ORIGIN) == [SCRIPT_UP], "script: marker present -> endpoint up", f"got {answers('script.' + ORIGIN)}")
        os.unlink(marker)
        start = time.monotonic()
        got, _ = wait_until(lambda: answers("script." + ORIGIN) == [SCRIPT_SPARE], 10, 0.02)
        took = time.monotonic() - start
        code, st = http_json(control + "/v1/status")
        ep = endpoints(st, "script." + ORIGIN).get(SCRIPT_UP, {})
        result(got and took <= DETECT_BOUND and ep.get("state") == "down" and "exit 1" in (ep.get("reason") or ""),
               f"script: marker removed -> down within {DETECT_BOUND:g} s", f"{took:.2f} s, {ep}")
        open(marker, "w").close()
        start = time.monotonic()
        got, _ = wait_until(lambda: answers("script." + ORIGIN) == [SCRIPT_UP], 10, 0.02)
        took = time.monotonic() - start
        result(got and took <= RESTORE_BOUND, f"script: marker back -> up within {RESTORE_BOUND:g} s", f"{took:.2f} s")

        ep = endpoints(st, "hang." + ORIGIN).get(HANG, {})
        result(ep.get("state") == "down" and "timeout" in (ep.get("reason") or ""),
               "hanging script: down with a timeout reason", f"{ep}")
        slow = []
        for _ in range(20):
            t = time.monotonic()
            rc, addrs, _ = d.answer("hang." + ORIGIN)
            if rc != dns.rcode.NOERROR or addrs != [HANG_SPARE] or time.monotonic() - t > 0.5:
                slow.append((rc, addrs, round(time.monotonic() - t, 3)))
            time.sleep(0.05)
        result(not slow, "hanging script: Meridian keeps answering (20 queries, each < 0.5 s)", f"{slow[:3]}")
        # the script was killed: its own process dies at the timeout; its child (sleep 30) must not
        # outlive it either (every probe would leave one behind otherwise)
        lingering = find_procs(sleeper)
        info = []
        for pid in lingering[:3]:
            try:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                info.append(f"pid {pid} ppid {fields[1]} pgid {fields[2]}")
            except OSError:
                pass
        zombies = 0
        for entry in os.listdir("/proc"):
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split() if entry.isdigit() else []
            except OSError:
                continue
            if fields and fields[0] == "Z" and fields[1] == str(meridian.pid):
                zombies += 1
        result(len(lingering) <= 1, "hanging script: its child processes do not outlive the timeout kill",
               f"{len(lingering)} '{os.path.basename(sleeper)} 30' children of killed scripts alive (meridian pid {meridian.pid}): "
               f"{info}; {zombies} unreaped (zombie) script processes under meridian")

        # ---------------- overrides, token, persistence
        ctl = [binary, "ctl", "--control", control]
        r = subprocess.run(ctl + ["override", "endpoint", WEB["a"], "drain"], capture_output=True, text=True, timeout=30, env=env)
        result(r.returncode != 0, "ctl override without --token is refused", f"exit {r.returncode}, {r.stdout.strip()[:120]!r}")
        code, _ = http_json(control + "/v1/override", "POST", {"scope": "endpoint", "name": WEB["a"], "state": "drain"})
        result(code == 401, "POST /v1/override without a token -> 401", f"HTTP {code}")
        code, _ = http_json(control + "/v1/override", "POST", {"scope": "endpoint", "name": WEB["a"], "state": "drain"}, token="wrong")
        result(code == 401, "POST /v1/override with a wrong token -> 401", f"HTTP {code}")
        result(answers("web." + ORIGIN) == [WEB["a"]], "refused writes changed nothing", f"got {answers('web.' + ORIGIN)}")

        r = subprocess.run(ctl + ["--token", TOKEN, "override", "endpoint", WEB["a"], "drain"],
                           capture_output=True, text=True, timeout=30, env=env)
        got, took = wait_until(lambda: answers("web." + ORIGIN) == [WEB["b"]], 2)
        result(r.returncode == 0 and got, "ctl override endpoint 127.0.1.1 drain removes it from web's answers",
               f"exit {r.returncode}, {took:.2f} s, {r.stderr.strip()[:200]}")

        procs.stop(meridian)
        result(meridian.returncode is not None, "meridian stops on SIGTERM", f"exit {meridian.returncode}")
        meridian, took = start_meridian()
        first = answers("web." + ORIGIN)
        stays, _ = wait_until(lambda: answers("web." + ORIGIN) != [WEB["b"]], RISE * INTERVAL + 1.5)
        result(first == [WEB["b"]] and not stays,
               "after a restart the drain override is still in force (answers stay on 127.0.1.2)",
               f"first answer {first}, later {answers('web.' + ORIGIN)}")
        code, st = http_json(control + "/v1/status")
        ovr = st.get("overrides", []) if code == 200 else []
        a_ep = endpoints(st, "web." + ORIGIN).get(WEB["a"], {})
        result({"target": f"endpoint {WEB['a']}", "state": "drain"} in ovr and a_ep.get("state") == "up"
               and a_ep.get("in_answers") is False,
               "/v1/status after restart lists the override (endpoint probed up, not in answers)", f"{ovr}, {a_ep}")
        r = subprocess.run(ctl + ["--token", TOKEN, "override", "endpoint", WEB["a"], "clear"],
                           capture_output=True, text=True, timeout=30, env=env)
        got, took = wait_until(lambda: answers("web." + ORIGIN) == [WEB["a"]], 2)
        result(r.returncode == 0 and got, "override clear restores 127.0.1.1", f"exit {r.returncode}, {took:.2f} s")
        code, st = http_json(control + "/v1/status")
        result(code == 200 and st.get("overrides") == [], "no override left after clear", f"{st.get('overrides')}")
        try:
            persisted = json.load(open(os.path.join(tmp, "overrides.json")))
        except (OSError, ValueError) as e:
            persisted = str(e)
        result(persisted == [], "state file empty after clear", f"{persisted}")

        # ---------------- `meridian check` errors at file:line
        config_errors(binary, tmp)
    except Exception as e:
        result(False, "test harness", f"{type(e).__name__}: {e}")
    finally:
        procs.stop_all()
        # script children re-parented away from Meridian (found by their unique path) are ours too
        if sleeper:
            for pid in find_procs(sleeper):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        # reap what was re-parented to us (bounded)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.05)
        if tally.failed and os.path.exists(log_path):
            print("--- meridian log (tail) ---\n" + open(log_path).read()[-4000:], file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{tally.passed} passed, {tally.failed} failed", flush=True)
    return 1 if tally.failed else 0


def find_procs(path):
    """PIDs whose command line starts with `path` (the hanging script's sleep children)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].decode(errors="replace") == path:
            pids.append(int(entry))
    return pids


if __name__ == "__main__":
    sys.exit(main())
