#!/bin/bash
# Reload under load: a measurement, not a pass/fail test.
#
# Usage: Tests/ops/reload_under_load.sh BIN
# Environment: RUNS (default 1) runs, each against a fresh server, then the medians;
#   QPS (default 50000), SECONDS_LOAD (default 25), RELOADS (default 20, one per second),
#   CLIENTS (default 8), THREADS (default 2), BASELINE=1 also runs the same load without reloads.
#
# Serves a static zone and two GSLB services (geo with a CIDR networks table, failover) on loopback,
# runs `dnsperf -s 127.0.0.1 -p PORT -d QUERYFILE -Q $QPS -l $SECONDS_LOAD -c $CLIENTS -T $THREADS`
# and, in parallel, `BIN ctl --control URL --token TOKEN reload` once a second, each reload changing
# the zone's www address and SOA serial. Prints dnsperf's summary and, per run, queries sent,
# completed, lost (and lost %), the qps achieved and the successful reloads counted by /metrics
# (meridian_reloads_total{result="success"}). On a 2-core machine dnsperf and Meridian compete for
# the CPU: the achieved qps is the figure to read next to the loss.
#
# Exits non-zero only when dnsperf could not run or a reload failed (or was not counted).
# Every wait is bounded; every process started is killed by PID on exit.
set -u
BIN=$(realpath "${1:?usage: $0 BIN}")
RUNS=${RUNS:-1}; QPS=${QPS:-50000}; SECONDS_LOAD=${SECONDS_LOAD:-25}; RELOADS=${RELOADS:-20}
CLIENTS=${CLIENTS:-8}; THREADS=${THREADS:-2}; BASELINE=${BASELINE:-0}
TOKEN=secret
command -v dnsperf >/dev/null || { echo "dnsperf not found (Debian package dnsperf)"; exit 2; }
[ -x "$BIN" ] || { echo "$BIN is not executable"; exit 2; }

TMP=$(mktemp -d /tmp/meridian-rul.XXXXXX)
SERVER_PID=""; PERF_PID=""; LOOP_PID=""
cleanup() {
  for p in $LOOP_PID $PERF_PID $SERVER_PID; do kill "$p" 2>/dev/null; done
  sleep 0.2
  for p in $LOOP_PID $PERF_PID $SERVER_PID; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 - <<'EOF'
import socket
for _ in range(50):
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        u.close(); t.close()
EOF
}

write_zone() { # serial www
  cat > "$TMP/rul.zone.tmp" <<EOF
\$ORIGIN rul.test.
\$TTL 300
@    IN SOA ns1 hostmaster $1 3600 900 604800 60
@    IN NS  ns1
ns1  IN A   127.0.0.1
www  IN A   $2
mail IN A   192.0.2.25
@    IN MX  10 mail
EOF
  mv "$TMP/rul.zone.tmp" "$TMP/rul.zone"
}

cat > "$TMP/nets.csv" <<'EOF'
198.51.100.0/24,eu
203.0.113.0/24,ap
127.0.0.0/8,na
EOF

cat > "$TMP/queries.txt" <<'EOF'
www.rul.test A
geo.rul.test A
fo.rul.test A
rul.test SOA
geo.rul.test AAAA
nx.rul.test A
rul.test NS
mail.rul.test A
rul.test MX
geo.rul.test A
EOF

