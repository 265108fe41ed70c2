#!/bin/bash
# Regenerates Benchmarks/layout/meridian.order, the function order `make release` links by
# (lld --symbol-ordering-file): every function the server executes while starting and serving is
# placed together at the front of .text, so the code it runs shares pages instead of being spread
# over the whole binary (the kernel maps file pages in 64 KB windows around each fault, so scattered
# code costs resident memory far beyond its size). docs/PERFORMANCE.md, "What limits each figure", RSS.
#
# Profile: the release binary (symbols only: valgrind 3.19 cannot read this toolchain's DWARF) under
# callgrind, serving (1) Benchmarks/meridian-bench.yaml with GeoLite2-City under UDP queries with ECS,
# and (2) the shipped example zones/meridian.yaml with UDP, TCP and control API requests. Functions
# are listed hottest first (self cost), then the rest in the order callgrind reports them.
# Usage: Benchmarks/layout/profile-order.sh [GeoLite2-City.mmdb]   (run from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
MMDB=${1:-$(python3 -c 'import _maxminddb_geolite2,os;print(os.path.dirname(_maxminddb_geolite2.__file__)+"/GeoLite2-City.mmdb")')}
work=$(mktemp -d /tmp/meridian-order.XXXXXX)
trap 'rm -rf "$work"' EXIT
# relink with a map of where every input section went (which functions have sections of their own)
make release RELEASE_EXTRA="-Xlinker -Map=$work/link.map" >/dev/null
objcopy --strip-debug .build/release/meridian "$work/meridian"

run() { # name config port -- then the load function runs, then SIGTERM
  local name=$1 config=$2 port=$3 load=$4
  valgrind --tool=callgrind --demangle=no --dump-instr=no --callgrind-out-file="$work/$name.out" \
    "$work/meridian" serve --config "$config" --workers 1 >"$work/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 600); do grep -q '"serving"\|serving' "$work/$name.log" 2>/dev/null && break; sleep 0.5; done
  grep -q serving "$work/$name.log" || { echo "profile-order: $name did not start"; cat "$work/$name.log"; kill "$pid"; exit 1; }
  $load "$port"
  kill -TERM "$pid"; wait "$pid" || true
}

udp_load() { python3 - "$1" <<'PY'
import dns.message, dns.query, dns.edns, random, sys
port = int(sys.argv[1]); random.seed(7)
names = [("www.gslb.example", "A"), ("www.gslb.example", "AAAA"), ("static.gslb.example", "A"),
         ("gslb.example", "SOA"), ("gslb.example", "NS"), ("nothere.gslb.example", "A")]
for i in range(3000):
    name, t = names[i % len(names)]
    if i % 5 == 4:
        opt = [dns.edns.ECSOption(f"2a0{random.randint(0, 9)}:{random.randint(0, 65535):x}::", 48)]
    else:
        opt = [dns.edns.ECSOption(f"{random.randint(1, 223)}.{random.randint(0, 255)}.{random.randint(0, 255)}.0", 24)]
    q = dns.message.make_query(name, t, use_edns=0, payload=1232, options=opt) if i % 7 else dns.message.make_query(name, t)
    dns.query.udp(q, "127.0.0.1", port=port, timeout=5)
PY
}

example_load() {
  udp_load "$1"
  for i in $(seq 1 20); do dig +tcp +short @127.0.0.1 -p "$1" www.gslb.example A >/dev/null; done
  curl -s http://127.0.0.1:18053/v1/status >/dev/null || true
  curl -s "http://127.0.0.1:18053/v1/explain?name=www.gslb.example&type=A&client=81.2.69.1" >/dev/null || true
  curl -s http://127.0.0.1:18053/metrics >/dev/null || true
}

export MERIDIAN_BENCH_ADDR=127.0.0.1 MERIDIAN_BENCH_PORT=25340 MERIDIAN_BENCH_MMDB="$MMDB"
export MERIDIAN_BENCH_ZONE=$(pwd)/../shared/bench/zone/gslb.example.zone
run bench Benchmarks/meridian-bench.yaml 25340 udp_load
sed -e 's/127.0.0.1:5353/127.0.0.1:25341/; s/"\[::1\]:5353"/"[::1]:25341"/' zones/meridian.yaml > zones/.profile-example.yaml
trap 'rm -rf "$work"; rm -f zones/.profile-example.yaml' EXIT
grep -q '^control:' zones/.profile-example.yaml || printf 'control:\n  listen: 127.0.0.1:18053\n' >> zones/.profile-example.yaml
run example zones/.profile-example.yaml 25341 example_load

# Only functions in sections of their own can be moved (-function-sections); a function inside a
# whole-object .text (the prebuilt Swift stdlib and FoundationEssentials, Debian's C archives) would
# pull that whole section into the ordered block, so those are left out. The link map says which.
# A name also defined in some input's whole .text (Swift's linkonce helpers such as
# __swift_instantiateConcreteTypeFromMangledName exist in every object) would drag that section in.
grep -oE '^\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9]+\s+/[^:(]+\.(a|o)' "$work/link.map" | awk '{print $5}' | sort -u |
  { xargs objdump -t 2>/dev/null || true; } | awk '/ \.text\t/ {print $NF}' | sort -u > "$work/whole-text"
python3 - "$work/link.map" "$work/whole-text" "$work"/bench.out "$work"/example.out > Benchmarks/layout/meridian.order <<'PY'
import re, sys, collections, bisect
symbols = set(); split = False
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+\d+\s+(\S.*)$", line)
    if not m: continue
    text = m.group(1)
    if text.startswith("/") or text.startswith("<"):
        split = bool(re.search(r":\(\.text\.[^)]+\)$", text))
    elif split:
        symbols.add(text.strip())
symbols = sorted(symbols - set(open(sys.argv[2]).read().split()))
# valgrind cuts long (Swift) symbol names short: map each name to the symbols it begins
def full_names(name):
    i = bisect.bisect_left(symbols, name)
    if i < len(symbols) and symbols[i] == name: return [name]
    out = []
    while i < len(symbols) and symbols[i].startswith(name) and len(name) >= 100:
        out.append(symbols[i]); i += 1
    return out
cost = collections.Counter(); order = []
for path in sys.argv[3:]:
    names = {}; current = None; after_call = False
    for line in open(path, errors="replace"):
        if after_call: after_call = False; continue  # the inclusive cost of a call, not self cost
        if line.startswith("calls="): after_call = True; continue
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if m:
            kind, ident, name = m.groups()
            if name: names[ident] = name.strip()
            name = names.get(ident)
            if name and name not in cost: order.append(name); cost[name] += 0
            if kind == "fn": current = name
            continue
        if current and line[:1].isdigit():
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit(): cost[current] += int(parts[1])
hot = sorted((n for n in order if cost[n] > 0), key=lambda n: -cost[n])
seen = set()
for n in hot + order:
    for full in full_names(n):
        if full not in seen: seen.add(full); print(full)
PY
echo "profile-order: $(wc -l < Benchmarks/layout/meridian.order) functions -> Benchmarks/layout/meridian.order"
