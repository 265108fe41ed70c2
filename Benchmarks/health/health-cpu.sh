#!/usr/bin/env bash
# CPU cost of health checking: N `tcp` (or CHECK=tcp-half-open) endpoints (10 services x 5 regions x N/50 addresses on
# 127.1.0.0/16, or 10.78.0.0/16 with NETNS=1) probed every 1 s (timeout 500 ms) against an accept-and-close listener, Meridian's
# utime+stime over WINDOW seconds after WARMUP seconds; then the same probes from probe-floor.c (system
# calls only; half-open-floor.c for CHECK=tcp-half-open) for comparison. Runs alternate; prints each
# run and the medians.
#
# On loopback the kernel runs both ends of every handshake in the prober's context. NETNS=1 (root)
# instead puts the listener in a network namespace behind a veth pair whose receive processing RPS
# steers to cpu0, with 5000 endpoint addresses (10.78.0.0/16, local in the namespace), and pins
# Meridian and the floor to cpu1: the far end's work is then off the measured core, as it is for
# remote endpoints.
# Usage: Benchmarks/health/health-cpu.sh [MERIDIAN_BINARY]   env: N WARMUP WINDOW RUNS PORT NETNS CHECK
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../.build/release/meridian}
N=${N:-5000} WARMUP=${WARMUP:-45} WINDOW=${WINDOW:-30} RUNS=${RUNS:-3} PORT=${PORT:-7090} CHECK=${CHECK:-tcp}
case "$CHECK" in
  tcp) floor_src=probe-floor.c ;;
  tcp-half-open) floor_src=half-open-floor.c ;;
  *) echo "CHECK must be tcp or tcp-half-open" >&2; exit 2 ;;
esac
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cc -O2 -o "$work/accept-close" "$here/accept-close.c"
NETNS=${NETNS:-0} pin=()
if [ "$NETNS" = 1 ]; then
  ns=mhc$$
  cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip route del 10.78.0.0/16 2>/dev/null || true
    ip link del "${ns}a" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
  }
  ip netns add "$ns"
  ip link add "${ns}a" type veth peer name "${ns}b"
  ip link set "${ns}b" netns "$ns"
  ip addr add 10.77.0.1/30 dev "${ns}a"; ip link set "${ns}a" up
  ip -n "$ns" addr add 10.77.0.2/30 dev "${ns}b"; ip -n "$ns" link set "${ns}b" up; ip -n "$ns" link set lo up
  ip -n "$ns" route add local 10.78.0.0/16 dev lo
  ip -n "$ns" route add default via 10.77.0.1
  ip route add 10.78.0.0/16 via 10.77.0.2
  echo 1 > "/sys/class/net/${ns}a/queues/rx-0/rps_cpus"
  ip netns exec "$ns" sh -c "echo 1 > /sys/class/net/${ns}b/queues/rx-0/rps_cpus"
  ip netns exec "$ns" taskset -c 0 "$work/accept-close" "$PORT" & pids+=($!)
  address() { echo "10.78.$(($1 / 250)).$((1 + $1 % 250))"; }
  floor_base=0x0a4e0000
  pin=(taskset -c 1)
else
  "$work/accept-close" "$PORT" & pids+=($!)
  address() { echo "127.1.$(($1 / 250)).$((1 + $1 % 250))"; }
  floor_base=0x7f010000
fi
cc -O2 -DADDRESS_BASE="$floor_base" -o "$work/probe-floor" "$here/$floor_src"

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
  echo "state_dir: $work/state"
  echo "checks:"
  echo "  tcp: { type: $CHECK, port: $PORT, interval: 1s, timeout: 500ms }"
  echo "services:"
  k=0
  for s in $(seq 1 10); do
    echo "  s$s.hc.test.:"
    echo "    policy: failover"
    echo "    pools:"
    for r in $(seq 1 5); do
      addrs=""
      for a in $(seq 1 $per); do
        addrs+="$(address $k),"; k=$((k + 1))
      done
      echo "      r$r: { addresses: [${addrs%,}], check: tcp }"
    done
  done
} > "$work/m.yaml"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
sut=() floor=()
for run in $(seq 1 "$RUNS"); do
  "${pin[@]}" "$bin" serve --config "$work/m.yaml" > "$work/log" 2>&1 & mp=$!; pids+=($mp)
  sleep "$WARMUP"
  t0=$(ticks $mp); tr0=$(grep -c "health transition" "$work/log" || true)
  sleep "$WINDOW"
  t1=$(ticks $mp); tr1=$(grep -c "health transition" "$work/log" || true)
  kill $mp; wait $mp 2>/dev/null || true
  pct=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v w="$WINDOW" 'BEGIN{printf "%.1f", (b-a)/hz/w*100}')
  sut+=("$pct")
  echo "run $run meridian: $pct % of a core ($N $CHECK endpoints at 1 s; transitions in window: $((tr1 - tr0)); up at start: $(grep -c '"to": "up"\|to=up' "$work/log" || true))"
  out=$( { /usr/bin/time -f "%U %S" "${pin[@]}" "$work/probe-floor" "$N" "$PORT" "$WINDOW"; } 2>&1 )
  pct=$(echo "$out" | tail -1 | awk -v w="$WINDOW" '{printf "%.1f", ($1+$2)/w*100}')
  floor+=("$pct")
  echo "run $run floor:    $pct % of a core ($(echo "$out" | head -1))"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "median meridian: $(median "${sut[@]}") % of a core; median floor (system calls only): $(median "${floor[@]}") %"
