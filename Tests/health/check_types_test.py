#!/usr/bin/env python3
"""check_types_test.py BIN -- the `dns`, `file`, `tcp` and `tcp-half-open` health check types against the
real binary.

dns: endpoint 127.0.0.1 is Meridian itself (SOA of the test zone, expect NOERROR) -> up; 127.0.0.2 on the
same port has nothing listening -> down. file: a state file with lines "ADDRESS up|down", changed while
Meridian runs. tcp: 127.0.0.1 has a listener (up), 127.0.0.3 nothing (refused, down), 127.0.0.4 a
listener whose accept queue is full (SYNs dropped: timeout, down); the listener is closed and reopened;
a reload moves the live endpoint to a check on another port (the old probes must stop).
tcp-half-open (needs root/CAP_NET_RAW, as make test runs): the same three cases on their own listener
port, which must never see a connection, plus ::1 listening and ::1 refused; closed and reopened; and a
configuration giving a half-open check a host name is refused at start. Out of descriptors: 60 http
endpoints behind a slow listener, Meridian under a low open-files limit: probes that get EMFILE are no
verdict (a warning), and no endpoint is withdrawn.
Prints PASS:/FAIL: lines and "N passed, M failed"; every wait is bounded; the server is
killed by PID at the end.
"""
import json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time, urllib.request
import dns.message, dns.query, dns.rdatatype

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from meridian_testlib import Tally, free_port, stop_process  # noqa: E402

BIN = sys.argv[1]
tally = Tally()


def check(name, ok, why=""):
    tally.result(ok, name, why)


def answer(port, name):
    q = dns.message.make_query(name, "A")
    try:
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=1.0)
    except Exception:
        return None
    return sorted(a.address for rr in r.answer if rr.rdtype == dns.rdatatype.A for a in rr)


def wait_for(port, name, want, seconds):
    deadline = time.time() + seconds
    got = None
    while time.time() < deadline:
        got = answer(port, name)
        if got == want:
            return True, got
        time.sleep(0.1)
    return False, got


def status(cport):
    with urllib.request.urlopen("http://127.0.0.1:%d/v1/status" % cport, timeout=2) as r:
        return json.load(r)


def endpoint_state(st, service, address, check_name=None):
    for s in st["services"]:
        if s["name"] == service:
            for reg in s["regions"]:
                for e in reg["endpoints"]:
                    if e["address"] == address and check_name in (None, e.get("check")):
                        return e.get("state"), e.get("reason")
    return None, None


def listening_refused_dropped(label, service, up_word, refused_word):
    """127.0.0.1 listening -> up, 127.0.0.3 closed -> down (refused), 127.0.0.4 full queue -> down (timeout)."""
    ok, got = wait_for(port, service, ["127.0.0.1"], 5)
    check("%s: refused and dropped endpoints down, the listening one answers" % label, ok, "got %s" % got)
    st = status(cport)
    s_live, r_live = endpoint_state(st, service, "127.0.0.1")
    s_ref, r_ref = endpoint_state(st, service, "127.0.0.3")
    s_drop, r_drop = endpoint_state(st, service, "127.0.0.4")
    check("%s: listening endpoint up (%s)" % (label, up_word), s_live == "up" and up_word in (r_live or ""), "%s %s" % (s_live, r_live))
    check("%s: refused endpoint down (%s)" % (label, refused_word), s_ref == "down" and refused_word in (r_ref or "").lower(),
          "%s %s" % (s_ref, r_ref))
    check("%s: dropped SYNs -> down on timeout" % label, s_drop == "down" and "timeout" in (r_drop or ""), "%s %s" % (s_drop, r_drop))
    return st


def closed_and_back(label, service, listener, reopen):
    """Closes the listener: down within 5 s (all down fails open to the first region); reopens it: up again."""
    listener.close()
    t0 = time.time()
    ok, got = wait_for(port, service, ["127.0.0.3"], 5)
    check("%s: listener closed -> down within 5 s (%.2f s), all down fails open" % (label, time.time() - t0), ok, "got %s" % got)
    listener = reopen()
    t0 = time.time()
    ok, got = wait_for(port, service, ["127.0.0.1"], 5)
    check("%s: listener back -> up again within 5 s (%.2f s)" % (label, time.time() - t0), ok, "got %s" % got)
    return listener


