#!/usr/bin/env bash
# Many GSLB names on one geo map: Meridian vs gdnsd, start-up time and RSS.
#
#   Benchmarks/many-services.sh [RUNS] [COUNTS]     (defaults: 3 runs; COUNTS "1 50 200")
#
# For each count N, both servers get N geo names on the benchmark's continent map with GeoLite2-City
# (Meridian: N copies of Benchmarks/meridian-bench.yaml's service, named s0..s(N-1).gslb.example.;
# gdnsd: N copies of ../shared/bench/peers/gdnsd's `www` resource and N DYNA records), one UDP worker
# each. Alternating, RUNS times: start the server, poll with dig until s0 answers (wall time from
# process start = "ready"), check that s(N-1) answers with ECS, read VmRSS, stop it by its PID.
# Prints every run and the medians. MERIDIAN_BIN overrides the binary (default .build/release/meridian).
# Every wait is bounded (READY_TIMEOUT seconds, default 120).
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=${1:-3}
COUNTS=${2:-"1 50 200"}
BIN=${MERIDIAN_BIN:-$ROOT/.build/release/meridian}
BENCH=$(cd "${BENCH_DIR:-$ROOT/../shared/bench}" && pwd)
READY_TIMEOUT=${READY_TIMEOUT:-120}
[ -x "$BIN" ] || { echo "many-services.sh: $BIN not built (make release)" >&2; exit 2; }
command -v gdnsd >/dev/null || { echo "many-services.sh: gdnsd not installed (apt-get install gdnsd)" >&2; exit 2; }
MMDB=${MERIDIAN_BENCH_MMDB:-$(python3 -c 'import _maxminddb_geolite2,os;print(os.path.join(os.path.dirname(_maxminddb_geolite2.__file__),"GeoLite2-City.mmdb"))' 2>/dev/null || true)}
[ -f "$MMDB" ] || { echo "many-services.sh: GeoLite2-City.mmdb not found (make bench installs maxminddb-geolite2)" >&2; exit 2; }
MPORT=${MERIDIAN_PORT:-5377}
GPORT=${GDNSD_PORT:-5378}

TMP=$(mktemp -d /tmp/meridian-manyservices.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

python3 - "$ROOT" "$BENCH" "$TMP" "$MMDB" "$MPORT" "$GPORT" $COUNTS <<'PY'
import os, sys
root, bench, tmp, mmdb, mport, gport = sys.argv[1:7]
counts = [int(n) for n in sys.argv[7:]]
base = open(os.path.join(root, "Benchmarks/meridian-bench.yaml")).read()
head, services = base.split("services:\n")
service = services.split("\n", 1)[1].rstrip("\n") + "\n"        # the www service's body
gcfg = open(os.path.join(bench, "peers/gdnsd/config")).read()
gzone = open(os.path.join(bench, "peers/gdnsd/gslb.example")).read()
ghead, gres = gcfg.split("    resources => {\n")
gwww = gres.split("      }\n    }\n  }\n}")[0] + "      }\n"     # the www resource
for n in counts:
    with open(f"{tmp}/meridian-{n}.yaml", "w") as f:
        f.write(head + "services:\n" + "".join(f"  s{i}.gslb.example.:\n" + service for i in range(n)))
    g = f"{tmp}/gdnsd-{n}"
    for d in ("cfg/zones", "run", "state"):
        os.makedirs(f"{g}/{d}", exist_ok=True)
    cfg = (ghead + "    resources => {\n" + "".join(gwww.replace("www =>", f"s{i} =>", 1) for i in range(n))
           + "    }\n  }\n}\n")
    cfg = cfg.replace("@ADDR@", "127.0.0.1").replace("@PORT@", gport).replace("@RUN@", g).replace("@MMDB@", mmdb)
    open(f"{g}/cfg/config", "w").write(cfg)
    zone = gzone.replace("www     30 DYNA geoip!www\n", "") + "".join(f"s{i} 30 DYNA geoip!s{i}\n" for i in range(n))
    open(f"{g}/cfg/zones/gslb.example", "w").write(zone)
PY

export MERIDIAN_BENCH_MMDB=$MMDB MERIDIAN_BENCH_ZONE=$BENCH/zone/gslb.example.zone
export MERIDIAN_BENCH_ADDR=127.0.0.1 MERIDIAN_BENCH_PORT=$MPORT MERIDIAN_BENCH_TMP=$TMP

# measure NAME N PORT command...: prints "NAME N ready_s rss_kB"
measure() {
  local name=$1 n=$2 port=$3; shift 3
  local t0 t1 answer ok=0
  t0=$(date +%s.%N)
  "$@" > "$TMP/$name-$n.log" 2>&1 < /dev/null &
  PID=$!
  for _ in $(seq 1 $((READY_TIMEOUT * 10))); do
    if dig +short +tries=1 +time=1 -p "$port" @127.0.0.1 s0.gslb.example A > /dev/null 2>&1; then ok=1; break; fi
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  t1=$(date +%s.%N)
  [ $ok = 1 ] || { echo "$name with $n names did not answer:"; tail -5 "$TMP/$name-$n.log"; exit 1; }
  answer=$(dig +short +tries=2 +time=2 -p "$port" @127.0.0.1 "s$((n - 1)).gslb.example" A +subnet=1.2.3.0/24)
  [ "$answer" = 192.0.2.1 ] || { echo "$name: s$((n - 1)) answered '$answer', expected 192.0.2.1"; exit 1; }
  echo "$name $n $(echo "$t1 - $t0" | bc) $(awk '/VmRSS/ {print $2}' /proc/$PID/status)"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
}

RAW=$TMP/raw.txt
for run in $(seq 1 "$RUNS"); do
  for n in $COUNTS; do
    measure meridian "$n" "$MPORT" "$BIN" serve --config "$TMP/meridian-$n.yaml" --workers 1 --control off | tee -a "$RAW"
    measure gdnsd "$n" "$GPORT" gdnsd -c "$TMP/gdnsd-$n/cfg" start | tee -a "$RAW"
  done
done
python3 - "$RAW" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, n, t, rss = line.split()
    rows.setdefault((name, int(n)), []).append((float(t), int(rss)))
print("names   meridian ready / RSS          gdnsd ready / RSS        (medians)")
for n in sorted({k[1] for k in rows}):
    m, g = rows[("meridian", n)], rows[("gdnsd", n)]
    print("%5d   %6.2f s / %7.1f MB         %6.2f s / %7.1f MB" % (n,
          statistics.median(t for t, _ in m), statistics.median(r for _, r in m) / 1024,
          statistics.median(t for t, _ in g), statistics.median(r for _, r in g) / 1024))
PY