metric() { # name{labels} -> value
  curl -s --max-time 5 "http://127.0.0.1:$CPORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}

# one run: $1 = run label, $2 = number of reloads; appends "sent completed lost qps reloads_ok" to $TMP/figures
run_once() {
  local label=$1 nreloads=$2
  PORT=$(free_port); CPORT=$(free_port)
  while [ "$CPORT" = "$PORT" ]; do CPORT=$(free_port); done
  write_zone 1 192.0.2.10
  cat > "$TMP/meridian.yaml" <<EOF
listen: ["127.0.0.1:$PORT"]
zones:
  - origin: rul.test.
    file: rul.zone
control: { listen: "127.0.0.1:$CPORT", token: $TOKEN }
state_dir: $TMP/state
services:
  geo.rul.test.:
    policy: geo
    ttl: 30
    networks: nets.csv
    map: { default: na }
    pools:
      na: { addresses: [192.0.2.1, "2001:db8::1"] }
      eu: { addresses: [198.51.100.1, "2001:db8:1::1"] }
      ap: { addresses: [203.0.113.1, "2001:db8:2::1"] }
  fo.rul.test.:
    policy: failover
    order: [na, eu]
    pools:
      na: { addresses: [192.0.2.11] }
      eu: { addresses: [198.51.100.11] }
EOF
  "$BIN" serve --config "$TMP/meridian.yaml" > "$TMP/server.log" 2>&1 &
  SERVER_PID=$!
  local ready=0
  for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    if curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$CPORT/v1/status" &&
       [ -n "$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$PORT" rul.test SOA 2>/dev/null)" ]; then ready=1; break; fi
    sleep 0.1
  done
  if [ $ready = 0 ]; then echo "meridian did not start:"; cat "$TMP/server.log"; return 2; fi
  local ok0; ok0=$(metric 'meridian_reloads_total{result="success"}')

  echo "== run $label: dnsperf -s 127.0.0.1 -p $PORT -d queries.txt -Q $QPS -l $SECONDS_LOAD -c $CLIENTS -T $THREADS; $nreloads reloads"
  timeout $((SECONDS_LOAD + 30)) dnsperf -s 127.0.0.1 -p "$PORT" -d "$TMP/queries.txt" -Q "$QPS" -l "$SECONDS_LOAD" \
    -c "$CLIENTS" -T "$THREADS" > "$TMP/dnsperf.out" 2>&1 &
  PERF_PID=$!
  (
    sleep 2
    for i in $(seq "$nreloads"); do
      write_zone $((1 + i)) "192.0.2.$((100 + i))"
      if timeout 10 "$BIN" ctl --control "http://127.0.0.1:$CPORT" --token "$TOKEN" reload > "$TMP/ctl.out" 2>&1; then
        echo ok >> "$TMP/reloads.$label"
      else
        echo "reload $i failed: $(tr '\n' ' ' < "$TMP/ctl.out")" >> "$TMP/reloads.$label"
      fi
      sleep 1
    done
  ) &
  LOOP_PID=$!
  wait "$PERF_PID"; local perf_rc=$?
  PERF_PID=""
  # the reload loop ends within nreloads x ~1 s; bounded by timeout 10 per reload
  for _ in $(seq 600); do kill -0 "$LOOP_PID" 2>/dev/null || break; sleep 0.1; done
  kill "$LOOP_PID" 2>/dev/null; wait "$LOOP_PID" 2>/dev/null; LOOP_PID=""

  sed -n '/Statistics:/,$p' "$TMP/dnsperf.out"
  local sent completed lost qps ok1 okd www
  sent=$(awk '/Queries sent:/ { print $3 }' "$TMP/dnsperf.out")
  completed=$(awk '/Queries completed:/ { print $3 }' "$TMP/dnsperf.out")
  lost=$(awk '/Queries lost:/ { print $3 }' "$TMP/dnsperf.out")
  qps=$(awk '/Queries per second:/ { print $4 }' "$TMP/dnsperf.out")
  ok1=$(metric 'meridian_reloads_total{result="success"}')
  okd=$(( ${ok1:-0} - ${ok0:-0} ))
  www=$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$PORT" www.rul.test A)
  kill "$SERVER_PID" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""

  if [ $perf_rc != 0 ] || [ -z "$sent" ] || [ -z "$completed" ] || [ -z "$qps" ]; then
    echo "dnsperf could not run (exit $perf_rc):"; cat "$TMP/dnsperf.out"; return 2
  fi
  local pct; pct=$(awk -v l="$lost" -v s="$sent" 'BEGIN { printf "%.3f", s ? 100 * l / s : 0 }')
  printf 'RESULT run %s: sent %s completed %s lost %s (%s%%) qps %s reloads_ok %s/%s www %s\n' \
    "$label" "$sent" "$completed" "$lost" "$pct" "$qps" "$okd" "$nreloads" "$www"
  echo "$sent $completed $lost $qps $okd" >> "$TMP/figures.$3"
  grep -v '^ok$' "$TMP/reloads.$label" 2>/dev/null
  local ok_lines; ok_lines=$(grep -c '^ok$' "$TMP/reloads.$label" 2>/dev/null || true)
  if [ "$nreloads" -gt 0 ] && { [ "$okd" != "$nreloads" ] || [ "${ok_lines:-0}" != "$nreloads" ]; }; then
    echo "reloads failed: $ok_lines/$nreloads ctl successes, $okd counted by /metrics"; return 1
  fi
  if [ "$nreloads" -gt 0 ] && [ "$www" != "192.0.2.$((100 + nreloads))" ]; then
    echo "after the reloads www answers '$www', want 192.0.2.$((100 + nreloads))"; return 1
  fi
  return 0
}

medians() { # $1 = figures file, $2 = label
  python3 - "$1" "$2" <<'EOF'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
cols = list(zip(*rows))
med = [statistics.median(c) for c in cols]
lost_pct = statistics.median(100 * r[2] / r[0] for r in rows if r[0])
print(f"MEDIAN {sys.argv[2]} ({len(rows)} runs): sent {med[0]:.0f} completed {med[1]:.0f} lost {med[2]:.0f} "
      f"({lost_pct:.3f}%) qps {med[3]:.0f} reloads_ok {med[4]:.0f}")
EOF
}

rc=0
for r in $(seq "$RUNS"); do
  run_once "$r" "$RELOADS" reload; x=$?
  [ $x -gt $rc ] && rc=$x
  [ $x = 2 ] && exit 2
done
[ "$RUNS" -gt 1 ] && medians "$TMP/figures.reload" "with $RELOADS reloads"
if [ "$BASELINE" = 1 ]; then
  for r in $(seq "$RUNS"); do
    run_once "baseline-$r" 0 baseline; x=$?
    [ $x = 2 ] && exit 2
  done
  [ "$RUNS" -gt 1 ] && medians "$TMP/figures.baseline" "without reloads"
fi
exit $rc
