#!/bin/bash
# ceiling.sh -- how close Meridian and gdnsd come to the ceiling of a UDP-socket server on this
# machine. Alternates, in each round, Meridian (Benchmarks/meridian-bench.yaml, one worker), gdnsd
# (../shared/bench/peers/gdnsd, the same peer compare.sh runs) and fixed-answer.c (the same sockets
# and batching, no DNS work) under the same mmsgblast load and ECS query stream as `make bench`
# (server on cpu1, load on cpu0, 2 sockets, window 256, batch 16), measured by ../shared/bench's
# benchtool.py (quiet gate, per-run server CPU from the session's ticks, "foreign" CPU flag).
# Prints per-round qps and us/query and the median ratios fixed-answer/gdnsd, meridian/gdnsd and
# meridian/fixed-answer.
#
# CEILING_KIND=latency runs dnsperf at CEILING_RATE qps (default 20000, `-T 4 -c 64 -q 400 -B` as
# compare.sh's latency run) instead of mmsgblast, and prints each server's p50/p99 per round and their
# medians. In every round the servers take turns in a rotated order (round r starts with the r-th), so
# no server always runs right after the same one.
#
# CEILING_VARIANTS="spin uring" adds, in every round, fixed-answer built with -DSPIN (polls instead of
# sleeping) and fixed-answer-uring.c (the same loop through io_uring; installs liburing-dev).
#
# usage: Benchmarks/ceiling/ceiling.sh [ROUNDS=5] [SECONDS=10]    (root; run `make release` first)
set -eu
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}; SECS=${2:-10}
BENCH=$(cd "${BENCH_DIR:-../shared/bench}" && pwd)
TOOL="python3 $BENCH/benchtool.py"
BIN=$(pwd)/.build/release/meridian
[ -x "$BIN" ] || { echo "build first: make release" >&2; exit 2; }
export MERIDIAN_BENCH_MMDB=${MERIDIAN_BENCH_MMDB:-$(python3 -c 'import _maxminddb_geolite2,os;print(os.path.join(os.path.dirname(_maxminddb_geolite2.__file__),"GeoLite2-City.mmdb"))' 2>/dev/null || true)}
[ -f "$MERIDIAN_BENCH_MMDB" ] || { echo "GeoLite2-City.mmdb not found: run make bench once (it installs maxminddb-geolite2)" >&2; exit 2; }
export MERIDIAN_BENCH_ZONE=$BENCH/zone/gslb.example.zone MERIDIAN_BENCH_REGIONS=$BENCH/zone/regions.json
export MERIDIAN_BENCH_ADDR=127.0.0.1 MERIDIAN_BENCH_PORT=${BENCH_PORT:-5340}
WORK=$(mktemp -d /tmp/meridian-ceiling.XXXXXX)
export MERIDIAN_BENCH_TMP=$WORK/sut
mkdir -p "$MERIDIAN_BENCH_TMP"
declare -A PORT=( [meridian]=$MERIDIAN_BENCH_PORT [gdnsd]=${GDNSD_PORT:-5331} [ceiling]=${CEILING_PORT:-5341} [spin]=5342 [uring]=5343 )
VARIANTS=${CEILING_VARIANTS:-}
KIND=${CEILING_KIND:-blast}; RATE=${CEILING_RATE:-20000}
case $KIND in blast|latency) ;; *) echo "CEILING_KIND must be blast or latency" >&2; exit 2;; esac
for v in $VARIANTS; do case $v in spin|uring) ;; *) echo "unknown variant $v (spin, uring)" >&2; exit 2;; esac; done
declare -A SID=()
cleanup() { for n in "${!SID[@]}"; do kill -- -"${SID[$n]}" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

gcc -O2 -Wall -o "$WORK/fixed-answer" Benchmarks/ceiling/fixed-answer.c
for v in $VARIANTS; do
  case $v in
    spin) gcc -O2 -Wall -DSPIN -o "$WORK/spin" Benchmarks/ceiling/fixed-answer.c ;;
    uring) dpkg -s liburing-dev > /dev/null 2>&1 || apt-get install -y liburing-dev > /dev/null
           gcc -O2 -Wall -o "$WORK/uring" Benchmarks/ceiling/fixed-answer-uring.c -luring ;;
  esac
