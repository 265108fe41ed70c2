#!/usr/bin/env python3
"""DNS-over-TCP abuse test for Meridian: backpressure, connection caps and timeouts (RFC 7766 §6.2).

Usage: Tests/ops/tcp_abuse_test.py BIN      (BIN = .build/debug/meridian or .build/release/meridian)

Two servers on free loopback ports (helpers in tcp_nonreader.py):
  A: tcp_max_connections 10, tcp_idle_timeout 10s, tcp_message_timeout 2s
     - busy timeout: 3 idle connections stay open (not more than half the slots); 3 more make 6 of
       10, and idle ones are closed within 1 s (the 200 ms busy idle timeout), not after 10 s, until
       no more than half the slots are in use
     - message deadline: 3 connections dripping a query one byte every 0.5 s are closed 2 s after
       their first byte (each byte restarts the idle timer, not the message deadline)
     - 20 idle connections held against a cap of 10: a fresh client is answered within 2 s
     - 10 connections dripping one byte a second fill the cap: a fresh client is answered within 2 s
  B: tcp_max_connections 24, tcp_max_connections_per_client 10, tcp_idle_timeout 10s,
     tcp_message_timeout 2s
     - a client pipelines 200,000 queries for a ~1 KB TXT answer and never reads: the server's RSS
       stays under baseline + 64 MB, a normal TCP query is answered meanwhile, and RSS is back within
       30 MB of the baseline 3 s after the client goes
     - a client that pipelines 10,000 of those queries and starts reading 1 s later (the server
       pauses meanwhile) gets every answer, in order
     - 25 idle connections from 127.0.0.1: the 15 oldest are closed to make room (per-client cap 10)
       and a new connection from 127.0.0.1 is answered
     - 10 connections from 127.0.0.1 each with a message in progress (none idle): a new one from
       127.0.0.1 is refused, one from 127.0.0.2 is answered

Prints one PASS:/FAIL: line per check and "N passed, M failed"; exits 1 on any failure. Loopback
only; every wait is bounded; the servers are killed by PID at the end. About 25 s.
"""
import os
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from meridian_testlib import Tally, run_sections  # noqa: E402
from tcp_nonreader import (ORIGIN, Server, answered_within, build_query, frame, pipeline_without_reading,  # noqa: E402
                           recv_exact, tcp_query)

tally = Tally(detail_on_pass=True)
result = tally.result


def connect(port, n, source=None):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source:
            s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def close_all(socks):
    for s in socks:
        s.close()
    time.sleep(0.3)  # the server sees the EOFs and forgets the connections


def closed_within(socks, seconds):
    """Seconds after which the server had closed each socket (None: still open at `seconds`)."""
    t0 = time.monotonic()
    closed = [None] * len(socks)
    while time.monotonic() - t0 < seconds and None in closed:
        open_socks = [s for s, c in zip(socks, closed) if c is None]
        readable, _, _ = select.select(open_socks, [], [], max(0.0, min(0.05, seconds - (time.monotonic() - t0))))
        for s in readable:
            k = socks.index(s)
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                closed[k] = time.monotonic() - t0
    return closed


class Dripper(threading.Thread):
    """Sends a framed query one byte every `interval` s on each socket for at most `seconds`, noting
    when the server closes each."""

    def __init__(self, socks, interval, seconds):
        super().__init__(daemon=True)
        self.socks, self.interval, self.seconds = socks, interval, seconds
        self.closed = [None] * len(socks)
        self.payload = frame(build_query("www." + ORIGIN))

    def run(self):
        t0 = time.monotonic()
        byte = 0
        while time.monotonic() - t0 < self.seconds and None in self.closed:
            for k, s in enumerate(self.socks):
                if self.closed[k] is None:
                    try:
                        s.send(self.payload[byte:byte + 1])
                    except OSError:
                        self.closed[k] = time.monotonic() - t0
            byte += 1
            tick_end = min(t0 + self.seconds, time.monotonic() + self.interval)
            while time.monotonic() < tick_end and None in self.closed:
                open_socks = [s for s, c in zip(self.socks, self.closed) if c is None]
                readable, _, _ = select.select(open_socks, [], [], max(0.0, min(0.05, tick_end - time.monotonic())))
                for s in readable:
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        self.closed[self.socks.index(s)] = time.monotonic() - t0


