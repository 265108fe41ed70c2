#!/usr/bin/env python3
"""The control API under a flood of idle connections (a measurement for `make soak`).

Usage: Tests/ops/control_flood.py BIN [CONNECTIONS]     (default 20,000)

Starts `BIN serve` with the default control limits (256 connections, 10 s idle timeout), opens
CONNECTIONS connections to the control port as fast as it can and keeps every one it gets open
(raising its own open-files limit to the hard limit), then measures while they are held: the time
GET /v1/status takes on a new connection, a DNS query over TCP, a SIGHUP reload, and the server's
descriptor count. Prints the figures and PASS/FAIL lines; exits 1 on a failure.
"""
import os
import resource
import signal
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hardening_test import ORIGIN, Server, result, tally  # noqa: E402


PER_PROCESS = 8000  # connections one holder process keeps (its open-files limit is 20,000 here)


def split(count):
    return [min(PER_PROCESS, count - k) for k in range(0, count, PER_PROCESS)]


class Holder:
    """A child process that opens `count` connections, reports how many it got, and holds them
    until told to stop (one process alone would run out of descriptors)."""

    def __init__(self, port, count):
        self.read_end, write_end = os.pipe()
        self.stop_read, self.stop_write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.read_end)
            socks = []
            for _ in range(count):
                try:
                    socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
                except OSError:
                    pass
            os.write(write_end, str(len(socks)).encode() + b"\n")
            os.read(self.stop_read, 1)  # until the parent says stop (or exits)
            os._exit(0)
        os.close(write_end)

    def wait_connected(self):
        data = b""
        while not data.endswith(b"\n"):
            chunk = os.read(self.read_end, 64)
            if not chunk:
                return 0
            data += chunk
        return int(data)

    def stop(self):
        os.write(self.stop_write, b"x")
        os.waitpid(self.pid, 0)


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        return 2
    bin_path = os.path.abspath(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) == 3 else 20000
    tmp = tempfile.mkdtemp(prefix="meridian-flood.")
    server = Server(bin_path, tmp, control_limits="")
    holders = []
    try:
        if not result(server.start(), "flood: serve starts"):
            return 1
        t0 = time.monotonic()
        for share in split(count):
            holders.append(Holder(server.control_port, share))
        connected = sum(h.wait_connected() for h in holders)
        print(f"# {count} connection attempts in {time.monotonic() - t0:.1f} s from {len(holders)} processes: "
              f"{connected} connected, {count - connected} failed", flush=True)
        t0 = time.monotonic()
        st, _, _ = server.http("GET", "/v1/status")
        took = time.monotonic() - t0
        result(st == 200, f"flood: GET /v1/status answered in {took * 1000:.0f} ms with the flood's connections held", f"{st}")
        t0 = time.monotonic()
        r = server.query(ORIGIN, "SOA", tcp=True)
        result(r.rcode() == 0, f"flood: DNS over TCP answered in {(time.monotonic() - t0) * 1000:.0f} ms")
        os.kill(server.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "reloaded" not in server.log_text() and "reload failed" not in server.log_text():
            time.sleep(0.1)
        result("reloaded" in server.log_text() and "Too many open files" not in server.log_text(), "flood: a SIGHUP reload succeeds")
        fds = len(os.listdir(f"/proc/{server.proc.pid}/fd"))
        result(fds < 400, f"flood: the server holds {fds} descriptors (control cap 256)")
        result(server.alive(), "flood: the server is still running")
    finally:
        for h in holders:
            h.stop()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{tally.passed} passed, {tally.failed} failed, {tally.skipped} skipped")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