done
gcc -O2 -o "$WORK/mmsgblast" "$BENCH/mmsgblast.c" -lm
$TOOL gen "$WORK" "$MERIDIAN_BENCH_MMDB" > /dev/null
G=$WORK/gdnsd; mkdir -p "$G/cfg/zones" "$G/run" "$G/state"
for f in "$BENCH"/peers/gdnsd/*; do
  sed -e "s#@ADDR@#127.0.0.1#g; s#@PORT@#${PORT[gdnsd]}#g; s#@RUN@#$G#g; s#@MMDB@#$MERIDIAN_BENCH_MMDB#g" "$f" > "$G/$(basename "$f")"
done
mv "$G/config" "$G/cfg/config"; mv "$G/gslb.example" "$G/cfg/zones/gslb.example"

LIFE=$(( ROUNDS * (3 + $(echo $VARIANTS | wc -w)) * (SECS + 30) + 120 ))
start() {  # name command...
  local n=$1; shift
  ( exec setsid taskset -c 1 timeout "$LIFE" "$@" ) > "$WORK/$n.log" 2>&1 < /dev/null &
  SID[$n]=$!
}
start meridian "$BIN" serve --config "$(pwd)/Benchmarks/meridian-bench.yaml" --workers 1 --control off
start gdnsd /usr/sbin/gdnsd -c "$G/cfg" start
start ceiling "$WORK/fixed-answer" 127.0.0.1 "${PORT[ceiling]}" "$LIFE"
for v in $VARIANTS; do start "$v" "$WORK/$v" 127.0.0.1 "${PORT[$v]}" "$LIFE"; done
$TOOL ready 127.0.0.1 "${PORT[meridian]}" 60 "${SID[meridian]}" || { echo "meridian did not start:"; tail "$WORK/meridian.log"; exit 2; }
$TOOL ready 127.0.0.1 "${PORT[gdnsd]}" 60 "${SID[gdnsd]}" || { echo "gdnsd did not start:"; tail "$WORK/gdnsd.log"; exit 2; }
sleep 1
for n in ceiling $VARIANTS; do kill -0 "${SID[$n]}" || { echo "$n did not start:"; cat "$WORK/$n.log"; exit 2; }; done

RAW=$WORK/raw.jsonl
SERVERS=(meridian gdnsd ceiling $VARIANTS)
for r in $(seq 1 "$ROUNDS"); do
  for k in $(seq 0 $(( ${#SERVERS[@]} - 1 ))); do
    n=${SERVERS[$(( (k + r - 1) % ${#SERVERS[@]} ))]}
    if [ "$KIND" = blast ]; then
      load=("$WORK/mmsgblast" 127.0.0.1 "${PORT[$n]}" "$WORK/ecsmix.bin" "$SECS" 256 16 2); foreign=12
    else  # at partial load the tick accounting cannot tell foreign CPU (see compare.sh): quiet gate only
      load=(dnsperf -s 127.0.0.1 -p "${PORT[$n]}" -l "$SECS" -T 4 -c 64 -q 400 -Q "$RATE" -B -d "$WORK/ecsmix.bin" -v); foreign=1000
    fi
    for att in 1 2 3; do
      $TOOL quiet 15
      rc=0
      $TOOL run --raw "$RAW" --label "$n" --pair "round#$r" --kind "$KIND" --attempt "$att" --sid "${SID[$n]}" \
        --pid "${SID[$n]}" --server-cpu 1 --client-cpu 0 --foreign-max "$foreign" -- \
        taskset -c 0 timeout $((SECS + 15)) "${load[@]}" || rc=$?
      [ $rc = 2 ] && { echo "$n run failed"; exit 2; }
      [ $rc = 0 ] && break
    done
  done
done
if [ "$KIND" = latency ]; then
  python3 - "$RAW" $VARIANTS <<'PY'
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
labels = ["meridian", "gdnsd", "ceiling"] + sys.argv[2:]
def final(label, pair):
    rs = [r for r in recs if r["label"] == label and r["pair"] == pair and r["flag"] != "failed"]
    ok = [r for r in rs if r["flag"] == "ok"]
    return ok[0] if ok else (rs[-1] if rs else None)
pairs = sorted({r["pair"] for r in recs}, key=lambda p: int(p.split("#")[1]))
print("round   " + "".join("%-24s" % (l if l != "ceiling" else "fixed-answer") for l in labels) + "(p50 / p99 ms, server us/query)")
for p in pairs:
    print("%-7s " % p + "".join("%-24s" % ("%.3f / %.3f %5.2f" % (x["p50_ms"], x["p99_ms"], x["us_per_q"]) if x else "-")
          for x in (final(l, p) for l in labels)))
med = {}
for l in labels:
    xs = [x for x in (final(l, p) for p in pairs) if x]
    if xs:
        med[l] = (statistics.median(x["p50_ms"] for x in xs), statistics.median(x["p99_ms"] for x in xs),
                  statistics.median(x["us_per_q"] for x in xs))
        print("median %-14s p50 %.3f ms  p99 %.3f ms  server %.2f us/query  (%d runs)" % (
            l if l != "ceiling" else "fixed-answer", med[l][0], med[l][1], med[l][2], len(xs)))
if "gdnsd" in med:
    for l in labels:
        if l != "gdnsd" and l in med:
            print("ratio %-14s vs gdnsd: p50 %.2f, p99 %.2f" % (l if l != "ceiling" else "fixed-answer",
                  med[l][0] / med["gdnsd"][0], med[l][1] / med["gdnsd"][1]))
PY
  exit 0
fi
python3 - "$RAW" $VARIANTS <<'PY'
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
def final(label, pair):
    rs = [r for r in recs if r["label"] == label and r["pair"] == pair and r["flag"] != "failed"]
    ok = [r for r in rs if r["flag"] == "ok"]
    return ok[0] if ok else (rs[-1] if rs else None)
pairs = sorted({r["pair"] for r in recs}, key=lambda p: int(p.split("#")[1]))
rows = {k: [] for k in ("c/g", "m/g", "m/c")}
cpu = {k: [] for k in ("c/g", "m/g", "m/c")}
print("round   meridian qps (us/q)   gdnsd qps (us/q)   fixed-answer qps (us/q)")
for p in pairs:
    m, g, c = final("meridian", p), final("gdnsd", p), final("ceiling", p)
    if not (m and g and c):
        continue
    print("%-7s %9.0f (%.2f)      %9.0f (%.2f)   %9.0f (%.2f)%s" % (p, m["qps"], m["us_per_q"], g["qps"], g["us_per_q"],
          c["qps"], c["us_per_q"], "" if all(x["flag"] == "ok" for x in (m, g, c)) else "  [flagged]"))
    for k, a, b in (("c/g", c, g), ("m/g", m, g), ("m/c", m, c)):
        rows[k].append(a["qps"] / b["qps"]); cpu[k].append(a["us_per_q"] / b["us_per_q"])
names = {"c/g": "fixed-answer vs gdnsd", "m/g": "meridian vs gdnsd", "m/c": "meridian vs fixed-answer"}
for v in sys.argv[2:]:  # variants: each against gdnsd and against fixed-answer, rounds where all three ran
    for k, other, label in ((v + "/g", "gdnsd", "gdnsd"), (v + "/c", "ceiling", "fixed-answer")):
        rows[k], cpu[k] = [], []
        names[k] = "%s vs %s" % ({"spin": "spin variant", "uring": "io_uring variant"}[v], label)
        for p in pairs:
            a, b = final(v, p), final(other, p)
            if a and b:
                rows[k].append(a["qps"] / b["qps"]); cpu[k].append(a["us_per_q"] / b["us_per_q"])
for k in rows:
    if rows[k]:
        print("ratio %-40s %.2f (qps), %.2f (cpu per query)   rounds: %s" % (names[k] + ":", statistics.median(rows[k]),
              statistics.median(cpu[k]), " ".join("%.2f" % x for x in rows[k])))
PY
