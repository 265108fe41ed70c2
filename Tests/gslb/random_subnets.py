#!/usr/bin/env python3
"""GSLB integration test: the real binary, the real GeoLite2-City database, independent expectations.

usage: random_subnets.py BIN [--count 2000] [--seed N] [--db PATH]

Serves a `geo` service (continent EU,AF -> eu; NA,SA -> na; AS,OC -> ap; else the zone's static
records) and asks it about random client subnets drawn from GeoLite2-City.mmdb (80% IPv4 /24, 20% IPv6
/48, ~10% not in the database), A for all and AAAA for a quarter, with EDNS Client Subnet. For each
answer it checks, with the `maxminddb` reader (not Meridian's code):
  - the pool is the region of the continent of the subnet's network address (not in the database or
    unknown continent -> the static default 192.0.2.100 / 2001:db8:100::1);
  - AA set, NOERROR, TTL 30, ECS echoed (family, SOURCE PREFIX-LENGTH, ADDRESS);
  - SCOPE PREFIX-LENGTH > 0 (the answer depends on the client) and sound: the first, last and 20
    random addresses of ADDRESS/SCOPE all map to the answered region.
Prints "N passed, M failed" (one per query) and exits 1 on any failure.
"""
import argparse
import ipaddress
import os
import random
import sys

import maxminddb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gslbtest as g  # noqa: E402

CONTINENT_REGION = {"EU": "eu", "AF": "eu", "NA": "na", "SA": "na", "AS": "ap", "OC": "ap"}
SERVICE_YAML = """    policy: geo
    ttl: 30
    map:
      continent: { EU: eu, AF: eu, NA: na, SA: na, AS: ap, OC: ap }
      default: static
"""


