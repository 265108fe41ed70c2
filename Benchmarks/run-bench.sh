#!/bin/bash
# make bench: ../shared/bench/compare.sh against Meridian (release build, one UDP worker) with
# Benchmarks/meridian-bench.yaml, with the servers' peak RSS sampled meanwhile; extra arguments go to compare.sh (e.g. --runs 5, --peers gdnsd).
set -eu
cd "$(dirname "$0")/.."
BENCH=${BENCH_DIR:-../shared/bench}
WORKERS=${WORKERS:-1}
BIN=$(pwd)/.build/release/meridian
CFG=$(pwd)/Benchmarks/meridian-bench.yaml
"$BENCH/compare.sh" --port "${BENCH_PORT:-5340}" \
  --server-cmd "$BIN serve --config $CFG --workers $WORKERS --control off" "$@" &
bench=$!
Benchmarks/rss-sampler.sh "$bench" &
sampler=$!
status=0
wait "$bench" || status=$?
wait "$sampler"
exit "$status"
