#!/usr/bin/env python3
"""Resident memory across reloads (a measurement for `make soak`; prints figures, asserts a bound).

Usage: Tests/ops/reload_memory.py BIN MMDB [--services N] [--reloads K] [--zone-records R]

Writes a config with N GSLB services on distinct country maps of MMDB (every listed country mapped
to a region drawn per service, so no two share decision tables) and, with --zone-records, a zone of R extra A records; starts `BIN serve`, then sends K
SIGHUPs one after another, each once the previous reload has logged its result, and reads VmRSS
from /proc 4 s after each (the old snapshot is released within ~1 s, its pages handed back at
2.5 s). Prints RSS at start and after every reload, and checks that RSS after the last reload is
at most 1.1x RSS after reload 2. Exits 1 when it is not.
"""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from meridian_testlib import free_port, rss_kb  # noqa: E402

COUNTRIES = ("US CA MX BR AR CL CO PE VE EC GB IE FR DE NL BE LU CH AT IT ES PT DK NO SE FI IS PL CZ SK HU "
             "RO BG GR TR CY RU UA BY LT LV EE MD RS HR SI BA ME MK AL XK GE AM AZ KZ UZ TM KG TJ AF PK IN "
             "BD LK NP BT MV CN HK MO TW JP KR KP MN VN LA KH TH MM MY SG ID PH BN TL AU NZ PG FJ SB VU NC "
             "PF WS TO KI TV NR FM MH PW EG LY TN DZ MA SD SS ET ER DJ SO KE UG TZ RW BI CD CG GA CM NG NE "
             "TD CF GQ ST BJ TG GH CI LR SL GN GW SN GM ML MR BF CV AO ZM ZW MW MZ MG MU SC KM ZA NA BW LS "
             "SZ IL JO LB SY IQ IR SA YE OM AE QA BH KW").split()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("mmdb")
    ap.add_argument("--services", type=int, default=300)
    ap.add_argument("--reloads", type=int, default=50)
    ap.add_argument("--zone-records", type=int, default=0)
    ap.add_argument("--reload-timeout", type=float, default=300)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="meridian-reload-mem.")
    port = free_port()
    with open(os.path.join(tmp, "z.zone"), "w") as f:
        f.write("$ORIGIN mem.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n")
        for i in range(args.zone_records):
            f.write(f"h{i} A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
    lines = [f'listen: ["127.0.0.1:{port}"]', "zones: [{ origin: mem.test., file: z.zone }]",
             f"geo: {{ database: {args.mmdb} }}" if args.services else "", "control: { listen: off }",
             f"state_dir: {tmp}/state", "regions: { eu: {}, na: {}, ap: {} }", "services:" if args.services else ""]
    for i in range(args.services):
        # every country mapped, to a region drawn per (service, country): no two maps alike, and
        # each service's decision table as fragmented as the database's country borders
        rng = random.Random(i)
        country = ", ".join(f"{k}: {rng.choice(('eu', 'na', 'ap'))}" for k in COUNTRIES)
        lines += [f"  s{i}.mem.test.:", "    policy: geo", f"    map: {{ default: na, country: {{ {country} }} }}",
                  "    pools: { eu: { addresses: [192.0.2.1] }, na: { addresses: [192.0.2.2] }, ap: { addresses: [192.0.2.3] } }"]
    cfg = os.path.join(tmp, "meridian.yaml")
    with open(cfg, "w") as f:
        f.write("\n".join(line for line in lines if line) + "\n")
    log_path = os.path.join(tmp, "log")
    log = open(log_path, "w")
    proc = subprocess.Popen([args.bin, "serve", "--config", cfg], stdout=log, stderr=subprocess.STDOUT)
    ok = True
    try:
        deadline = time.monotonic() + args.reload_timeout
        while time.monotonic() < deadline and proc.poll() is None:
            with open(log_path) as f:
                if "serving" in f.read():
                    break
            time.sleep(0.2)
        time.sleep(4)
        samples = [rss_kb(proc.pid)]
        print(f"services {args.services}, zone records {args.zone_records}: RSS at start {samples[0] / 1024:.1f} MB", flush=True)
        for k in range(1, args.reloads + 1):
            os.kill(proc.pid, signal.SIGHUP)
            deadline = time.monotonic() + args.reload_timeout
            while time.monotonic() < deadline:
                with open(log_path) as f:
                    text = f.read()
                if text.count("reloaded") + text.count("reload failed") >= k:
                    break
                time.sleep(0.1)
            time.sleep(4)
            samples.append(rss_kb(proc.pid))
            print(f"after reload {k}: RSS {samples[-1] / 1024:.1f} MB", flush=True)
        with open(log_path) as f:
            failed = f.read().count("reload failed")
        if failed:
            print(f"FAIL: {failed} reload(s) failed")
            ok = False
        if args.reloads >= 2:
            ratio = samples[-1] / samples[2]
            ok = ok and ratio <= 1.1
            print(f"{'PASS' if ratio <= 1.1 else 'FAIL'}: RSS after reload {args.reloads} is {ratio:.3f}x RSS after reload 2 "
                  f"(bound 1.1x; start {samples[0] / 1024:.1f} MB, peak {max(samples) / 1024:.1f} MB)")
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
