#!/bin/bash
# Runs ../shared/acceptance against Meridian serving Tests/Fixtures/acceptance/meridian.yaml.
# Environment: ACCEPTANCE_DIR (the kit), PORT (default 5354), MERIDIAN (the binary), SCRIPTS (default "01 02").
set -u
cd "$(dirname "$0")/.."
KIT=${ACCEPTANCE_DIR:?}; PORT=${PORT:-5354}; BIN=${MERIDIAN:-.build/release/meridian}
SCRIPTS=${SCRIPTS:-"01 02"}
export MERIDIAN_ACCEPTANCE_DIR=$KIT
LOG=$(mktemp /tmp/meridian-acceptance.XXXXXX.log)
"$BIN" check --config Tests/Fixtures/acceptance/meridian.yaml || exit 1
"$BIN" serve --config Tests/Fixtures/acceptance/meridian.yaml --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT" >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT
for _ in $(seq 1 50); do dig @127.0.0.1 -p "$PORT" +time=1 +tries=1 SOA gslb.test. 2>/dev/null | grep -q NOERROR && break; sleep 0.2; done
rc=0
for n in $SCRIPTS; do
  s=$(ls "$KIT"/"$n"-* | head -1)
  echo "== $(basename "$s")"
  case $s in
    *.py) out=$(python3 "$s" 127.0.0.1 "$PORT" gslb.test 2>&1) ;;
    *) out=$(bash "$s" 127.0.0.1 "$PORT" gslb.test 2>&1) ;;
  esac
  echo "$out" | grep -E '^(FAIL|SKIP):' ; echo "$out" | tail -1
  echo "$out" | tail -1 | grep -qE ' 0 failed' || rc=1
done
kill -0 $PID 2>/dev/null || { echo "meridian died; log:"; cat "$LOG"; rc=1; }
exit $rc
