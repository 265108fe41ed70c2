#!/bin/bash
# Runs ../shared/acceptance against Meridian serving Tests/Fixtures/acceptance/meridian.yaml (or
# CONFIG, e.g. meridian-signed.yaml: the same contract with the zone signed).
# Environment: ACCEPTANCE_DIR (the kit), PORT (default 5354), MERIDIAN (the binary), CONFIG,
# SCRIPTS (default "01 02 03 04"). 04's answer change is wired to Tests/acceptance-change.sh, which
# edits a copy of the config and restarts Meridian.
set -u
cd "$(dirname "$0")/.."
KIT=${ACCEPTANCE_DIR:?}; PORT=${PORT:-5354}; BIN=$(realpath "${MERIDIAN:-.build/release/meridian}")
SCRIPTS=${SCRIPTS:-"01 02 03 04"}
export MERIDIAN_ACCEPTANCE_DIR=$KIT
export MERIDIAN_GEOIP_DB=${MERIDIAN_GEOIP_DB:-$(python3 -c 'import _maxminddb_geolite2,os;print(os.path.dirname(_maxminddb_geolite2.__file__))')/GeoLite2-City.mmdb}
STATE=$(mktemp -d /tmp/meridian-acceptance.XXXXXX)
cp Tests/Fixtures/acceptance/* "$STATE/"
[ -n "${CONFIG:-}" ] && cp "Tests/Fixtures/acceptance/$CONFIG" "$STATE/meridian.yaml"
echo "$BIN" > "$STATE/bin"; echo "$PORT" > "$STATE/port"
"$BIN" check --config "$STATE/meridian.yaml" || exit 1
Tests/acceptance-change.sh "$STATE" start || exit 1
trap 'kill "$(cat "$STATE/pid")" 2>/dev/null; sleep 0.2; rm -rf "$STATE"' EXIT
CHANGE="$(pwd)/Tests/acceptance-change.sh $STATE change"
REVERT="$(pwd)/Tests/acceptance-change.sh $STATE revert"
rc=0
for n in $SCRIPTS; do
  s=$(ls "$KIT"/"$n"-* | head -1)
  echo "== $(basename "$s")"
  case $s in
    *.py) out=$(python3 "$s" 127.0.0.1 "$PORT" gslb.test 2>&1) ;;
    *04-*) out=$(bash "$s" 127.0.0.1 "$PORT" gslb.test --change-cmd "$CHANGE" --revert-cmd "$REVERT" 2>&1) ;;
    *) out=$(bash "$s" 127.0.0.1 "$PORT" gslb.test 2>&1) ;;
  esac
  echo "$out" | grep -E '^(FAIL|SKIP):'; echo "$out" | tail -1
  echo "$out" | tail -1 | grep -qE ' 0 failed' || rc=1
done
kill -0 "$(cat "$STATE/pid")" 2>/dev/null || { echo "meridian died; log:"; cat "$STATE/log"; rc=1; }
exit $rc
