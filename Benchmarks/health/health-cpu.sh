#!/usr/bin/env bash
# CPU cost of health checking: N `tcp` endpoints (10 services x 5 regions x N/50 addresses on
# 127.1.0.0/16) probed every 1 s (timeout 500 ms) against an accept-and-close listener, Meridian's
# utime+stime over WINDOW seconds after WARMUP seconds; then the same probes from probe-floor.c (system
# calls only) for comparison. Runs alternate; prints each run and the medians.
# Usage: Benchmarks/health/health-cpu.sh [MERIDIAN_BINARY]   env: N WARMUP WINDOW RUNS PORT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../.build/release/meridian}
N=${N:-5000} WARMUP=${WARMUP:-45} WINDOW=${WINDOW:-30} RUNS=${RUNS:-3} PORT=${PORT:-7090}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cc -O2 -o "$work/accept-close" "$here/accept-close.c"
cc -O2 -o "$work/probe-floor" "$here/probe-floor.c"
"$work/accept-close" "$PORT" & pids+=($!)

cat > "$work/z.zone" <<ZONE
\$ORIGIN hc.test.
\$TTL 300
@ SOA ns1 host 1 3600 600 86400 60
@ NS ns1
ns1 A 127.0.0.1
ZONE
per=$((N / 50))
{
  echo "listen: [\"127.0.0.1:0\"]"
  echo "zones: [{ origin: hc.test., file: $work/z.zone }]"
  echo "control: { listen: off }"
  echo "checks:"
  echo "  tcp: { type: tcp, port: $PORT, interval: 1s, timeout: 500ms }"
  echo "services:"
  k=0
  for s in $(seq 1 10); do
    echo "  s$s.hc.test.:"
    echo "    policy: failover"
    echo "    pools:"
    for r in $(seq 1 5); do
      addrs=""
      for a in $(seq 1 $per); do
        addrs+="127.1.$((k / 250)).$((1 + k % 250)),"; k=$((k + 1))
      done
      echo "      r$r: { addresses: [${addrs%,}], check: tcp }"
    done
  done
} > "$work/m.yaml"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
sut=() floor=()
for run in $(seq 1 "$RUNS"); do
  "$bin" serve --config "$work/m.yaml" > "$work/log" 2>&1 & mp=$!; pids+=($mp)
  sleep "$WARMUP"
  t0=$(ticks $mp); tr0=$(grep -c "health transition" "$work/log" || true)
  sleep "$WINDOW"
  t1=$(ticks $mp); tr1=$(grep -c "health transition" "$work/log" || true)
  kill $mp; wait $mp 2>/dev/null || true
  pct=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v w="$WINDOW" 'BEGIN{printf "%.1f", (b-a)/hz/w*100}')
  sut+=("$pct")
  echo "run $run meridian: $pct % of a core ($N endpoints at 1 s; transitions in window: $((tr1 - tr0)); up at start: $(grep -c '"to": "up"\|to=up' "$work/log" || true))"
  out=$( { /usr/bin/time -f "%U %S" "$work/probe-floor" "$N" "$PORT" "$WINDOW"; } 2>&1 )
  pct=$(echo "$out" | tail -1 | awk -v w="$WINDOW" '{printf "%.1f", ($1+$2)/w*100}')
  floor+=("$pct")
  echo "run $run floor:    $pct % of a core ($(echo "$out" | head -1))"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "median meridian: $(median "${sut[@]}") % of a core; median floor (system calls only): $(median "${floor[@]}") %"