class Listener:
    """Accepts and closes TCP connections on 127.0.0.1:port (or `host`) in a thread, until closed;
    counts the connections it accepted."""

    def __init__(self, port, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.accepted = 0
        self.open = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.open:
            try:
                c, _ = self.sock.accept()
                self.accepted += 1
                c.close()
            except OSError:
                continue

    def close(self):
        if not self.open:
            return
        self.open = False
        self.thread.join(2)
        self.sock.close()


def config_head(dns_port, control):
    """The part every configuration here shares: listen, the test zone, the control API."""
    return """listen: ["127.0.0.1:%d"]
zones:
  - origin: ct.test.
    file: zone.db
control: { listen: %s }
state_dir: %s/state
""" % (dns_port, control, d)


d = tempfile.mkdtemp(prefix="meridian-checktypes.")
port, cport, tport, hport, hclosed = free_port(), free_port(), free_port(), free_port(), free_port()
live = Listener(tport)
hlive, hlive6 = Listener(hport), Listener(hport, "::1")
# 127.0.0.4: a listener that never accepts, its queue filled, so further SYNs are dropped (timeout)
fulls, fillers = [], []
for p in (tport, hport):
    full = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    full.bind(("127.0.0.4", p))
    full.listen(0)
    fulls.append(full)
    for _ in range(3):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        c.connect_ex(("127.0.0.4", p))
        fillers.append(c)
time.sleep(0.2)
state_file = os.path.join(d, "state.txt")
with open(state_file, "w") as f:
    f.write("127.0.1.21 up\n127.0.1.22 up\n")
with open(os.path.join(d, "zone.db"), "w") as f:
    f.write("$ORIGIN ct.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 604800 300\n@ NS ns1\nns1 A 127.0.0.1\n"
            "dnsc 30 A 192.0.2.200\nfilec 30 A 192.0.2.200\ntcpc 30 A 192.0.2.200\nhalfc 30 A 192.0.2.200\n"
            "half6c 30 A 192.0.2.200\n")
config = config_head(port, '"127.0.0.1:%d"' % cport) + ("""health: { wait_first_round: false }
checks:
  self-dns: { type: dns, port: %d, query: ct.test., expect: NOERROR, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }
  ext-file: { type: file, file: state.txt, interval: 1s, timeout: 500ms, rise: 1, fall: 1 }
  tcp-port: { type: tcp, port: %d, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }
  half: { type: tcp-half-open, port: %d, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }
  half-closed: { type: tcp-half-open, port: %d, interval: 1s, timeout: 500ms, rise: 1, fall: 1 }
services:
  dnsc.ct.test.:
    policy: failover
    order: [a, b]
    pools:
      a: { addresses: [127.0.0.2], check: self-dns }
      b: { addresses: [127.0.0.1], check: self-dns }
  filec.ct.test.:
    policy: failover
    order: [a, b]
    pools:
      a: { addresses: [127.0.1.21], check: ext-file }
      b: { addresses: [127.0.1.22], check: ext-file }
  tcpc.ct.test.:
    policy: failover
    order: [refused, dropped, live]
    pools:
      refused: { addresses: [127.0.0.3], check: tcp-port }
      dropped: { addresses: [127.0.0.4], check: tcp-port }
      live: { addresses: [127.0.0.1], check: tcp-port }
  halfc.ct.test.:
    policy: failover
    order: [refused, dropped, live]
    pools:
      refused: { addresses: [127.0.0.3], check: half }
      dropped: { addresses: [127.0.0.4], check: half }
      live: { addresses: [127.0.0.1], check: half }
  half6c.ct.test.:
    policy: failover
    order: [refused, live]
    pools:
      refused: { addresses: ["::1"], check: half-closed }
      live: { addresses: ["2001:db8::53", "::1"], check: half }
""" % (port, tport, hport, hclosed))
with open(os.path.join(d, "m.yaml"), "w") as f:
    f.write(config)
log = open(os.path.join(d, "log"), "w")
proc = subprocess.Popen([BIN, "serve", "--config", os.path.join(d, "m.yaml")], stdout=log, stderr=log)
try:
    ok, got = wait_for(port, "ct.test.", [], 15)  # SOA name: any answer means the server is up
    ok, got = wait_for(port, "dnsc.ct.test.", ["127.0.0.1"], 8)
    check("dns check: 127.0.0.2 (nothing listening) down, so failover answers 127.0.0.1 (Meridian answering itself)",
          ok, "got %s" % got)
    st = status(cport)
    s_up, r_up = endpoint_state(st, "dnsc.ct.test.", "127.0.0.1")
    s_down, r_down = endpoint_state(st, "dnsc.ct.test.", "127.0.0.2")
    check("dns check: self endpoint up with an rcode reason", s_up == "up" and "rcode 0" in (r_up or ""), "%s %s" % (s_up, r_up))
    check("dns check: dead endpoint down with a reason", s_down == "down" and bool(r_down), "%s %s" % (s_down, r_down))

    ok, got = wait_for(port, "filec.ct.test.", ["127.0.1.21"], 5)
    check("file check: both up -> first region answers", ok, "got %s" % got)
    with open(state_file, "w") as f:
        f.write("127.0.1.21 down\n127.0.1.22 up\n")
    t0 = time.time()
    ok, got = wait_for(port, "filec.ct.test.", ["127.0.1.22"], 4)
    check("file check: state file says down -> next region within 4 s (%.2f s)" % (time.time() - t0), ok, "got %s" % got)
    with open(state_file, "w") as f:
        f.write("up\n")
    ok, got = wait_for(port, "filec.ct.test.", ["127.0.1.21"], 4)
    check("file check: a single word applies to every endpoint", ok, "got %s" % got)
    os.unlink(state_file)
    time.sleep(2.5)
    st = status(cport)
    s, r = endpoint_state(st, "filec.ct.test.", "127.0.1.21")
    check("file check: a missing file marks endpoints down with a reason", s == "down" and "unreadable" in (r or ""), "%s %s" % (s, r))
    ok, got = wait_for(port, "filec.ct.test.", ["127.0.1.21"], 2)
    check("file check: all down -> fail open to the first region (never an empty answer)", ok, "got %s" % got)

    listening_refused_dropped("tcp check", "tcpc.ct.test.", "connected", "refused")
    live = closed_and_back("tcp check", "tcpc.ct.test.", live, lambda: Listener(tport))

    # tcp-half-open: SYN-ACK -> up, RST -> down, dropped SYNs -> timeout; no connection is ever made
    st = listening_refused_dropped("half-open", "halfc.ct.test.", "SYN-ACK", "rst")
    s6, r6 = endpoint_state(st, "half6c.ct.test.", "::1", "half")
    s6d, r6d = endpoint_state(st, "half6c.ct.test.", "::1", "half-closed")
    check("half-open: IPv6 ::1 listening -> up on SYN-ACK", s6 == "up" and "SYN-ACK" in (r6 or ""), "%s %s" % (s6, r6))
    check("half-open: IPv6 ::1 closed port -> down on RST", s6d == "down" and "RST" in (r6d or ""), "%s %s" % (s6d, r6d))
    check("half-open: the listeners never accepted a connection (%d, %d)" % (hlive.accepted, hlive6.accepted),
          hlive.accepted == 0 and hlive6.accepted == 0)
    hlive = closed_and_back("half-open", "halfc.ct.test.", hlive, lambda: Listener(hport))

    # reload: the live pool moves to a check on another port; the old probes must stop
    tport2 = free_port()
    live2 = Listener(tport2)
    try:
        with open(os.path.join(d, "m.yaml"), "w") as f:
            f.write(config.replace("      live: { addresses: [127.0.0.1], check: tcp-port }",
                                   "      live: { addresses: [127.0.0.1], check: tcp-other }")
                          .replace("services:", "  tcp-other: { type: tcp, port: %d, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }\nservices:" % tport2, 1))
        proc.send_signal(signal.SIGHUP)
        time.sleep(3)
        st = status(cport)
        check("tcp check: after the reload the live endpoint is probed by the new check",
              any(e["address"] == "127.0.0.1" and e.get("check") == "tcp-other" and e.get("state") == "up"
                  for s in st["services"] if s["name"] == "tcpc.ct.test." for r in s["regions"] for e in r["endpoints"]),
              json.dumps([e for s in st["services"] if s["name"] == "tcpc.ct.test." for r in s["regions"] for e in r["endpoints"]]))
        live.close()  # the old check's port: no longer probed for this endpoint
        stable = True
        t_end = time.time() + 3
        while stable and time.time() < t_end:
            stable = answer(port, "tcpc.ct.test.") == ["127.0.0.1"]
            time.sleep(0.2)
        check("tcp check: closing the old check's port after the reload changes nothing (3 s)", stable)
        live2.close()
        t0 = time.time()
        ok, got = wait_for(port, "tcpc.ct.test.", ["127.0.0.3"], 5)
        check("tcp check: the new check's listener closed -> down within 5 s (%.2f s)" % (time.time() - t0), ok, "got %s" % got)
    finally:
        live2.close()
finally:
    live.close()
    hlive.close()
    hlive6.close()
    for c in fulls + fillers:
        c.close()
    stop_process(proc)
# a half-open check on a host name (here a CNAME pool's target) is refused at start, with file:line
bad = os.path.join(d, "bad.yaml")
with open(bad, "w") as f:
    f.write(config_head(free_port(), "off") + """checks:
  half: { type: tcp-half-open, port: 80 }
services:
  halfc.ct.test.:
    policy: failover
    pools:
      a: { cname: www.example.net., check: half }
""")
try:
    r = subprocess.run([BIN, "serve", "--config", bad], capture_output=True, text=True, timeout=20)
    check("half-open: a host-name endpoint is refused at start with file:line",
          r.returncode != 0 and "bad.yaml:" in r.stderr and "tcp-half-open probes IP addresses" in r.stderr,
          "rc %s: %s" % (r.returncode, r.stderr.strip()[-300:]))
except subprocess.TimeoutExpired:
    check("half-open: a host-name endpoint is refused at start", False, "still running after 20 s")
r = subprocess.run([BIN, "check", "--config", bad], capture_output=True, text=True, timeout=20)
check("half-open: `meridian check` refuses it the same way", r.returncode != 0 and "tcp-half-open probes IP addresses" in r.stderr,
      "rc %s: %s" % (r.returncode, r.stderr.strip()[-300:]))
# without CAP_NET_RAW (as an unprivileged user) a half-open check is refused with file:line; as root
# the same configuration passes (a copy of the binary and the files, readable by that user)
if os.geteuid() == 0 and shutil.which("setpriv"):
    ok_cfg = os.path.join(d, "half-ok.yaml")
    with open(ok_cfg, "w") as f:
        f.write(open(bad).read().replace("a: { cname: www.example.net., check: half }", "a: { addresses: [127.0.0.1], check: half }"))
    binary = os.path.join(d, "meridian")
    shutil.copy(BIN, binary)
    os.chmod(d, 0o755)
    for name in ("half-ok.yaml", "zone.db"):
        os.chmod(os.path.join(d, name), 0o644)
    os.chmod(binary, 0o755)
    r = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", binary, "check", "--config", ok_cfg],
                       capture_output=True, text=True, timeout=20)
    check("half-open: without CAP_NET_RAW `meridian check` refuses it with file:line",
          r.returncode != 0 and "half-ok.yaml:" in r.stderr and "needs CAP_NET_RAW" in r.stderr,
          "rc %s: %s" % (r.returncode, r.stderr.strip()[-300:]))
    r = subprocess.run([binary, "check", "--config", ok_cfg], capture_output=True, text=True, timeout=20)
    check("half-open: as root the same configuration passes `meridian check`", r.returncode == 0, r.stderr.strip()[-300:])
