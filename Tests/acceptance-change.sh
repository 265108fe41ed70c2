#!/bin/bash
# acceptance-change.sh STATE start|change|revert
# start: starts Meridian on STATE/meridian.yaml; change: the geo service's eu pool answers 192.0.2.11
# instead of 192.0.2.1 (the acceptance kit's 04 contract); revert: back. Both reload the running
# server through the control API (all or nothing).
set -u
STATE=$1; ACTION=$2
BIN=$(cat "$STATE/bin"); PORT=$(cat "$STATE/port")
case $ACTION in
  change) sed -i '/acceptance-change: eu/s/192\.0\.2\.1\b/192.0.2.11/' "$STATE/meridian.yaml" ;;
  revert) sed -i '/acceptance-change: eu/s/192\.0\.2\.11\b/192.0.2.1/' "$STATE/meridian.yaml" ;;
  start) ;;
  *) echo "usage: $0 STATE start|change|revert" >&2; exit 2 ;;
esac
# a running server reloads in place (SIGHUP semantics through the control API): no restart
if [ "$ACTION" != start ] && [ -f "$STATE/pid" ] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
  "$BIN" ctl --control "http://127.0.0.1:$((PORT + 1))" reload >/dev/null && exit 0
  echo "reload failed" >&2; exit 1
fi
if [ -f "$STATE/pid" ]; then
  old=$(cat "$STATE/pid"); kill "$old" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
fi
MERIDIAN_STATE_DIR=$STATE "$BIN" serve --config "$STATE/meridian.yaml" --listen "127.0.0.1:$PORT" --listen "[::1]:$PORT" \
  --control "127.0.0.1:$((PORT + 1))" >>"$STATE/log" 2>&1 &
echo $! > "$STATE/pid"
for _ in $(seq 1 100); do
  dig @127.0.0.1 -p "$PORT" +time=1 +tries=1 SOA gslb.test. 2>/dev/null | grep -q NOERROR && exit 0
  sleep 0.1
done
echo "meridian did not start; log:" >&2; tail -20 "$STATE/log" >&2; exit 1
