"""Helpers shared by the Python tests (Tests/gslb, Tests/health, Tests/ops)."""
import os
import random
import signal
import socket
import subprocess

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

    def xfail(self, what, detail):
        """A check of a reported bug that still fails, counted as skipped."""
        self.skipped += 1
        print(f"XFAIL: {what} (known bug: {detail})", flush=True)
        return False


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

