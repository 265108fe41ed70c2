#!/bin/bash
# Samples the resident memory of the benchmarked servers (meridian, gdnsd, knotd, nsd) once a
# second until PID $1 exits, then prints for each: the peak (load included) and the last sample
# taken while it served: RSS, and its proportional split (smaps_rollup Pss_Anon: private heap and
# tables; Pss_File: code and mapped files such as an .mmdb, divided among the processes sharing
# them, so libc counts little for a C server). Used by run-bench.sh while compare.sh runs.
watch=$1
declare -A peak peak_anon peak_file last last_anon last_file
while kill -0 "$watch" 2>/dev/null; do
  for name in meridian gdnsd knotd nsd; do
    for p in $(pgrep -x "$name"); do
      read -r r a f < <(awk '/^Rss:/{r=$2} /^Pss_Anon:/{a=$2} /^Pss_File:/{f=$2} END{print r+0, a+0, f+0}' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
      [ "${r:-0}" -gt 0 ] || continue
      last[$name]=$r; last_anon[$name]=$a; last_file[$name]=$f
      if [ "$r" -gt "${peak[$name]:-0}" ]; then peak[$name]=$r; peak_anon[$name]=$a; peak_file[$name]=$f; fi
    done
  done
  sleep 1
done
for n in "${!peak[@]}"; do
  printf 'RSS %-9s serving %6d kB (PSS anonymous %6d, file %6d); peak %6d kB (PSS anonymous %6d, file %6d)\n' \
    "$n" "${last[$n]}" "${last_anon[$n]}" "${last_file[$n]}" "${peak[$n]}" "${peak_anon[$n]}" "${peak_file[$n]}"
done | sort
