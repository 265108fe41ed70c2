#!/usr/bin/env python3
"""A DNS-over-TCP client that pipelines queries and never reads its socket, against Meridian.

Usage: Tests/ops/tcp_nonreader.py BIN [QUERIES]     (QUERIES defaults to 4,000,000)

Starts `BIN serve` on a free loopback port (a small zone, `control: off`), reads the server's
resident set (VmRSS in /proc/PID/status) as a baseline, then sends QUERIES framed `www A` queries on
one connection without reading a byte of the answers, for at most SEND_SECONDS (env, default 20):
a server with backpressure stops reading, the kernel's buffers fill and the sends block, so fewer
may be sent. Prints the baseline, the peak RSS while sending, how many queries went out, and the
RSS 2 s after the client closes; the server is killed by PID at the end.

Also the helpers `tcp_abuse_test.py` uses (query building, the server process, RSS sampling).
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from meridian_testlib import free_port, rss_kb, stop_process  # noqa: E402

ORIGIN = "tcp.test."
BIG_TXT = " ".join('"' + c * 250 + '"' for c in "abcd")  # ~1 KB of RDATA per answer


def zone_text():
    return (f"$ORIGIN {ORIGIN}\n$TTL 300\n"
            "@    IN SOA ns1 hostmaster 1 3600 900 604800 60\n"
            "@    IN NS  ns1\n"
            "ns1  IN A   127.0.0.1\n"
            "www  IN A   192.0.2.10\n"
            f"big  IN TXT {BIG_TXT}\n")


def build_query(name, qtype=1, qid=0x4d52):
    """A DNS query in wire format (no RD, class IN)."""
    wire = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        wire += bytes([len(label)]) + label.encode()
    return wire + b"\x00" + struct.pack("!HH", qtype, 1)


def frame(message):
    """RFC 1035 §4.2.2: a two-octet length, then the message."""
    return struct.pack("!H", len(message)) + message


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def tcp_query(port, host="127.0.0.1", source=None, timeout=1.0):
    """One `www A` query over a new TCP connection; True when a NOERROR answer with our ID arrives."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        if source:
            s.bind((source, 0))
        s.connect((host, port))
        s.sendall(frame(build_query("www." + ORIGIN, 1, 0x1234)))
        head = recv_exact(s, 2)
        if head is None:
            return False
        body = recv_exact(s, struct.unpack("!H", head)[0])
        return body is not None and body[:2] == b"\x12\x34" and body[3] & 0x0F == 0
    except OSError:
        return False
    finally:
        s.close()


def answered_within(port, seconds, host="127.0.0.1", source=None):
    """Seconds until a fresh connection's query is answered (retrying), or None past `seconds`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if tcp_query(port, host, source, timeout=min(1.0, max(0.1, seconds - (time.monotonic() - t0)))):
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


class Server:
    """`BIN serve` on 127.0.0.1 and ::1 with the test zone and `server:` settings from `server_keys`."""

    def __init__(self, bin_path, server_keys):
        self.tmp = tempfile.mkdtemp(prefix="meridian-tcp.")
        self.port = free_port(["127.0.0.1", "::1"])
        with open(os.path.join(self.tmp, "zone.db"), "w") as f:
            f.write(zone_text())
        keys = "".join(f"  {k}: {v}\n" for k, v in server_keys.items())
        with open(os.path.join(self.tmp, "meridian.yaml"), "w") as f:
            f.write(f'listen: ["127.0.0.1:{self.port}", "[::1]:{self.port}"]\n'
                    f"zones:\n  - origin: {ORIGIN}\n    file: zone.db\n"
                    f"server:\n{keys}control:\n  listen: off\nstate_dir: {self.tmp}/state\n")
        self.log = open(os.path.join(self.tmp, "log"), "w")
        self.proc = subprocess.Popen([bin_path, "serve", "--config", os.path.join(self.tmp, "meridian.yaml")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.proc.poll() is None:
            if tcp_query(self.port, timeout=0.3):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"meridian did not answer over TCP within 15 s: {self.log_tail()}")

    def rss_kb(self):
        return rss_kb(self.proc.pid)

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self):
        try:
            with open(os.path.join(self.tmp, "log")) as f:
                return " | ".join(line.strip() for line in f.readlines()[-10:])
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            stop_process(self.proc, signal.SIGKILL)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def pipeline_without_reading(server, queries, qname, qtype, send_seconds, during=None):
    """Sends `queries` framed queries on one connection, never reading, for at most `send_seconds`;
    samples the server's RSS every 50 ms meanwhile (and 0.5 s after). `during` runs once, 1 s in.
    Closes the connection (unread answers make it a reset) and returns
    (queries sent, peak RSS in kB, during's result)."""
    one = frame(build_query(qname, qtype))
    chunk = one * 2048
    total = len(one) * queries
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(0.2)
    sent = [0]
    stop = threading.Event()

    def sender():
        end = time.monotonic() + send_seconds
        while sent[0] < total and time.monotonic() < end and not stop.is_set():
            off = sent[0] % len(chunk)  # chunk holds whole frames: continue where the last send stopped
            piece = chunk[off: off + min(len(chunk) - off, total - sent[0])]
            try:
                sent[0] += s.send(piece)
            except socket.timeout:
                continue  # the server is not reading: the kernel's buffers are full
            except OSError:
                return  # the server closed the connection

    thread = threading.Thread(target=sender, daemon=True)
    t0 = time.monotonic()
    thread.start()
    peak = server.rss_kb()
    result = None
    ran = during is None
    while thread.is_alive() or time.monotonic() - t0 < 1.5:
        peak = max(peak, server.rss_kb())
        if not ran and time.monotonic() - t0 >= 1.0:
            result, ran = during(), True
        thread.join(0.05)
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        peak = max(peak, server.rss_kb())
        time.sleep(0.05)
    stop.set()
    thread.join(2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    return sent[0] // len(one), peak, result


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__)
        return 2
    queries = int(sys.argv[2]) if len(sys.argv) == 3 else 4_000_000
    send_seconds = float(os.environ.get("SEND_SECONDS", "20"))
    server = Server(os.path.abspath(sys.argv[1]), {"workers": 2, "tcp_idle_timeout": "60s"})
    try:
        for _ in range(100):
            tcp_query(server.port)
        time.sleep(0.5)
        base = server.rss_kb()
        sent, peak, _ = pipeline_without_reading(server, queries, "www." + ORIGIN, 1, send_seconds)
        time.sleep(2)
        after = server.rss_kb()
        answered = tcp_query(server.port)
        print(f"queries: {queries} pipelined without reading, {sent} sent within {send_seconds:g} s")
        print(f"RSS baseline {base / 1024:.1f} MB, peak {peak / 1024:.1f} MB, "
              f"2 s after the client closed {after / 1024:.1f} MB; a new TCP query answered: {answered}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
