"""DNSSEC end to end: Meridian signs a zone with GSLB services; Unbound, anchored at the zone's DS
(printed by `meridian dnssec ds`), validates every kind of answer, GSLB regions through ECS included,
with NSEC3 and with NSEC denial; keys Knot made are imported from their PEM files;
drill chases the signatures after a backend goes down; a short signature validity shows re-signing,
the serial following the signing epoch, and zone transfers: a Knot secondary pulls the zone with TSIG
and follows each NOTIFY, ldns-verify-zone and kzonecheck accept the AXFR copy, and requests without
the key are refused (REFUSED; NOTAUTH for a wrong key).

Usage: dnssec_test.py MERIDIAN_BINARY"""
import base64
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pylib"))
from meridian_testlib import Tally, free_port, geolite2_path, run_sections, stop_process, wait_answering, wait_for  # noqa: E402
from dnssec_servers import knot_config, unbound_config  # noqa: E402

ZONE = """$TTL 3600
@        3600 IN SOA ns1 hostmaster 2026120701 3600 900 604800 300
@             IN NS    ns1
@             IN MX    10 mail
@             IN TXT   "v=spf1 -all"
ns1           IN A     127.0.0.1
www       300 IN A     192.0.2.10
www       300 IN AAAA  2001:db8::10
alias     300 IN CNAME www
mail          IN A     192.0.2.25
*.wild        IN TXT   "wildcard"
*.w1          IN CNAME x.w2
*.w2          IN CNAME x.w3
*.w3          IN CNAME gone
a.b           IN A     192.0.2.30
sub           IN NS    ns.sub
ns.sub        IN A     127.0.0.3
geo        30 IN A     192.0.2.100
geo        30 IN AAAA  2001:db8:100::1
cdn       300 IN CNAME geo
"""
BIG = "".join(f'big 300 IN TXT "big-{i:02d}-{"x" * 200}"\n' for i in range(20))

CONFIG = """listen: ["127.0.0.1:{port}"]
{keys}zones:
  - origin: signed.test.
    file: zone
    dnssec: {{ signature_validity: {validity}, refresh: {refresh} }}
{transfer}state_dir: state
geo: {{ database: {geoip} }}
checks:
  backend: {{ type: tcp, port: {backend}, interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }}
regions:
  eu: {{ location: [50.11, 8.68] }}
  na: {{ location: [39.04, -77.49] }}
  ap: {{ location: [1.35, 103.82] }}
services:
  geo.signed.test.:
    policy: geo
    ttl: 30
    map: {{ continent: {{ EU: eu, NA: na, AS: ap }}, default: static }}
    pools:
      eu: {{ addresses: [192.0.2.1, "2001:db8:1::1"] }}
      na: {{ addresses: [192.0.2.2, "2001:db8:2::1"] }}
      ap: {{ addresses: [192.0.2.3, "2001:db8:3::1"] }}
  hc.signed.test.:
    policy: failover
    ttl: 5
    degraded_ttl: 2
    order: [na, eu]
    pools:
      na: {{ addresses: [127.0.1.2], check: backend }}
      eu: {{ addresses: [127.0.1.1], check: backend }}
"""



KNOT_SECONDARY = """key:
  - id: xfr
    algorithm: hmac-sha256
    secret: {secret}
remote:
  - id: meridian
    address: 127.0.0.1@{meridian}
    key: xfr
acl:
  - id: notify_from_meridian
    address: 127.0.0.1
    key: xfr
    action: notify
template:
  - id: default
    storage: {dir}
zone:
  - domain: signed.test
    master: meridian
    acl: notify_from_meridian
"""


class Backend:
    """A TCP listener the health check connects to; `stop()` closes it."""

    def __init__(self, addr, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(64)
        self.open = True
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while self.open:
            try:
                c, _ = self.sock.accept()
                c.close()
            except OSError:
                return

    def stop(self):
        self.open = False
        self.sock.close()


def dig(port, *args):
    """dig's output (stdout) for one query to 127.0.0.1:port."""
    return subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+dnssec", "+time=3", "+tries=2", *args],
                          capture_output=True, text=True, timeout=30).stdout