def pipeline_then_read(port, n):
    """Sends `n` TXT queries (IDs 0..n-1) with a small receive buffer, waits 1 s without reading (the
    server's answers outgrow the socket buffers: it pauses), then reads: (answers read, all in order)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    data = b"".join(frame(build_query("big." + ORIGIN, 16, i)) for i in range(n))
    sender = threading.Thread(target=lambda: s.sendall(data), daemon=True)
    sender.start()
    time.sleep(1.0)
    got, in_order = 0, True
    try:
        for i in range(n):
            head = recv_exact(s, 2)
            body = head and recv_exact(s, int.from_bytes(head, "big"))
            if not body:
                break
            in_order = in_order and int.from_bytes(body[:2], "big") == i
            got += 1
    except OSError:
        pass
    sender.join(2)
    s.close()
    return got, in_order


def fmt(times):
    return "[" + ", ".join("open" if t is None else f"{t:.2f}" for t in times) + "]"


def server_a_checks(bin_path):
    server = Server(bin_path, {"workers": 2, "tcp_idle_timeout": "10s", "tcp_max_connections": 10,
                               "tcp_message_timeout": "2s"})
    try:
        print("# busy idle timeout", flush=True)
        first = connect(server.port, 3)
        quiet = closed_within(first, 1.0)
        result(quiet == [None] * 3, "3 idle connections of 10 slots stay open for 1 s (not busy)", fmt(quiet))
        more = connect(server.port, 3)
        busy = closed_within(first + more, 1.5)
        closed = [t for t in busy if t is not None]
        result(closed and min(closed) <= 1.0 and len(busy) - len(closed) <= 5,
               "6 of 10 slots in use: idle connections are closed within 1 s (busy timeout), not 10 s, "
               "until no more than half are in use", fmt(busy))
        close_all(first + more)

        print("# message deadline", flush=True)
        drips = connect(server.port, 3)
        dripper = Dripper(drips, 0.5, 5.0)
        dripper.start()
        dripper.join(6)
        ok = None not in dripper.closed and all(1.5 <= t <= 3.5 for t in dripper.closed)
        result(ok, "connections dripping one byte every 0.5 s are closed by the 2 s message deadline",
               fmt(dripper.closed))
        close_all(drips)

        print("# idle connections over the cap", flush=True)
        held = connect(server.port, 20)
        t = answered_within(server.port, 2.0)
        result(t is not None, "20 idle connections held against a cap of 10: a fresh client is answered within 2 s",
               f"after {t:.2f} s" if t is not None else "not answered")
        close_all(held)

        print("# dripping connections filling the cap", flush=True)
        drips = connect(server.port, 10)
        dripper = Dripper(drips, 1.0, 3.0)
        dripper.start()
        time.sleep(0.3)
        t = answered_within(server.port, 2.0)
        dripper.join(4)
        result(t is not None, "10 connections dripping 1 byte/s fill the cap of 10: a fresh client is answered within 2 s",
               (f"after 0.3 + {t:.2f} s" if t is not None else "not answered") + f"; drips closed at {fmt(dripper.closed)}")
        close_all(drips)
        result(server.alive(), "server A still running")
    finally:
        server.stop()


def server_b_checks(bin_path):
    server = Server(bin_path, {"workers": 2, "tcp_idle_timeout": "10s", "tcp_max_connections": 24,
                               "tcp_max_connections_per_client": 10, "tcp_message_timeout": "2s"})
    try:
        print("# a client that pipelines and never reads", flush=True)
        for _ in range(50):
            tcp_query(server.port)
        time.sleep(0.3)
        base = server.rss_kb()
        sent, peak, answered = pipeline_without_reading(server, 200_000, "big." + ORIGIN, 16, 5.0,
                                                        during=lambda: tcp_query(server.port, timeout=2.0))
        result(peak <= base + 64 * 1024, "RSS stays under baseline + 64 MB while a client pipelines and never reads",
               f"baseline {base / 1024:.1f} MB, peak {peak / 1024:.1f} MB, {sent} queries sent")
        result(bool(answered), "a normal TCP query is answered meanwhile")
        after = server.rss_kb()
        deadline = time.monotonic() + 3.0
        while after > base + 30 * 1024 and time.monotonic() < deadline:
            time.sleep(0.1)
            after = server.rss_kb()
        result(after <= base + 30 * 1024, "RSS is back within 30 MB of the baseline after the client goes",
               f"baseline {base / 1024:.1f} MB, after {after / 1024:.1f} MB")

        got, in_order = pipeline_then_read(server.port, 10_000)
        result(got == 10_000 and in_order,
               "a client that pipelines 10,000 queries (~10 MB of answers) and reads only after 1 s gets every answer, in order",
               f"{got} answers, in order: {in_order}")

        print("# per-client cap", flush=True)
        stalled = connect(server.port, 25)
        closed = closed_within(stalled, 0.5)
        n_closed = sum(c is not None for c in closed)
        result(n_closed == 15 and closed[0] is not None,
               "25 idle connections from one address, per-client cap 10: its 15 oldest are closed to make room",
               fmt(closed))
        ok = tcp_query(server.port, timeout=1.0)
        result(ok, "then a new connection from the same address is answered")
        close_all(stalled)

        drips = connect(server.port, 10)
        dripper = Dripper(drips, 0.5, 1.5)
        dripper.start()
        time.sleep(0.3)
        same = tcp_query(server.port, timeout=1.0)
        other = tcp_query(server.port, source="127.0.0.2", timeout=1.0)
        dripper.join(3)
        result(not same, "10 connections from 127.0.0.1 with messages in progress: a new one from 127.0.0.1 is refused")
        result(other, "and a new one from 127.0.0.2 is answered")
        close_all(drips)
        result(server.alive(), "server B still running")
    finally:
        server.stop()


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    bin_path = os.path.abspath(sys.argv[1])
    t0 = time.monotonic()
    run_sections(tally, [(f.__name__, lambda f=f: f(bin_path)) for f in (server_a_checks, server_b_checks)])
    print(f"{tally.passed} passed, {tally.failed} failed ({time.monotonic() - t0:.1f} s)")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
