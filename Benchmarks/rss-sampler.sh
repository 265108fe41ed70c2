#!/bin/bash
# Samples the resident memory of the benchmarked servers (meridian, gdnsd, knotd, nsd) once a
# second until PID $1 exits, then prints each one's peak: RSS, of which private anonymous memory
# (heap, tables) and file-backed pages (code and mapped files such as the .mmdb, shared with the
# page cache). Used by run-bench.sh while compare.sh runs.
watch=$1
declare -A rss anon file
while kill -0 "$watch" 2>/dev/null; do
  for p in $(pgrep -x 'meridian|gdnsd|knotd|nsd'); do
    name=$(cat "/proc/$p/comm" 2>/dev/null) || continue
    read -r r a f < <(awk '/^Rss:/{r=$2} /^Pss_Anon:/{a=$2} /^Pss_File:/{f=$2} END{print r+0, a+0, f+0}' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
    if [ "${r:-0}" -gt "${rss[$name]:-0}" ]; then rss[$name]=$r; anon[$name]=$a; file[$name]=$f; fi
  done
  sleep 1
done
for n in "${!rss[@]}"; do
  printf 'peak RSS %-9s %6d kB (anonymous %6d kB, file-backed %6d kB)\n' "$n" "${rss[$n]}" "${anon[$n]}" "${file[$n]}"
done | sort