def soa_serial(port):
    """The SOA serial a server at 127.0.0.1:port gives for signed.test, None when it gives none."""
    fields = dig(port, "+short", "signed.test", "SOA").split()
    return int(fields[2]) if len(fields) >= 7 and fields[2].isdigit() else None


def nsec3_hash(name):
    """The NSEC3 owner label of `name`: SHA-1 of the lower-case wire name, no salt, no extra
    iterations (RFC 5155 §5), in lower-case base32hex."""
    wire = b"".join(bytes([len(label)]) + label.encode() for label in name.lower().rstrip(".").split(".")) + b"\0"
    return base64.b32hexencode(hashlib.sha1(wire).digest()).decode().lower()


def nsec3_proves(answer, matches, covers):
    """Whether the NSEC3 records of a dig answer include one whose owner is the hash of each name of
    `matches`, and one covering the hash of each name of `covers` (owner < hash < next, wrapping)."""
    links = [(x.split()[0].split(".")[0].lower(), x.split()[8].lower()) for x in answer.splitlines()
             if len(x.split()) > 8 and x.split()[3] == "NSEC3"]

    def covered(h):
        return any(o < h < n or (n <= o and (h > o or h < n)) for o, n in links)
    return all(nsec3_hash(m) in [o for o, _ in links] for m in matches) and all(covered(nsec3_hash(c)) for c in covers)


def status_and_ad(out):
    m = re.search(r"status: (\w+)", out)
    flags = re.search(r";; flags: ([a-z ]+);", out)
    return (m.group(1) if m else "none"), bool(flags and " ad" in " " + flags.group(1))


