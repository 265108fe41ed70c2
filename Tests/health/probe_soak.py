#!/usr/bin/env python3
"""Soak of Meridian's health probes against misbehaving backends: descriptors and CPU over time.

Usage: DURATION=600 Tests/health/probe_soak.py BIN      (BIN = path to the meridian binary)

Starts, in this process (asyncio on a thread), backends on loopback that misbehave on every
connection: one that accepts and never answers, one that sends a status line then a header line every
second, one that reads the TLS ClientHello and never replies, one that sends a body without end, and a
UDP echo server (a DNS check's query comes back as it was sent). Each listens on PER_KIND (4) addresses
of 127.0.3.0/24; the endless body is probed by an http check with a body substring and by one without. `BIN serve` runs with http, https and dns checks (interval 1 s, timeout 500 ms) on all of
them, for DURATION seconds (default 600). Every 30 s, and at the end, prints the server's open
descriptors (the entries of /proc/PID/fd) and its CPU use over the last period (utime+stime deltas of
/proc/PID/stat), and the backends' open connections; at the end, each endpoint's state and reason.

Exits 1 if the server exits early or its descriptors grew by more than FD_SLACK (16) from the first
sample to the last; 0 otherwise. Every process started is stopped by PID at the end.
"""
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from meridian_testlib import free_port, stop_process  # noqa: E402

DURATION = float(os.environ.get("DURATION", "600"))
PERIOD = 30.0
PER_KIND = 4
FD_SLACK = 16
CLK_TCK = os.sysconf("SC_CLK_TCK")
KINDS = ["never", "slow", "tls", "endless", "endless-status", "echo"]
ADDRESSES = {kind: [f"127.0.3.{10 * (i + 1) + j}" for j in range(PER_KIND)] for i, kind in enumerate(KINDS)}


class Backends:
    """The misbehaving backends, on an asyncio loop in a thread; counts connections open now."""

    def __init__(self, tcp_port, udp_port):
        self.tcp_port, self.udp_port = tcp_port, udp_port
        self.open = 0
        self.accepted = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.servers = []
        self.transports = []

    def start(self):
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("backends did not start")

    def run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.listen())
        self.ready.set()
        self.loop.run_forever()

    async def listen(self):
        handlers = {"never": self.never, "slow": self.slow, "tls": self.never, "endless": self.endless,
                    "endless-status": self.endless}
        for kind, handler in handlers.items():
            self.servers.append(await asyncio.start_server(self.counted(handler), ADDRESSES[kind], self.tcp_port))
        for address in ADDRESSES["echo"]:
            transport, _ = await self.loop.create_datagram_endpoint(Echo, local_addr=(address, self.udp_port))
            self.transports.append(transport)

    def counted(self, handler):
        async def serve(reader, writer):
            self.open += 1
            self.accepted += 1
            try:
                await handler(reader, writer)
            except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
                pass
            finally:
                self.open -= 1
                writer.close()
        return serve

    @staticmethod
    async def never(reader, writer):
        """Reads (the request, or a ClientHello) until the probe closes; never answers."""
        while await reader.read(65536):
            pass

    @staticmethod
    async def slow(reader, writer):
        """A status line, then one header line a second, until the probe closes."""
        writer.write(b"HTTP/1.1 200 OK\r\n")
        while not reader.at_eof():
            await writer.drain()
            await asyncio.sleep(1)
            writer.write(b"X-Slow: 1\r\n")

    @staticmethod
    async def endless(reader, writer):
        """Headers announcing 1 TiB, then the body as fast as the probe takes it, until it closes."""
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\n")
        chunk = b"b" * 65536
        while True:
            writer.write(chunk)
            await writer.drain()

    def stop(self):
        async def close():
            for s in self.servers:
                s.close()
            for t in self.transports:
                t.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


class Echo(asyncio.DatagramProtocol):
    """Sends every datagram back to where it came from, as it was."""

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)


