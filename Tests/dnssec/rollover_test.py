"""DNSSEC key rollovers as a real delegation sees them: a throw-away Knot serves the signed parent zone
`test.` (it signs it itself), whose DS records for Meridian's zones follow the CDS records Meridian
publishes (this script plays the parent that scans, RFC 7344); Unbound validates, anchored at Knot's
key-signing key. With test timings of seconds, Meridian rolls the ZSK of `zsk.test.` (pre-publication)
and the CSK of `csk.test.` (a new key, its CDS, the DS seen at the parent through ksk_submission, then
the old key retired), while a client keeps asking Unbound: no answer may fail validation.

Usage: rollover_test.py MERIDIAN_BINARY"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from meridian_testlib import Tally, free_port, run_sections, stop_process, wait_answering, wait_for  # noqa: E402
from dnssec_servers import knot_config, unbound_config  # noqa: E402

CHILD = """$TTL 2
@   2 IN SOA ns1 hostmaster 1 60 30 600 2
@     IN NS  ns1
ns1   IN A   127.0.0.1
www   IN A   192.0.2.10
"""

CONFIG = """listen: ["127.0.0.1:{port}"]
state_dir: state
zones:
  - origin: csk.test.
    file: csk.zone
    dnssec: {{ dnskey_ttl: 2, propagation_delay: 1s, zone_max_ttl: 2s, parent_ds_ttl: 2s, ksk_lifetime: {ksk_lifetime},
               zsk_lifetime: 0, ksk_submission: ["127.0.0.1:{parent}"], ds_check_interval: 1s }}
  - origin: zsk.test.
    file: zsk.zone
    dnssec: {{ dnskey_ttl: 2, propagation_delay: 1s, zone_max_ttl: 2s, zsk_lifetime: {zsk_lifetime}, ksk_lifetime: 0 }}
"""

PARENT = """$TTL 2
@   2 IN SOA ns h 1 60 30 600 2
@     IN NS  ns
ns    IN A   127.0.0.1
csk     IN NS ns1.csk
ns1.csk IN A  127.0.0.1
zsk     IN NS ns1.zsk
ns1.zsk IN A  127.0.0.1
{ds}
"""

KNOT_PARENT = """template:
  - id: default
    storage: {dir}
    file: "%s.zone"
zone:
  - domain: test.
    dnssec-signing: on
"""



def dig(port, *args):
    return subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+time=2", "+tries=2", *args],
                          capture_output=True, text=True, timeout=30).stdout


def keys(port, zone):
    """The key tags and flags of the zone's DNSKEY RRset: {tag: flags}."""
    out = dig(port, "+multiline", zone, "DNSKEY")
    return {int(m.group(2)): int(m.group(1)) for m in re.finditer(r"DNSKEY\s+(\d+) 3 \d+ \(.*?key id = (\d+)", out, re.S)}


def cds(port, zone):
    """The zone's CDS records as (tag, rdata text)."""
    lines = [x for x in dig(port, "+short", zone, "CDS").splitlines() if x.strip()]
    return [(int(x.split()[0]), x.strip()) for x in lines]


def signer(port, zone, qtype="SOA"):
    """The key tags of the RRSIGs over zone's qtype RRset."""
    out = dig(port, "+dnssec", zone, qtype)
    return sorted(int(x.split()[10]) for x in out.splitlines() if "\tRRSIG\t" in x and x.split()[4] == qtype)


