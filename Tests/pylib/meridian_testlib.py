"""Helpers shared by the Python tests (Tests/gslb, Tests/health, Tests/ops)."""
import os
import random
import signal
import socket
import subprocess
import time

_given = set()


def _bindable(host, port, kind):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(hosts="127.0.0.1"):
    """A port free for both UDP and TCP on `hosts` (one address or a list; Meridian listens on both
    protocols), below the kernel's ephemeral range (32768-60999 here): a port the kernel hands out to
    client sockets could be taken by any outgoing connection between this check and the server's
    bind. Never the same port twice in one test process."""
    hosts = [hosts] if isinstance(hosts, str) else list(hosts)
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20000, 32768)
        if port in _given:
            continue
        if all(_bindable(h, port, k) for h in hosts for k in (socket.SOCK_STREAM, socket.SOCK_DGRAM)):
            _given.add(port)
            return port
    raise RuntimeError("no free port")


class Tally:
    """Prints PASS:/FAIL:/XFAIL: lines and counts them. `detail` is printed with failures, and with
    passes too when `detail_on_pass` (for tests whose passing details are worth reading)."""

    def __init__(self, detail_on_pass=False):
        self.passed = self.failed = self.skipped = 0
        self.detail_on_pass = detail_on_pass

    def result(self, ok, what, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        show = detail and (not ok or self.detail_on_pass)
        print(("PASS: " if ok else "FAIL: ") + what + (f" ({detail})" if show else ""), flush=True)
        return ok



def stop_process(p, sig=signal.SIGTERM):
    """Stops a process this test started, by its PID: `sig`, then SIGKILL after 5 s."""
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=5)


def rss_kb(pid):
    """A process's resident set (VmRSS) in KiB, 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def run_sections(tally, sections, only=()):
    """Runs (name, fn) sections in order, each under a "# name" line; an exception in one is a
    failure of that section and the next ones still run. `only`: run just these names."""
    for name, fn in sections:
        if only and name not in only:
            continue
        print(f"# {name}", flush=True)
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - one section's crash must not hide the others
            tally.result(False, f"{name} section ran without an exception", repr(e))



def geolite2_path():
    """GeoLite2-City.mmdb of the PyPI package maxminddb-geolite2 (installed by `make test-deps`): the
    path the Makefile's GEOIP_DB names."""
    import _maxminddb_geolite2
    return os.path.join(os.path.dirname(_maxminddb_geolite2.__file__), "GeoLite2-City.mmdb")


def wait_until(pred, bound, step=0.05):
    """Polls pred() until it returns a truthy value or bound seconds pass. Returns (value, elapsed)."""
    start = time.monotonic()
    value = None
    while time.monotonic() - start < bound:
        value = pred()
        if value:
            return value, time.monotonic() - start
        time.sleep(step)
    return value, time.monotonic() - start


def wait_for(pred, timeout, step=0.05):
    """Polls pred() until it is true or `timeout` seconds pass; then asks it once more. Returns a bool."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def wait_tcp(addr, port, bound=10.0):
    """True once a TCP connection to (addr, port) succeeds, False after `bound` seconds."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((addr, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def udp_query(port, name, rdtype="A", timeout=2.0, host="127.0.0.1"):
    """One query over UDP (dnspython), the response message; raises dns.exception.Timeout."""
    import dns.message
    import dns.query
    return dns.query.udp(dns.message.make_query(name, rdtype), host, port=port, timeout=timeout)


def wait_answering(proc, port, origin, bound=20.0, host="127.0.0.1"):
    """True once the server `proc` answers `origin` SOA with NOERROR over UDP on `port`; False when it
    exits first or `bound` seconds pass."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if udp_query(port, origin, "SOA", timeout=0.3, host=host).rcode() == 0:
                return True
        except Exception:  # noqa: BLE001 - not listening yet, or a timeout: poll again
            pass
        time.sleep(0.1)
    return False