def config(tmp, dns_port, control_port, tcp_port, udp_port):
    zone = os.path.join(tmp, "soak.test.zone")
    with open(zone, "w") as f:
        f.write("$ORIGIN soak.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 604800 300\n@ NS ns1\nns1 A 127.0.0.1\n"
                "www 30 A 192.0.2.1\n")
    timings = "interval: 1s, timeout: 500ms, rise: 2, fall: 2"
    pools = []
    for kind, check in [("never", "http"), ("slow", "http"), ("tls", "https"), ("endless", "http-body"),
                        ("endless-status", "http"), ("echo", "dns")]:
        pools.append(f"      {kind}: {{ addresses: [{', '.join(ADDRESSES[kind])}], check: {check} }}")
    cfg = os.path.join(tmp, "meridian.yaml")
    with open(cfg, "w") as f:
        f.write(f"""listen: ["127.0.0.1:{dns_port}"]
zones:
  - origin: soak.test.
    file: {zone}
control: {{ listen: "127.0.0.1:{control_port}" }}
state_dir: {tmp}/state
health: {{ wait_first_round: false }}
checks:
  http: {{ type: http, port: {tcp_port}, {timings}, path: /healthz }}
  http-body: {{ type: http, port: {tcp_port}, {timings}, path: /healthz, body: never-there }}
  https: {{ type: https, port: {tcp_port}, {timings}, path: /healthz, host: backend.test }}
  dns: {{ type: dns, port: {udp_port}, query: soak.test., {timings} }}
services:
  www.soak.test.:
    policy: failover
    pools:
""" + "\n".join(pools) + "\n")
    return cfg


def print_reasons(control_port):
    """Each endpoint's state and reason, from the control API."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{control_port}/v1/status", timeout=5) as r:
            status = json.loads(r.read().decode())
    except (OSError, ValueError) as e:
        print(f"status: {e}")
        return
    for service in status.get("services", []):
        for region in service.get("regions", []):
            for e in region.get("endpoints", []):
                print(f"  {e.get('address')}: {e.get('check')} {e.get('state')}: {e.get('reason')}")


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))


def main():
    if len(sys.argv) != 2:
        print("usage: DURATION=SECONDS probe_soak.py BIN", file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="meridian-soak-")
    dns_port, control_port = free_port(), free_port()
    tcp_port = free_port(sum(ADDRESSES.values(), []))
    udp_port = tcp_port
    backends = Backends(tcp_port, udp_port)
    backends.start()
    cfg = config(tmp, dns_port, control_port, tcp_port, udp_port)
    log_path = os.path.join(tmp, "meridian.log")
    log = open(log_path, "w")
    server = subprocess.Popen([binary, "serve", "--config", cfg], stdout=log, stderr=subprocess.STDOUT)
    status = 0
    try:
        time.sleep(2)
        if server.poll() is not None:
            print(f"meridian exited {server.returncode} at start; log {log_path}", file=sys.stderr)
            return 1
        print(f"soak: {DURATION:.0f} s, meridian pid {server.pid}, {PER_KIND} addresses each of "
              f"never-answer, slow-headers, stalled-TLS, endless-body (http and http+body), UDP echo (dns); log {log_path}")
        start = time.monotonic()
        first_fds = descriptors(server.pid)
        last_t, last_ticks = start, cpu_ticks(server.pid)
        first_ticks = last_ticks
        print(f"{'t (s)':>6} {'fds':>5} {'cpu %':>6} {'backend conns open':>19} {'accepted':>9}")
        print(f"{0:>6.0f} {first_fds:>5} {'-':>6} {backends.open:>19} {backends.accepted:>9}")
        fds = first_fds
        while True:
            remaining = DURATION - (time.monotonic() - start)
            if remaining <= 0:
                break
            time.sleep(min(PERIOD, remaining))
            if server.poll() is not None:
                print(f"meridian exited {server.returncode} during the soak; log {log_path}", file=sys.stderr)
                return 1
            now, ticks = time.monotonic(), cpu_ticks(server.pid)
            fds = descriptors(server.pid)
            cpu = 100.0 * (ticks - last_ticks) / CLK_TCK / (now - last_t)
            print(f"{now - start:>6.0f} {fds:>5} {cpu:>6.1f} {backends.open:>19} {backends.accepted:>9}", flush=True)
            last_t, last_ticks = now, ticks
        print_reasons(control_port)
        total = time.monotonic() - start
        average = 100.0 * (last_ticks - first_ticks) / CLK_TCK / total
        grew = fds - first_fds
        print(f"end: {total:.0f} s, descriptors {first_fds} -> {fds} ({grew:+d}), CPU {average:.1f} % on average, "
              f"backend connections open {backends.open} of {backends.accepted} accepted")
        if grew > FD_SLACK:
            print(f"FAIL: descriptors grew by {grew} (more than {FD_SLACK})")
            status = 1
        else:
            print(f"PASS: descriptors within {FD_SLACK} of the first sample")
        return status
    finally:
        stop_process(server)
        log.close()
        backends.stop()


if __name__ == "__main__":
    sys.exit(main())