else:
    tally.skipped += 1
    print("SKIP: half-open without CAP_NET_RAW (needs root and setpriv)")
# Out of descriptors: an http probe that cannot get a socket (EMFILE) is no verdict, not "down". 60
# endpoints behind a listener that answers after 0.5 s keep ~30 probes open at once; Meridian runs
# with an open-files limit a few above what it holds idle, so many probes cannot be made.
class SlowHTTP(threading.Thread):
    """Answers every request with 200 after `delay` seconds, one thread per connection."""

    def __init__(self, port, delay):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", port))
        self.sock.listen(256)
        self.sock.settimeout(0.2)
        self.delay, self.open = delay, True
        self.start()

    def serve(self, c):
        try:
            c.settimeout(2)
            c.recv(4096)
            time.sleep(self.delay)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        except OSError:
            pass
        finally:
            c.close()

    def run(self):
        while self.open:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def close(self):
        self.open = False
        self.join(2)
        self.sock.close()


def open_files(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


import resource  # noqa: E402
eport, sport = free_port(), free_port()
addresses = ["127.2.0.%d" % i for i in range(1, 61)]
emfile_cfg = os.path.join(d, "emfile.yaml")
with open(emfile_cfg, "w") as f:
    f.write(config_head(eport, "off") + """health: { wait_first_round: false }
checks:
  slow: { type: http, port: %d, path: /, interval: 1s, timeout: 900ms, rise: 1, fall: 1 }
services:
  tcpc.ct.test.:
    policy: failover
    order: [many, spare]
    pools:
      many: { addresses: [%s], check: slow }
      spare: { addresses: [192.0.2.77] }
""" % (sport, ", ".join(addresses)))
slow = SlowHTTP(sport, 0.5)
elog_path = os.path.join(d, "emfile.log")


def run_limited(limit):
    with open(elog_path, "w") as elog:
        return subprocess.Popen([BIN, "serve", "--config", emfile_cfg], stdout=elog, stderr=elog,
                                preexec_fn=(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))) if limit else None)