def main():
    binary = os.path.abspath(sys.argv[1])
    tally = Tally()
    work = tempfile.mkdtemp(prefix="meridian-rollover-")
    procs = []
    try:
        mport, kport, uport = free_port(), free_port(), free_port()
        for zone in ("csk", "zsk"):
            with open(os.path.join(work, f"{zone}.zone"), "w") as f:
                f.write(CHILD)
        with open(os.path.join(work, "m.yaml"), "w") as f:
            f.write(CONFIG.format(port=mport, parent=kport, ksk_lifetime="25s", zsk_lifetime="15s"))
        # zsk.test. gets a KSK and a ZSK (a CSK is what serve makes when there is none: csk.test.)
        for role in ("--ksk", "--zsk"):
            subprocess.run([binary, "dnssec", "keygen", "--zone", "zsk.test", role, "--config", "m.yaml"], cwd=work, check=True,
                           capture_output=True)
        meridian = subprocess.Popen([binary, "serve", "--config", "m.yaml", "--control", "off"], cwd=work,
                                    stdout=open(os.path.join(work, "log"), "w"), stderr=subprocess.STDOUT)
        procs.append(meridian)
        if not tally.result(wait_answering(meridian, mport, "csk.test."), "Meridian serves both zones"):
            print(open(os.path.join(work, "log")).read())
            return 1
        started = time.monotonic()
        ds = []
        for zone in ("csk.test", "zsk.test"):
            out = subprocess.run([binary, "dnssec", "ds", "--zone", zone, "--config", "m.yaml"], cwd=work, capture_output=True,
                                 text=True).stdout.split("\n")
            ds += [x.replace(" 3600 IN DS ", " 2 IN DS ") for x in out if x]
        kdir = os.path.join(work, "knot")
        os.makedirs(kdir)
        with open(os.path.join(kdir, "test.zone"), "w") as f:
            f.write(PARENT.format(ds="\n".join(ds)))
        with open(os.path.join(kdir, "knot.conf"), "w") as f:
            f.write(knot_config(kport, kdir, KNOT_PARENT.format(dir=kdir)))
        knot = subprocess.Popen(["knotd", "-c", os.path.join(kdir, "knot.conf")], stdout=open(os.path.join(kdir, "log"), "w"),
                                stderr=subprocess.STDOUT)
        procs.append(knot)
        signed = wait_for(lambda: any(f == 257 for f in keys(kport, "test").values()), 15, step=0.2)
        tally.result(signed, "Knot serves the signed parent zone test. with the DS of both child zones")
        with open(os.path.join(work, "anchor"), "w") as f:
            for line in dig(kport, "+noall", "+answer", "test", "DNSKEY").splitlines():
                if " 257 " in line or "\t257 " in line:
                    f.write(line + "\n")
        with open(os.path.join(work, "unbound.conf"), "w") as f:
            f.write(unbound_config(uport, work, os.path.join(work, "anchor"),
                                   [("test.", kport), ("csk.test.", mport), ("zsk.test.", mport)]))
        unbound = subprocess.Popen(["unbound", "-d", "-c", os.path.join(work, "unbound.conf")], cwd=work,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        procs.append(unbound)
        wait_for(lambda: "status" in dig(uport, "csk.test", "SOA"), 10)

        # a client asking Unbound all along: every answer must be validated (AD, NOERROR)
        results = []
        stop = threading.Event()

        def client():
            names = [("csk.test", "SOA"), ("www.csk.test", "A"), ("zsk.test", "SOA"), ("www.zsk.test", "A"),
                     ("csk.test", "DNSKEY"), ("zsk.test", "DNSKEY")]
            while not stop.is_set():
                for name, qtype in names:
                    out = dig(uport, "+dnssec", name, qtype)
                    status = re.search(r"status: (\w+)", out)
                    flags = re.search(r";; flags: ([a-z ]+);", out)
                    results.append((time.monotonic() - started, name, qtype, status.group(1) if status else "none",
                                    bool(flags and " ad" in " " + flags.group(1))))
                time.sleep(0.3)

        watcher = threading.Thread(target=client, daemon=True)
        watcher.start()

        def zsk_roll():
            first = keys(mport, "zsk.test")
            old_zsk = [t for t, fl in first.items() if fl == 256]
            tally.result(len(first) == 2 and len(old_zsk) == 1, "zsk.test.: one KSK and one ZSK at start", str(first))
            grew = wait_for(lambda: len(keys(mport, "zsk.test")) == 3, 25, step=0.2)
            during = keys(mport, "zsk.test")
            new_zsk = [t for t, fl in during.items() if fl == 256 and t not in old_zsk]
            tally.result(grew and len(new_zsk) == 1 and signer(mport, "zsk.test") == old_zsk,
                         "the successor ZSK is published before it signs (pre-publication)", f"{during}, signed by {signer(mport, 'zsk.test')}")
            switched = wait_for(lambda: signer(mport, "zsk.test") == new_zsk, 10, step=0.2)
            tally.result(switched, "then the new ZSK signs the zone", str(signer(mport, "zsk.test")))
            gone = wait_for(lambda: old_zsk[0] not in keys(mport, "zsk.test"), 15, step=0.2)
            tally.result(gone and len(keys(mport, "zsk.test")) == 2, "and the old ZSK leaves the DNSKEY RRset", str(keys(mport, "zsk.test")))

        def csk_roll():
            first = keys(mport, "csk.test")
            old = list(first)
            tally.result(len(first) == 1 and cds(mport, "csk.test") == [], "csk.test.: one CSK and no CDS at start", str(first))
            appeared = wait_for(lambda: len(cds(mport, "csk.test")) == 1, 40, step=0.2)
            records = cds(mport, "csk.test")
            new = records[0][0] if records else None
            tally.result(appeared and new not in old and len(keys(mport, "csk.test")) == 2,
                         "a successor CSK is published, then its CDS", f"{records}, keys {keys(mport, 'csk.test')}")
            if not appeared:
                return
            time.sleep(3)
            log = open(os.path.join(work, "log")).read()
            tally.result("DS seen" not in log and sorted(keys(mport, "csk.test")) == sorted(old + [new]),
                         "without the DS at the parent the old CSK stays")
            # the parent follows the CDS (RFC 7344): its DS for csk.test. becomes the new key's
            ctl = ["knotc", "-c", os.path.join(kdir, "knot.conf")]
            rdata = records[0][1]
            for step in (["zone-begin", "test."], ["zone-unset", "test.", "csk", "DS"],
                         ["zone-set", "test.", "csk", "2", "DS", rdata], ["zone-commit", "test."]):
                r = subprocess.run(ctl + step, capture_output=True, text=True, timeout=30)
                if r.returncode != 0:
                    tally.result(False, f"knotc {' '.join(step)}", r.stdout + r.stderr)
                    return
            seen = wait_for(lambda: "DS seen at the parent" in open(os.path.join(work, "log")).read(), 10, step=0.2)
            tally.result(seen, "Meridian sees the new DS at the parent (ksk_submission)")
            status = subprocess.run([binary, "dnssec", "status", "--zone", "csk.test", "--config", "m.yaml"], cwd=work,
                                    capture_output=True, text=True).stdout
            tally.result(f"tag {new}:" in status and "DS seen" in status, "meridian dnssec status shows the DS seen", status.strip())
            retired = wait_for(lambda: list(keys(mport, "csk.test")) == [new], 20, step=0.2)
            tally.result(retired and signer(mport, "csk.test") == [new] and cds(mport, "csk.test") == [],
                         "then the old CSK and the CDS leave; the new CSK signs alone",
                         f"keys {keys(mport, 'csk.test')}, signed by {signer(mport, 'csk.test')}, CDS {cds(mport, 'csk.test')}")

        def dnsviz():
            # DNSViz follows the delegation from the Knot parent, with its KSK as the trust anchor
            anchor = os.path.join(work, "anchor")
            probe = subprocess.run(
                ["dnsviz", "probe", "-A", "-x", f"test+:127.0.0.1:{kport}", "-x", f"csk.test:127.0.0.1:{mport}",
                 "-x", f"zsk.test:127.0.0.1:{mport}", "test", "csk.test", "zsk.test", "www.csk.test", "nope.zsk.test"],
                capture_output=True, text=True, timeout=120)
            shim = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dnsviz_shim")
            grok = subprocess.run(["dnsviz", "grok", "-t", anchor, "-l", "warning"], input=probe.stdout, capture_output=True,
                                  text=True, timeout=60, env=dict(os.environ, PYTHONPATH=shim))
            report = grok.stdout.strip()
            # the same probe against a wrong anchor must be reported (the check can fail)
            wrong = os.path.join(work, "wrong-anchor")
            with open(anchor) as f, open(wrong, "w") as g:
                for line in f.read().splitlines():  # one base64 digit of each key changed: another valid key
                    fields = line.split()
                    key = "".join(fields[7:])
                    g.write(" ".join(fields[:7] + [key[:5] + ("A" if key[5] != "A" else "B") + key[6:]]) + "\n")
            control = subprocess.run(["dnsviz", "grok", "-t", wrong, "-l", "warning"], input=probe.stdout, capture_output=True,
                                     text=True, timeout=60, env=dict(os.environ, PYTHONPATH=shim))
            tally.result(control.stdout.strip() not in ("", "{}"), "dnsviz grok reports a wrong trust anchor (control)")
            tally.result(probe.returncode == 0 and grok.returncode == 0 and report in ("", "{}"),
                         "dnsviz probe + grok with the anchor: no errors or warnings",
                         f"probe rc {probe.returncode}, grok rc {grok.returncode}: {grok.stderr[-300:]} {report[-600:]}")

        run_sections(tally, [("ZSK rollover", zsk_roll), ("CSK rollover", csk_roll), ("DNSViz", dnsviz)])
        time.sleep(3)
        stop.set()
        watcher.join(timeout=30)
        bad = [r for r in results if r[3] != "NOERROR" or not r[4]]
        tally.result(len(results) > 100 and not bad,
                     "Unbound validated every answer across both rollovers", f"{len(results)} answers, failures: {bad[:5]}")
    finally:
        for p in reversed(procs):
            stop_process(p)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