def main():
    binary = os.path.abspath(sys.argv[1])
    tally = Tally()
    work = tempfile.mkdtemp(prefix="meridian-dnssec-")
    procs = []
    backends = []
    try:
        port, uport, bport = free_port(), free_port(), free_port(["127.0.1.1", "127.0.1.2"])
        with open(os.path.join(work, "zone"), "w") as f:
            f.write(ZONE + BIG)
        with open(os.path.join(work, "m.yaml"), "w") as f:
            f.write(CONFIG.format(port=port, geoip=geolite2_path(), backend=bport, validity="14d", refresh="7d", keys="", transfer=""))
        backends = [Backend("127.0.1.1", bport), Backend("127.0.1.2", bport)]
        log = open(os.path.join(work, "log"), "w")
        meridian = subprocess.Popen([binary, "serve", "--config", "m.yaml", "--control", "off"], cwd=work,
                                    stdout=log, stderr=subprocess.STDOUT)
        procs.append(meridian)
        if not tally.result(wait_answering(meridian, port, "signed.test."), "Meridian serves the signed zone"):
            print(open(os.path.join(work, "log")).read())
            return 1
        with open(os.path.join(work, "log")) as f:
            tally.result("created the combined signing key" in f.read(), "a first start without keys creates a CSK and says so")
        ds = subprocess.run([binary, "dnssec", "ds", "--zone", "signed.test", "--config", "m.yaml"], cwd=work,
                            capture_output=True, text=True).stdout.strip()
        tally.result(re.match(r"^signed\.test\. 3600 IN DS \d+ 13 2 [0-9A-F]{64}$", ds) is not None, "meridian dnssec ds prints the DS", ds)
        f = ds.split()
        with open(os.path.join(work, "unbound.conf"), "w") as u:
            u.write(unbound_config(uport, work, " ".join([f[0], f[3], f[4], f[5], f[6], f[7]]), [("signed.test.", port)],
                                   modules="subnetcache validator iterator",
                                   extra=["send-client-subnet: 127.0.0.1", "client-subnet-always-forward: yes",
                                          'domain-insecure: "sub.signed.test."']))
        unbound = subprocess.Popen(["unbound", "-d", "-c", os.path.join(work, "unbound.conf")], cwd=work,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        procs.append(unbound)
        wait_for(lambda: "status" in dig(uport, "signed.test", "SOA"), 10)

        def validate(uport, denial):
            cases = [
                ("SOA", ["signed.test", "SOA"], "NOERROR"),
                ("DNSKEY", ["signed.test", "DNSKEY"], "NOERROR"),
                ("NSEC3PARAM", ["signed.test", "NSEC3PARAM"], "NOERROR"),
                ("static A", ["www.signed.test", "A"], "NOERROR"),
                ("static AAAA", ["www.signed.test", "AAAA"], "NOERROR"),
                ("MX", ["signed.test", "MX"], "NOERROR"),
                ("TXT", ["signed.test", "TXT"], "NOERROR"),
                ("CNAME to a static name", ["alias.signed.test", "A"], "NOERROR"),
                ("wildcard", ["x.wild.signed.test", "TXT"], "NOERROR"),
                ("wildcard NODATA", ["x.wild.signed.test", "A"], "NOERROR"),
                ("NXDOMAIN", ["nope.signed.test", "A"], "NXDOMAIN"),
                ("NXDOMAIN below an empty non-terminal", ["x.b.signed.test", "A"], "NXDOMAIN"),
                ("CNAMEs through three wildcards into NXDOMAIN (six proofs)", ["a.w1.signed.test", "A"], "NXDOMAIN"),
                ("NODATA", ["www.signed.test", "TXT"], "NOERROR"),
                ("empty non-terminal", ["b.signed.test", "A"], "NOERROR"),
                ("DS absent at an insecure delegation", ["sub.signed.test", "DS"], "NOERROR"),
                ("GSLB EU through ECS", ["geo.signed.test", "A", "+subnet=81.2.69.0/24"], "NOERROR"),
                ("GSLB NA through ECS", ["geo.signed.test", "A", "+subnet=8.8.8.0/24"], "NOERROR"),
                ("GSLB AP through ECS (AAAA)", ["geo.signed.test", "AAAA", "+subnet=1.0.16.0/24"], "NOERROR"),
                ("GSLB default: the zone's records", ["geo.signed.test", "A"], "NOERROR"),
                ("GSLB NODATA (TXT at a GSLB name)", ["geo.signed.test", "TXT"], "NOERROR"),
                ("GSLB type its pools lack (AAAA of hc)", ["hc.signed.test", "AAAA"], "NOERROR"),
                ("CNAME into a GSLB name", ["cdn.signed.test", "A", "+subnet=81.2.69.0/24"], "NOERROR"),
                ("big TXT (over TCP from Meridian)", ["big.signed.test", "TXT", "+bufsize=4096"], "NOERROR"),
            ]
            for what, query, rcode in cases:
                out = dig(uport, *query)
                status, ad = status_and_ad(out)
                tally.result(status == rcode and ad, f"Unbound validates ({denial}): {what}", f"status {status}, AD {ad}")
            regions = {s: dig(uport, "+short", "geo.signed.test", "A", f"+subnet={s}").split("\n")[0]
                       for s in ("81.2.69.0/24", "8.8.8.0/24", "1.0.16.0/24")}
            tally.result(list(regions.values()) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"],
                         f"the validated GSLB answers are each region's ({denial})", str(regions))

        def validating():
            validate(uport, "NSEC3")
            # the CNAME chain through three wildcards: each expansion proves no closer name, and the
            # NXDOMAIN at its end proves the name and the wildcard absent (RFC 5155 §7.2.2, §7.2.6)
            chain = dig(port, "+dnssec", "+bufsize=4096", "a.w1.signed.test", "A")
            tally.result(nsec3_proves(chain, ["signed.test"], ["a.w1.signed.test", "x.w2.signed.test", "x.w3.signed.test",
                                                              "gone.signed.test", "*.signed.test"]),
                         "three wildcard CNAMEs into NXDOMAIN: every NSEC3 proof is in the answer",
                         str([x.split()[0] for x in chain.splitlines() if "\tNSEC3\t" in x]))

        def chase_after_health_change():
            key = os.path.join(work, "anchor.key")
            with open(key, "w") as k:
                for line in dig(port, "+short", "signed.test", "DNSKEY").splitlines():
                    if line and not line.startswith("DNSKEY"):
                        k.write("signed.test. 3600 IN DNSKEY " + line + "\n")

            def chase(name):
                r = subprocess.run(["drill", "-S", "-k", key, "-p", str(port), "@127.0.0.1", name, "A"],
                                   capture_output=True, text=True, timeout=30)
                return "Chase successful" in r.stdout, r.stdout.strip().splitlines()[-1:] if r.stdout else r.stderr

            for name in ("www.signed.test", "alias.signed.test", "hc.signed.test"):
                ok, tail = chase(name)
                tally.result(ok, f"drill -S chases {name}", str(tail))
            before = dig(port, "+short", "hc.signed.test", "A").split("\n")[0]
            backends[1].stop()  # na (127.0.1.2)
            moved = wait_for(lambda: dig(port, "+short", "hc.signed.test", "A").split("\n")[0] == "127.0.1.1", 10)
            tally.result(before == "127.0.1.2" and moved, "hc moves from na to eu when na's backend stops", before)
            ok, tail = chase("hc.signed.test")
            tally.result(ok, "drill -S chases the new region's answer", str(tail))
            # the service is degraded: its answer and the answer's RRSIG both carry degraded_ttl (RFC 4034 §3)
            ttls = {line.split()[3]: line.split()[1] for line in dig(port, "+dnssec", "+noall", "+answer", "hc.signed.test", "A").splitlines()
                    if len(line.split()) > 4}
            tally.result(ttls == {"A": "2", "RRSIG": "2"}, "a degraded answer's RRSIG has the degraded TTL", str(ttls))

        def nsec_denial():
            # another instance proves absence with NSEC (denial: nsec); a second Unbound anchored at its
            # DS validates the same answers, and its AXFR copy passes ldns-verify-zone and kzonecheck
            work4 = os.path.join(work, "nsec")
            os.makedirs(work4)
            port4, uport4 = free_port(), free_port()
            with open(os.path.join(work4, "zone"), "w") as f:
                f.write(ZONE + BIG + "hc 5 IN A 127.0.1.1\n")
            with open(os.path.join(work4, "m.yaml"), "w") as f:
                f.write(CONFIG.format(port=port4, geoip=geolite2_path(), backend=bport, validity="14d", refresh="7d", keys="",
                                      transfer="    transfer: { allow: [127.0.0.1] }\n").replace("refresh: 7d }", "refresh: 7d, denial: nsec }"))
            m4 = subprocess.Popen([binary, "serve", "--config", "m.yaml", "--control", "off"], cwd=work4,
                                  stdout=open(os.path.join(work4, "log"), "w"), stderr=subprocess.STDOUT)
            procs.append(m4)
            if not tally.result(wait_answering(m4, port4, "signed.test."), "the NSEC instance serves"):
                return
            f = subprocess.run([binary, "dnssec", "ds", "--zone", "signed.test", "--config", "m.yaml"], cwd=work4,
                               capture_output=True, text=True).stdout.split()
            with open(os.path.join(work4, "unbound.conf"), "w") as u:
                u.write(unbound_config(uport4, work4, " ".join([f[0], f[3], f[4], f[5], f[6], f[7]]), [("signed.test.", port4)],
                                       modules="subnetcache validator iterator",
                                       extra=["send-client-subnet: 127.0.0.1", "client-subnet-always-forward: yes",
                                              'domain-insecure: "sub.signed.test."']))
            procs.append(subprocess.Popen(["unbound", "-d", "-c", os.path.join(work4, "unbound.conf")], cwd=work4,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
            wait_for(lambda: "status" in dig(uport4, "signed.test", "SOA"), 10)
            nx = dig(port4, "+dnssec", "nope.signed.test", "A")
            tally.result("\tNSEC\t" in nx and "NSEC3" not in nx and not dig(port4, "+short", "signed.test", "NSEC3PARAM").strip(),
                         "with denial: nsec an NXDOMAIN carries NSEC records, and the apex has no NSEC3PARAM")
            validate(uport4, "NSEC")
            copy = subprocess.run(["dig", "@127.0.0.1", "-p", str(port4), "signed.test", "AXFR", "+nocmd", "+nostats", "+nocomments"],
                                  capture_output=True, text=True, timeout=30).stdout
            path = os.path.join(work4, "axfr.zone")
            with open(path, "w") as out:
                out.write("\n".join(x for x in copy.splitlines() if x and not x.startswith(";")) + "\n")
            r = subprocess.run(["ldns-verify-zone", path], capture_output=True, text=True, timeout=60)
            tally.result(r.returncode == 0, "ldns-verify-zone accepts the NSEC-signed AXFR copy", (r.stdout + r.stderr).strip()[-300:])
            r = subprocess.run(["kzonecheck", "-o", "signed.test", "-d", "on", path], capture_output=True, text=True, timeout=60)
            tally.result(r.returncode == 0, "kzonecheck -d on accepts the NSEC-signed AXFR copy", (r.stdout + r.stderr).strip()[-300:])

        def knot_keys():
            # keys Knot's keymgr made, imported from their PEM files: the DS Knot prints, and a zone
            # signed with Knot's CSK that drill chases
            work5 = os.path.join(work, "knotkeys")
            os.makedirs(work5)
            kasp = os.path.join(work5, "kasp")
            made = []
            for args, role in ((["algorithm=13", "ksk=yes", "zsk=yes"], "--csk"), (["algorithm=15", "ksk=yes", "zsk=no"], "--ksk")):
                r = subprocess.run(["keymgr", "-D", kasp, "signed.test.", "generate", *args], capture_output=True, text=True, timeout=30)
                made.append((r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "", role))
            # keymgr prints "signed.test. DS TAG ALG DIGEST-TYPE DIGEST", SHA-256 and SHA-384
            theirs = sorted(" ".join(x.split()[2:]).upper() for x in subprocess.run(
                ["keymgr", "-D", kasp, "signed.test.", "ds"], capture_output=True, text=True, timeout=30).stdout.splitlines()
                if x.split()[4:5] == ["2"])
            for keyid, role in made:
                for directory in (["all"] if role == "--ksk" else ["all", "keys"]):
                    subprocess.run([binary, "dnssec", "import", "--zone", "signed.test", "--pem",
                                    os.path.join(kasp, "keys", keyid + ".pem"), role, "--keys", directory],
                                   cwd=work5, capture_output=True, text=True, timeout=30)
            ours = sorted(" ".join(x.split()[4:]) for x in subprocess.run(
                [binary, "dnssec", "ds", "--zone", "signed.test", "--keys", "all"], cwd=work5, capture_output=True, text=True,
                timeout=30).stdout.splitlines())
            tally.result(len(theirs) == 2 and ours == theirs, "dnssec import of Knot's PEM keys (ECDSA, Ed25519): the DS keymgr prints",
                         f"{ours} vs {theirs}")
            port5 = free_port()
            with open(os.path.join(work5, "zone"), "w") as f:
                f.write(ZONE + BIG)
            with open(os.path.join(work5, "m.yaml"), "w") as f:
                f.write(CONFIG.format(port=port5, geoip=geolite2_path(), backend=bport, validity="14d", refresh="7d", keys="",
                                      transfer="").replace("refresh: 7d }", "refresh: 7d, keys: keys, manage_keys: false }"))
            m5 = subprocess.Popen([binary, "serve", "--config", "m.yaml"], cwd=work5,
                                  stdout=open(os.path.join(work5, "log"), "w"), stderr=subprocess.STDOUT)
            procs.append(m5)
            if not tally.result(wait_answering(m5, port5, "signed.test."), "a zone signed with Knot's imported CSK serves"):
                return
            tag = next((x.split()[0] for x in theirs if x.split()[1] == "13"), "?")  # the CSK's
            anchor = os.path.join(work5, "anchor.key")
            with open(anchor, "w") as k:
                for line in dig(port5, "+short", "signed.test", "DNSKEY").splitlines():
                    k.write("signed.test. 3600 IN DNSKEY " + line + "\n")
            r = subprocess.run(["drill", "-S", "-k", anchor, "-p", str(port5), "@127.0.0.1", "www.signed.test", "A"],
                               capture_output=True, text=True, timeout=30)
            tally.result(f"key id = {tag}" in dig(port5, "+multi", "signed.test", "DNSKEY") and "Chase successful" in r.stdout,
                         f"its DNSKEY is Knot's key {tag} and drill -S chases its signatures", r.stdout.strip()[-200:])
            # dnssec status asks the running server (its control socket), which reads the key directory
            status = subprocess.run([binary, "dnssec", "status", "--zone", "signed.test", "--config", "m.yaml"], cwd=work5,
                                    capture_output=True, text=True, timeout=30).stdout
            tally.result(status.startswith("from the running server:") and f"tag {tag}: active" in status
                         and "signatures expire: 20" in status, "dnssec status through the control API", status.strip()[-300:])

        def zonemaster():
            # zonemaster-cli queries port 53 only: a third instance serves the zone on 127.0.0.201:53 (as
            # root, like CI), given as the undelegated zone's only name server with the zone's DS
            if os.geteuid() != 0:
                tally.result(False, "zonemaster needs root (port 53)")
                return
            work3 = os.path.join(work, "zonemaster")
            os.makedirs(work3)
            with open(os.path.join(work3, "zone"), "w") as f:
                f.write(ZONE.replace("ns1           IN A     127.0.0.1", "ns1           IN A     127.0.0.201") + BIG)
            with open(os.path.join(work3, "m.yaml"), "w") as f:
                f.write(CONFIG.format(port=53, geoip=geolite2_path(), backend=bport, validity="14d", refresh="7d", keys="",
                                      transfer="").replace("127.0.0.1:53", "127.0.0.201:53"))
            m3 = subprocess.Popen([binary, "serve", "--config", "m.yaml", "--control", "off"], cwd=work3,
                                  stdout=open(os.path.join(work3, "log"), "w"), stderr=subprocess.STDOUT)
            procs.append(m3)
            if not wait_for(lambda: "status: NOERROR" in subprocess.run(
                    ["dig", "@127.0.0.201", "signed.test", "SOA", "+time=1", "+tries=1"], capture_output=True, text=True).stdout, 15):
                tally.result(False, "the port-53 instance serves", open(os.path.join(work3, "log")).read()[-300:])
                return
            fields = subprocess.run([binary, "dnssec", "ds", "--zone", "signed.test", "--config", "m.yaml"], cwd=work3,
                                    capture_output=True, text=True).stdout.split()
            # the modules about the zone and the server; Address, Connectivity and Delegation judge this
            # lab's loopback addresses and single name server, not the server
            r = subprocess.run(
                ["zonemaster-cli", "signed.test", "--ns", "ns1.signed.test/127.0.0.201", "--ds", ",".join(fields[4:8]),
                 "--no-ipv6", "--level", "ERROR", "--test", "DNSSEC", "--test", "Nameserver", "--test", "Syntax",
                 "--test", "Zone", "--test", "Consistency"], capture_output=True, text=True, timeout=300)
            errors = [x for x in r.stdout.splitlines() if " ERROR " in x or " CRITICAL " in x]
            tally.result(r.returncode == 0 and not errors and "Looks OK" in r.stdout,
                         "zonemaster-cli (DNSSEC, Nameserver, Syntax, Zone, Consistency) reports no errors",
                         (r.stdout + r.stderr)[-800:])

        run_sections(tally, [("validating resolver", validating), ("health change", chase_after_health_change),
                             ("NSEC denial", nsec_denial), ("Knot's keys", knot_keys),
                             ("zonemaster", zonemaster)])

        secret = base64.b64encode(os.urandom(32)).decode()
        work2 = os.path.join(work, "short")
        port2, kport = free_port(), free_port()

        def resign():
            # a second instance whose signatures last 40 s and are made again 30 s before they expire
            # (a signing epoch every 10 s), transferring to a Knot secondary with TSIG
            os.makedirs(work2)
            with open(os.path.join(work2, "zone"), "w") as f:
                # serial_policy unixtime: the epoch gives the serial; hc gets records of its own, which
                # the secondary serves (Meridian warns of a transferred GSLB name without any)
                f.write(ZONE.replace("2026120701", "1") + BIG + "hc 5 IN A 127.0.1.1\n")
            with open(os.path.join(work2, "m.yaml"), "w") as f:
                f.write(CONFIG.format(
                    port=port2, geoip=geolite2_path(), backend=bport, validity="40s", refresh="30s",
                    keys=f'tsig_keys:\n  xfr: {{ algorithm: hmac-sha256, secret: "{secret}" }}\n',
                    transfer=f'    transfer: {{ allow: [{{ key: xfr }}], notify: [{{ address: "127.0.0.1:{kport}", key: xfr }}] }}\n'))
            log2 = open(os.path.join(work2, "log"), "w")
            m2 = subprocess.Popen([binary, "serve", "--config", "m.yaml", "--control", "off"], cwd=work2,
                                  stdout=log2, stderr=subprocess.STDOUT)
            procs.append(m2)
            if not tally.result(wait_answering(m2, port2, "signed.test."), "the short-validity instance serves"):
                return

            def expiry():
                rrsig = [line for line in dig(port2, "www.signed.test", "A").splitlines() if "\tRRSIG\t" in line]
                return rrsig[0].split()[8] if rrsig else ""

            first = expiry()
            changed = wait_for(lambda: expiry() not in ("", first), 25, step=0.5)
            with open(os.path.join(work2, "log")) as f:
                text = f.read()
            tally.result(changed and "re-signing" in text, "signatures are made again before they expire", f"{first} -> {expiry()}")
            key = os.path.join(work2, "anchor.key")
            with open(key, "w") as k:
                for line in dig(port2, "+short", "signed.test", "DNSKEY").splitlines():
                    if line and not line.startswith("DNSKEY"):
                        k.write("signed.test. 3600 IN DNSKEY " + line + "\n")
            r = subprocess.run(["drill", "-S", "-k", key, "-p", str(port2), "@127.0.0.1", "www.signed.test", "A"],
                               capture_output=True, text=True, timeout=30)
            tally.result("Chase successful" in r.stdout, "the new signatures validate", r.stdout.strip()[-200:])
            serials = [soa_serial(port2)]
            wait_for(lambda: soa_serial(port2) != serials[0], 12, step=0.2)
            serials.append(soa_serial(port2))
            tally.result(serials[1] > serials[0] and serials[1] % 10 == 0 and serials[1] <= time.time(),
                         "the serial moves to the next signing epoch (unixtime, a multiple of 10 s)", str(serials))

        def transfers():
            kdir = os.path.join(work, "knot")
            os.makedirs(kdir)
            with open(os.path.join(kdir, "knot.conf"), "w") as f:
                f.write(knot_config(kport, kdir, KNOT_SECONDARY.format(dir=kdir, secret=secret, meridian=port2)))
            knot = subprocess.Popen(["knotd", "-c", os.path.join(kdir, "knot.conf")], stdout=open(os.path.join(kdir, "log"), "w"),
                                    stderr=subprocess.STDOUT)
            procs.append(knot)
            # Knot starts after Meridian's first NOTIFY: it asks for the zone itself on start
            pulled = wait_for(lambda: soa_serial(kport) is not None, 15, step=0.2)
            tally.result(pulled, "Knot as a secondary pulls the zone with TSIG", str(soa_serial(kport)))
            # every new epoch (10 s) changes the serial; the secondary follows within 2 s of the NOTIFY
            lags = []
            for _ in range(2):
                before = soa_serial(port2)
                if not wait_for(lambda: soa_serial(port2) != before, 12, step=0.05):
                    break
                changed_at, new = time.monotonic(), soa_serial(port2)
                wait_for(lambda: soa_serial(kport) == new, 5, step=0.05)
                lags.append(time.monotonic() - changed_at if soa_serial(kport) == new else 99)
            with open(os.path.join(work2, "log")) as f:
                acknowledged = "NOTIFY acknowledged" in f.read()
            # a transferred GSLB name without records of its own: `check` warns (secondaries cannot answer it)
            with open(os.path.join(work2, "bare.zone"), "w") as f:
                f.write(ZONE + BIG)
            with open(os.path.join(work2, "bare.yaml"), "w") as f:
                f.write(open(os.path.join(work2, "m.yaml")).read().replace("file: zone", "file: bare.zone"))
            r = subprocess.run([binary, "check", "--config", "bare.yaml"], cwd=work2, capture_output=True, text=True, timeout=60)
            tally.result(r.returncode == 0 and "hc.signed.test. has no records of its own" in r.stderr
                         and "geo.signed.test. has no records" not in r.stderr,
                         "check warns of a transferred GSLB name without records of its own (hc), not of one with (geo)",
                         r.stderr.strip()[-300:])
            tally.result(len(lags) == 2 and max(lags) <= 2 and acknowledged,
                         "the secondary serves each new serial within 2 s of the NOTIFY", f"lags {[round(x, 2) for x in lags]} s")
            keyed = ["-y", f"hmac-sha256:xfr:{secret}"]
            copy = subprocess.run(["dig", "@127.0.0.1", "-p", str(port2), "signed.test", "AXFR", *keyed, "+nocmd", "+nostats",
                                   "+nocomments"], capture_output=True, text=True, timeout=30).stdout
            lines = [x for x in copy.splitlines() if x and not x.startswith(";") and x.split()[3:4] != ["TSIG"]]
            path = os.path.join(work, "axfr.zone")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            tally.result(len(lines) > 50 and lines[0].split()[3] == "SOA" and lines[-1].split()[3] == "SOA",
                         "AXFR with the key: the whole zone between two SOAs", f"{len(lines)} records")
            r = subprocess.run(["ldns-verify-zone", path], capture_output=True, text=True, timeout=60)
            tally.result(r.returncode == 0, "ldns-verify-zone accepts the AXFR copy", (r.stdout + r.stderr).strip()[-300:])
            r = subprocess.run(["kzonecheck", "-o", "signed.test", "-d", "on", path], capture_output=True, text=True, timeout=60)
            tally.result(r.returncode == 0, "kzonecheck -d on accepts the AXFR copy", (r.stdout + r.stderr).strip()[-300:])
            unsigned = dig(port2, "signed.test", "AXFR")
            tally.result("Transfer failed" in unsigned and "XFR size" not in unsigned, "AXFR without the key is refused")
            wrong = dig(port2, "signed.test", "AXFR", "-y", "hmac-sha256:other:" + secret)
            tally.result("BADKEY" in wrong, "AXFR with an unknown key: NOTAUTH, TSIG error BADKEY", wrong.strip()[-120:])
            ixfr = subprocess.run(["dig", "@127.0.0.1", "-p", str(port2), "signed.test", f"IXFR={soa_serial(port2)}", *keyed, "+nocmd",
                                   "+nostats", "+nocomments"], capture_output=True, text=True, timeout=30).stdout
            records = [x for x in ixfr.splitlines() if x and not x.startswith(";") and x.split()[3:4] != ["TSIG"]]
            tally.result(len(records) == 1 and records[0].split()[3] == "SOA", "IXFR from the current serial: the SOA alone", str(records)[:200])

        run_sections(tally, [("re-signing", resign), ("zone transfers", transfers)])
    finally:
        for p in reversed(procs):
            stop_process(p)
        for b in backends:
            b.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