def all_addresses(port):
    q = dns.message.make_query("tcpc.ct.test.", "A", use_edns=0, payload=4096)
    try:
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=1.0)
    except Exception:
        return None
    return sorted(a.address for rr in r.answer if rr.rdtype == dns.rdatatype.A for a in rr)


try:
    # what it holds between probes (the least of 20 samples with the probes running, no limit), then
    # a limit 6 above that: the ~30 probes open at once cannot all get a socket
    p0 = run_limited(None)
    ok, _ = wait_for(eport, "ct.test.", [], 15)
    time.sleep(1)
    held = []
    for _ in range(20):
        held.append(open_files(p0.pid))
        time.sleep(0.1)
    stop_process(p0)
    held = min(held)
    limit = held + 6
    proc2 = run_limited(limit)
    try:
        wait_for(eport, "ct.test.", [], 15)
        shrunk, samples = [], 0
        t_end = time.time() + 8
        while time.time() < t_end:
            got = all_addresses(eport)
            samples += 1
            if got is not None and got != sorted(addresses):
                shrunk.append(len(got))
            time.sleep(0.5)
        text = open(elog_path).read()
        check("no descriptors: the warning says probes were not made (limit %d, %d held between probes)" % (limit, held),
              "health probes not made" in text and "Too many open files" in text, text[-400:])
        check("no descriptors: probes still reach verdicts (a transition to up is logged)", "to=up" in text, text[-400:])
        check("no descriptors: no endpoint is withdrawn over 8 s (%d samples, answers with fewer than 60: %s)" % (samples, shrunk[:5]),
              not shrunk and samples >= 10)
    finally:
        stop_process(proc2)
finally:
    slow.close()

print("%d passed, %d failed, %d skipped" % (tally.passed, tally.failed, tally.skipped))
sys.exit(0 if tally.failed == 0 else 1)
