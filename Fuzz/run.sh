#!/usr/bin/env bash
# libFuzzer harnesses (Fuzz/Sources): FuzzQueryEngine (the packet parser + query engine),
# FuzzLoaders (zone files, the YAML config, the CSV region/latency tables, .mmdb databases;
# $MERIDIAN_FUZZ_LOADER), FuzzControl (a connection to the control API) and FuzzDNSCheck (a reply to
# the DNS health check's query). Targets: query-engine, zone, config, tables, mmdb, control, dns-check;
# each has a corpus in
# Tests/FuzzCorpus/<target>/ and past crashes in Tests/FuzzCorpus/regressions/ (query-engine) or
# regressions-<target>/. The mmdb seeds are written by Fuzz/make-mmdb-seeds.py.
#
#   Fuzz/run.sh build                  build the fuzzers (release, -sanitize=fuzzer,address) into Fuzz/.build-fuzz
#   Fuzz/run.sh fuzz SECONDS [TARGET]  fuzz TARGET (default query-engine) for SECONDS on a copy of its
#                                      corpus in /tmp; crash inputs go to fuzz-artifacts/ at the
#                                      repository root; prints libFuzzer's final stats
#   Fuzz/run.sh replay                 run every corpus and regression input of every target once (no
#                                      fuzzing); non-zero on any crash
#   Fuzz/run.sh merge TARGET DIR...    add to TARGET's corpus in the repository the inputs of DIR... (a
#                                      grown corpus from `fuzz`) that reach code it does not yet reach
#
# `make test` runs `Fuzz/run.sh build && Fuzz/run.sh replay`.
set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$FUZZ_DIR/.." && pwd)"
SCRATCH="$FUZZ_DIR/.build-fuzz"
ARTIFACTS="$ROOT/fuzz-artifacts"
TARGETS="query-engine zone config tables mmdb control dns-check"

# Sets PRODUCT, BIN, CORPUS, REGRESSIONS, MAX_LEN and exports MERIDIAN_FUZZ_LOADER for target $1.
use_target() {
    case "$1" in
        query-engine)
            PRODUCT=FuzzQueryEngine; CORPUS="$ROOT/Tests/FuzzCorpus/query-engine"
            REGRESSIONS="$ROOT/Tests/FuzzCorpus/regressions"; MAX_LEN=4096; unset MERIDIAN_FUZZ_LOADER ;;
        control)
            PRODUCT=FuzzControl; CORPUS="$ROOT/Tests/FuzzCorpus/control"
            REGRESSIONS="$ROOT/Tests/FuzzCorpus/regressions-control"; MAX_LEN=8192; unset MERIDIAN_FUZZ_LOADER ;;
        dns-check)
            PRODUCT=FuzzDNSCheck; CORPUS="$ROOT/Tests/FuzzCorpus/dns-check"
            REGRESSIONS="$ROOT/Tests/FuzzCorpus/regressions-dns-check"; MAX_LEN=1500; unset MERIDIAN_FUZZ_LOADER ;;
        zone|config|tables|mmdb)
            PRODUCT=FuzzLoaders; CORPUS="$ROOT/Tests/FuzzCorpus/$1"
            REGRESSIONS="$ROOT/Tests/FuzzCorpus/regressions-$1"; MAX_LEN=65536; export MERIDIAN_FUZZ_LOADER="$1" ;;
        *) echo "run.sh: unknown target '$1' (one of: $TARGETS)" >&2; exit 2 ;;
    esac
    BIN="$SCRATCH/release/$PRODUCT"
}

# Symbolized ASan reports; leaks are real findings too (the query path must not allocate).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && command -v llvm-symbolizer >/dev/null 2>&1; then
    export ASAN_SYMBOLIZER_PATH="$(command -v llvm-symbolizer)"
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:symbolize=1}"
# A Swift trap goes to libFuzzer as the crash it is; the Swift runtime's backtracer would read the
# crashed process's memory first and ASan would report that read instead.
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$FUZZ_DIR/lsan.supp:print_suppressions=0}"
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"

