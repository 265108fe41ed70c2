#!/bin/bash
# make bench: ../shared/bench/compare.sh against Meridian (release build, one UDP worker) with
# Benchmarks/meridian-bench.yaml, with the servers' peak RSS sampled meanwhile; extra arguments go to compare.sh (e.g. --runs 5, --peers gdnsd).
# SIGNED=1 (make bench-signed): the same config with the zone signed (dnssec: {}, a key made at start),
# for --mode ecsmix-do against --peers knot-signed.
# DEFENDED=1 (make bench-defended): RRL on (rate 100, slip 2) with the load generator's address exempt, so
# every response goes through the rate limiter's counting and none is dropped; cookies are on by default.
set -eu
cd "$(dirname "$0")/.."
BENCH=${BENCH_DIR:-../shared/bench}
WORKERS=${WORKERS:-1}
BIN=$(pwd)/.build/release/meridian
CFG=$(pwd)/Benchmarks/meridian-bench.yaml
if [ "${SIGNED:-0}" = 1 ]; then
  signed=$(mktemp -d /tmp/meridian-bench-signed.XXXXXX)
  trap 'rm -rf "$signed"' EXIT
  sed 's|^    file: ${MERIDIAN_BENCH_ZONE}$|&\n    dnssec: { }|; s|^state_dir: .*|state_dir: '"$signed"'/state|' "$CFG" > "$signed/meridian.yaml"
  grep -q "dnssec: { }" "$signed/meridian.yaml" || { echo "run-bench.sh: cannot make the signed config" >&2; exit 2; }
  CFG=$signed/meridian.yaml
fi
if [ "${DEFENDED:-0}" = 1 ]; then
  defended=$(mktemp -d /tmp/meridian-bench-defended.XXXXXX)
  trap 'rm -rf "$defended"' EXIT
  { cat "$CFG"; echo 'rrl: { rate: 100, slip: 2, exempt: [127.0.0.1/32] }'; } > "$defended/meridian.yaml"
  CFG=$defended/meridian.yaml
fi
"$BENCH/compare.sh" --port "${BENCH_PORT:-5340}" \
  --server-cmd "$BIN serve --config $CFG --workers $WORKERS --control off" "$@" &
bench=$!
Benchmarks/rss-sampler.sh "$bench" &
sampler=$!
status=0
wait "$bench" || status=$?
wait "$sampler"
exit "$status"
