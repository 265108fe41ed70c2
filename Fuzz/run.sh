#!/usr/bin/env bash
# libFuzzer harness for the packet parser + query engine (Fuzz/Sources/FuzzQueryEngine).
#
#   Fuzz/run.sh build            build the fuzzer (release, -sanitize=fuzzer,address) into Fuzz/.build-fuzz
#   Fuzz/run.sh fuzz SECONDS     fuzz for SECONDS on a copy of the corpus in /tmp; crash inputs go to
#                                fuzz-artifacts/ at the repository root; prints libFuzzer's final stats
#   Fuzz/run.sh replay           run every input in Tests/FuzzCorpus/query-engine/ and
#                                Tests/FuzzCorpus/regressions/ once (no fuzzing); non-zero on any crash
#
# `make test` runs `Fuzz/run.sh build && Fuzz/run.sh replay`.
set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$FUZZ_DIR/.." && pwd)"
SCRATCH="$FUZZ_DIR/.build-fuzz"
TARGET=FuzzQueryEngine
BIN="$SCRATCH/release/$TARGET"
CORPUS="$ROOT/Tests/FuzzCorpus/query-engine"
REGRESSIONS="$ROOT/Tests/FuzzCorpus/regressions"
ARTIFACTS="$ROOT/fuzz-artifacts"
MAX_LEN=4096

# Symbolized ASan reports; leaks are real findings too (the query path must not allocate).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && command -v llvm-symbolizer >/dev/null 2>&1; then
    export ASAN_SYMBOLIZER_PATH="$(command -v llvm-symbolizer)"
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:symbolize=1}"

usage() {
    sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
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
    swift build -c release \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
        --scratch-path "$SCRATCH" --product "$TARGET"
    echo "built $BIN"
}

cmd_fuzz() {
    local seconds="${1:-}"
    case "$seconds" in
        ''|*[!0-9]*) echo "run.sh fuzz: SECONDS must be a whole number" >&2; exit 2 ;;
    esac
    need_binary
    local work
    work="$(mktemp -d /tmp/meridian-fuzz.XXXXXX)"
    mkdir -p "$work/corpus" "$ARTIFACTS"
    while IFS= read -r f; do cp "$f" "$work/corpus/"; done < <(inputs)
    local log="$work/fuzz.log"
    echo "fuzzing $TARGET for ${seconds}s: corpus $work/corpus, log $log, artifacts $ARTIFACTS/"
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

cmd_replay() {
    need_binary
    local files=()
    while IFS= read -r f; do files+=("$f"); done < <(inputs)
    if [ "${#files[@]}" -eq 0 ]; then
        echo "run.sh replay: no inputs found under $ROOT/Tests/FuzzCorpus" >&2
        exit 1
    fi
    local log rc=0
    log="$(mktemp /tmp/meridian-fuzz-replay.XXXXXX)"
    # Given files (not directories), libFuzzer runs each once and stops at the first crash.
    "$BIN" -max_len="$MAX_LEN" -timeout=10 "${files[@]}" >"$log" 2>&1 || rc=$?
    local ran
    ran="$(grep -c '^Executed ' "$log" || true)"
    if [ "$rc" -ne 0 ] || [ "$ran" -ne "${#files[@]}" ]; then
        cat "$log" >&2
        echo "fuzz replay: FAILED (exit $rc, ran $ran of ${#files[@]} inputs)" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
    echo "fuzz replay: ${#files[@]} inputs replayed, 0 crashes"
}

case "${1:-}" in
    build) cmd_build ;;
    fuzz) shift; cmd_fuzz "$@" ;;
    replay) cmd_replay ;;
    *) usage ;;
esac