usage() {
    sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

need_binary() {
    if [ ! -x "$BIN" ]; then
        echo "run.sh: $BIN not built; run 'Fuzz/run.sh build' first" >&2
        exit 2
    fi
}

# Corpus and regression inputs (everything but README files).
inputs() {
    local dir
    for dir in "$CORPUS" "$REGRESSIONS"; do
        [ -d "$dir" ] || continue
        find "$dir" -maxdepth 1 -type f ! -name 'README*' ! -name '.*' | LC_ALL=C sort
    done
}

cmd_build() {
    cd "$FUZZ_DIR"
    # SwiftPM links executables on Linux with --defsym main=<Target>_main; the target defines that
    # symbol and hands over to LLVMFuzzerRunDriver (see Sources/CFuzzerDriver).
    local product
    for product in FuzzQueryEngine FuzzLoaders FuzzControl FuzzDNSCheck; do
        swift build -c release \
            -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
            --scratch-path "$SCRATCH" --product "$product"
        echo "built $SCRATCH/release/$product"
    done
}

cmd_fuzz() {
    local seconds="${1:-}"
    use_target "${2:-query-engine}"
    case "$seconds" in
        ''|*[!0-9]*) echo "run.sh fuzz: SECONDS must be a whole number" >&2; exit 2 ;;
    esac
    need_binary
    local work
    work="$(mktemp -d /tmp/meridian-fuzz.XXXXXX)"
    mkdir -p "$work/corpus" "$ARTIFACTS"
    while IFS= read -r f; do cp "$f" "$work/corpus/"; done < <(inputs)
    local log="$work/fuzz.log"
    echo "fuzzing ${2:-query-engine} ($PRODUCT) for ${seconds}s: corpus $work/corpus, log $log, artifacts $ARTIFACTS/"
    local rc=0
    "$BIN" "$work/corpus" \
        -max_total_time="$seconds" -max_len="$MAX_LEN" -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$ARTIFACTS/" >"$log" 2>&1 || rc=$?
    # the final progress line (#N DONE cov: ft: corp: exec/s: rss:) and libFuzzer's stat:: lines
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
    grep -E '^(stat::|Done [0-9]+ runs)' "$log" || true
    if [ "$rc" -ne 0 ]; then
        echo "libFuzzer exited $rc; report:" >&2
        grep -E -A40 '^==[0-9]+==|^Fatal error|invariant:|deadly signal|Test unit written' "$log" | head -n 120 >&2 || true
        ls -l "$ARTIFACTS" >&2 || true
    fi
    echo "grown corpus: $work/corpus ($(find "$work/corpus" -type f | wc -l) inputs)"
    return "$rc"
}

# Replays every input of the current target once; adds to REPLAYED.
replay_target() {
    need_binary
    local files=()
    while IFS= read -r f; do files+=("$f"); done < <(inputs)
    if [ "${#files[@]}" -eq 0 ]; then
        echo "run.sh replay: no inputs found under $CORPUS" >&2
        exit 1
    fi
    local log rc=0
    log="$(mktemp /tmp/meridian-fuzz-replay.XXXXXX)"
    # Given files (not directories), libFuzzer runs each once and stops at the first crash.
    "$BIN" -max_len="$MAX_LEN" -timeout=10 -rss_limit_mb=4096 "${files[@]}" >"$log" 2>&1 || rc=$?
    local ran
    ran="$(grep -c '^Executed ' "$log" || true)"
    if [ "$rc" -ne 0 ] || [ "$ran" -ne "${#files[@]}" ]; then
        cat "$log" >&2
        echo "fuzz replay: FAILED for $1 (exit $rc, ran $ran of ${#files[@]} inputs)" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
    echo "fuzz replay: $1: ${#files[@]} inputs replayed, 0 crashes"
    REPLAYED=$((REPLAYED + ${#files[@]}))
}

cmd_replay() {
    REPLAYED=0
    local t
    for t in $TARGETS; do
        use_target "$t"
        replay_target "$t"
    done
    echo "fuzz replay: $REPLAYED inputs replayed, 0 crashes"
}

cmd_merge() {
    [ $# -ge 2 ] || usage
    use_target "$1"
    shift
    need_binary
    "$BIN" -merge=1 -max_len="$MAX_LEN" -timeout=10 "$CORPUS" "$@" 2>&1 | grep -E '^MERGE-OUTER: [0-9]+ new files' || true
    echo "corpus $CORPUS: $(find "$CORPUS" -maxdepth 1 -type f | wc -l) inputs"
}

case "${1:-}" in
    build) cmd_build ;;
    merge) shift; cmd_merge "$@" ;;
    fuzz) shift; cmd_fuzz "$@" ;;
    replay) cmd_replay ;;
    *) usage ;;
esac