class GeoLite2:
    """maxminddb lookups, plus random descents of the search tree to draw networks that are in it."""

    def __init__(self, path):
        self.reader = maxminddb.open_database(path)
        m = self.reader.metadata()
        self.node_count, self.record_size = m.node_count, m.record_size
        if m.ip_version != 6 or self.record_size not in (24, 28, 32):
            raise RuntimeError(f"unexpected database: ip_version {m.ip_version}, record size {self.record_size}")
        with open(path, "rb") as f:
            self.tree = f.read(self.node_count * self.record_size // 4)
        node = 0
        for _ in range(96):
            node = self.children(node)[0]
        self.v4_root = node
        self.cache = {}

    def children(self, node):
        b, rs = self.tree, self.record_size
        if rs == 24:
            o = node * 6
            return int.from_bytes(b[o:o + 3], "big"), int.from_bytes(b[o + 3:o + 6], "big")
        if rs == 28:
            o = node * 7
            left = ((b[o + 3] & 0xF0) << 20) | int.from_bytes(b[o:o + 3], "big")
            right = ((b[o + 3] & 0x0F) << 24) | int.from_bytes(b[o + 4:o + 7], "big")
            return left, right
        o = node * 8
        return int.from_bytes(b[o:o + 4], "big"), int.from_bytes(b[o + 4:o + 8], "big")

    def random_network(self, rng, version, deep):
        """A database network (a data record) reached by a random descent; `deep` prefers search nodes
        (fragmented space, many boundaries) over data records when both children exist."""
        width = 32 if version == 4 else 128
        node, prefix, depth = (self.v4_root if version == 4 else 0), 0, 0
        while depth < width:
            options = [(bit, rec) for bit, rec in enumerate(self.children(node)) if rec != self.node_count]
            if not options:
                return None
            if len(options) == 2 and deep:
                inner = [o for o in options if o[1] < self.node_count]
                pick = rng.choice(inner) if inner and rng.random() < 0.85 else rng.choice(options)
            else:
                pick = rng.choice(options)
            bit, rec = pick
            prefix |= bit << (width - depth - 1)
            depth += 1
            if rec > self.node_count:
                return (ipaddress.IPv6Network if version == 6 else ipaddress.IPv4Network)((prefix, depth))
            node = rec
        return None

    def record(self, addr):
        # the reader follows the IPv6 tree's aliases of the IPv4 subtree (::ffff:0:0/96, 2001::/32
        # Teredo, 2002::/16 6to4), and so does Meridian's partition
        key = int(addr), addr.version
        if key not in self.cache:
            self.cache[key] = self.reader.get(str(addr))
        return self.cache[key]

    def region(self, addr):
        rec = self.record(addr)
        code = ((rec or {}).get("continent") or {}).get("code")
        return CONTINENT_REGION.get(code, "default")


def random_subnet_in(net, prefixlen, rng):
    """A random /prefixlen subnet overlapping `net` (containing a random address of it)."""
    first, last = int(net.network_address), int(net.broadcast_address)
    x = rng.randint(first, last)
    cls = ipaddress.IPv4Network if net.version == 4 else ipaddress.IPv6Network
    return cls((x, prefixlen), strict=False)


def draw_subnets(db, rng, count):
    n6 = count // 5
    n4 = count - n6
    out = []
    for version, n, plen in ((4, n4, 24), (6, n6, 48)):
        outside = n // 10
        inside = n - outside
        aliases = 10 if version == 6 else 0
        got = 0
        for _ in range(inside * 50):
            if got == inside:
                break
            net = db.random_network(rng, version, deep=rng.random() < 0.5)
            if net is None:
                continue
            if version == 6 and got < aliases:
                # 6to4 (2002::/16) or Teredo (2001::/32) of a placed IPv4 network: aliases of the
                # database's IPv4 subtree, where the next 32 bits are the IPv4 address
                v4 = db.random_network(rng, 4, deep=False)
                if v4 is None:
                    continue
                base, shift = ((0x2002 << 112), 80) if got % 2 == 0 else ((0x2001_0000 << 96), 64)
                sub = ipaddress.IPv6Network((base | (int(v4.network_address) << shift), plen), strict=False)
            else:
                sub = random_subnet_in(net, plen, rng)
            out.append((sub, "db"))
            got += 1
        if got < inside:
            raise RuntimeError(f"could only draw {got} IPv{version} subnets from the database")
        got = 0
        for _ in range(outside * 2000):
            if got == outside:
                break
            if version == 4:
                sub = ipaddress.IPv4Network((rng.getrandbits(24) << 8, 24))
            else:
                if rng.random() < 0.8:  # global unicast 2000::/3
                    sub = ipaddress.IPv6Network(((0b001 << 125) | (rng.getrandbits(45) << 80), 48))
                else:  # unique local fc00::/7
                    sub = ipaddress.IPv6Network(((0x7E << 121) | (rng.getrandbits(41) << 80), 48))
            if db.record(sub.network_address) is not None:
                continue
            out.append((sub, "not in db"))
            got += 1
        if got < outside:
            raise RuntimeError(f"could only draw {got} IPv{version} subnets outside the database")
    rng.shuffle(out)
    return out


def check(server, db, rng, sub, rdtype):
    """A list of problems with the answer for `sub` (empty = pass)."""
    problems = []
    expected = db.region(sub.network_address)
    try:
        r = server.query(g.ecs_query(g.SERVICE, rdtype, sub))
    except Exception as e:  # timeout, malformed response
        return [f"no answer: {e!r}"], expected
    if r.rcode() != g.dns.rcode.NOERROR:
        problems.append(f"rcode {g.dns.rcode.to_text(r.rcode())}")
    if not r.flags & g.dns.flags.AA:
        problems.append("AA not set")
    region, ttls, addrs = g.answer_region(r, rdtype)
    if region != expected:
        problems.append(f"answer {addrs} (region {region}), expected {expected}")
    if ttls != {30}:
        problems.append(f"TTL {sorted(ttls)}, expected 30")
    ecs = g.response_ecs(r)
    if ecs is None:
        return problems + ["no ECS option in the response"], expected
    want_family = 1 if sub.version == 4 else 2
    if ecs.family != want_family or ecs.srclen != sub.prefixlen or \
            ipaddress.ip_address(ecs.address) != sub.network_address:
        problems.append(f"ECS echo {ecs.address}/{ecs.srclen} family {ecs.family}")
        return problems, expected
    width = 32 if sub.version == 4 else 128
    scope = ecs.scopelen
    if scope == 0:
        problems.append("SCOPE 0 for a client-dependent answer")
    elif scope > width:
        problems.append(f"SCOPE {scope} > {width}")
    elif region is not None:
        cls = ipaddress.IPv6Network if sub.version == 6 else ipaddress.IPv4Network
        block = cls((int(sub.network_address), scope), strict=False)
        for p in g.block_probes(block, rng):
            pr = db.region(p)
            if pr != region:
                problems.append(f"SCOPE /{scope} unsound: {block} holds {p} -> {pr}, answered {region}")
                break
    return problems, expected


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--db", default=None)
    ap.add_argument("--time-limit", type=int, default=900)
    args = ap.parse_args()
    g.watchdog(args.time_limit)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2 ** 32)
    rng = random.Random(seed)
    db_path = args.db or g.geolite2_path()
    db = GeoLite2(db_path)
    subnets = draw_subnets(db, rng, min(args.count, 100000))
    tmp = g.make_tmp("meridian-gslb-")
    cfg = g.write_config(tmp, db_path, SERVICE_YAML)
    server = g.Server(os.path.abspath(args.bin), cfg, tmp)

    passed = failed = 0
    details = []
    stats = {}
    for sub, origin in subnets:
        types = ["A", "AAAA"] if rng.random() < 0.25 else ["A"]
        for rdtype in types:
            problems, expected = check(server, db, rng, sub, rdtype)
            stats[(origin, expected)] = stats.get((origin, expected), 0) + 1
            if problems:
                failed += 1
                if len(details) < 20:
                    details.append(f"FAIL: {sub} ({origin}) {rdtype}: " + "; ".join(problems))
            else:
                passed += 1
    if server.proc.poll() is not None:
        failed += 1
        details.append(f"FAIL: the server died (exit {server.proc.returncode}):\n{server.tail()}")
    server.stop()
    for d in details:
        print(d)
    mix = ", ".join(f"{k[0]}->{k[1]}: {v}" for k, v in sorted(stats.items()))
    print(f"seed {seed}; {len(subnets)} subnets ({mix})")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
