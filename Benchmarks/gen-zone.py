#!/usr/bin/env python3
"""Deterministic zone generator for the zone-load benchmark (Benchmarks/zone-load.sh).

Writes one master file (RFC 1035 §5) under one origin: $ORIGIN and $TTL, a SOA and an NS at the
apex, the name server's A record, then N records of types A, AAAA, TXT, MX in turn, each at its own
relative owner name. N = 1,000,000 gives a 1,000,003-record zone.

usage: gen-zone.py [--records N] [--origin bench.example.] OUTFILE
"""
import argparse


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000, help="data records after SOA, NS, ns1 A")
    ap.add_argument("--origin", default="bench.example.")
    ap.add_argument("out")
    a = ap.parse_args()
    origin = a.origin if a.origin.endswith(".") else a.origin + "."
    with open(a.out, "w", buffering=1 << 20) as f:
        w = f.write
        w(f"$ORIGIN {origin}\n$TTL 3600\n")
        w(f"@ IN SOA ns1.{origin} hostmaster.{origin} 2026112801 7200 900 1209600 300\n")
        w(f"@ IN NS ns1.{origin}\n")
        w("ns1 IN A 192.0.2.53\n")
        for i in range(a.records):
            kind = i % 4
            if kind == 0:
                w(f"h{i} IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
            elif kind == 1:
                w(f"h{i} IN AAAA 2001:db8:{(i >> 16) & 0xffff:x}::{i & 0xffff:x}\n")
            elif kind == 2:
                w(f'h{i} IN TXT "v=bench record {i}"\n')
            else:
                w(f"h{i} IN MX 10 mail{i % 1000}.{origin}\n")


if __name__ == "__main__":
    main()
