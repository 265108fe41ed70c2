#!/usr/bin/env bash
# Zone-load benchmark: Meridian `check` (parse + compile) vs Knot DNS loading the same zone.
#
#   Benchmarks/zone-load.sh [RUNS] [RECORDS]      (defaults: 3 runs each, 1,000,000 data records)
#   SIGN=1 Benchmarks/zone-load.sh [RUNS] [RECORDS]   (both also sign the zone: below)
#
# Generates a zone of RECORDS + 3 records (Benchmarks/gen-zone.py: SOA, NS, ns1 A, then A, AAAA, TXT,
# MX in turn) in a mktemp dir, then alternates, RUNS times: `meridian check` on a minimal config
# serving it (wall time and peak RSS from /usr/bin/time), then knotd (zonefile-load: whole, semantic
# checks off, journal off) from process start to the "loaded" line in its log (peak RSS = VmHWM at
# that moment; knotd is then stopped by its PID). Prints every run and the medians.
# With SIGN=1 both sign the zone at load, one thread each, with a new ECDSA P-256 combined signing key
# and NSEC3 (no salt, no extra iterations): Meridian `dnssec: { }` (check signs with a key it does
# not keep), Knot `dnssec-signing: on` with such a policy and one signing thread; Knot's "loaded" line
# comes once the signed zone is ready.
# MERIDIAN_BIN overrides the binary (default .build/release/meridian). Every wait is bounded.
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=${1:-3}
RECORDS=${2:-1000000}
BIN=${MERIDIAN_BIN:-$ROOT/.build/release/meridian}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-120}
[ -x "$BIN" ] || { echo "zone-load.sh: $BIN not built (swift build -c release)" >&2; exit 2; }
command -v knotd >/dev/null || { echo "zone-load.sh: knotd not installed (apt-get install knot)" >&2; exit 2; }

TMP=$(mktemp -d /tmp/meridian-zoneload.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
ORIGIN=bench.example.
python3 "$ROOT/Benchmarks/gen-zone.py" --records "$RECORDS" --origin "$ORIGIN" "$TMP/$ORIGIN""zone"
SIGN=${SIGN:-0}
MERIDIAN_DNSSEC=""; KNOT_DNSSEC=""; KNOT_POLICY=""
if [ "$SIGN" = 1 ]; then
    MERIDIAN_DNSSEC="    dnssec: { }\n"
    KNOT_DNSSEC=$'    dnssec-signing: on\n    dnssec-policy: bench'
    KNOT_POLICY=$'policy:\n  - id: bench\n    algorithm: ecdsap256sha256\n    single-type-signing: on\n    nsec3: on\n    nsec3-iterations: 0\n    nsec3-salt-length: 0\n    signing-threads: 1'
fi
printf "zones:\n  - origin: %s\n    file: %s\n${MERIDIAN_DNSSEC}state_dir: %s\n" "$ORIGIN" "$TMP/${ORIGIN}zone" "$TMP/state" > "$TMP/meridian.yaml"
mkdir -p "$TMP/knot"
cat > "$TMP/knot/knot.conf" <<KNOT
server:
    rundir: "$TMP/knot"
    listen: 127.0.0.1@5399
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "$TMP/knot/db"
$KNOT_POLICY
template:
  - id: default
    storage: "$TMP"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
$KNOT_DNSSEC
zone:
  - domain: $ORIGIN
KNOT
echo "zone: $(wc -l < "$TMP/${ORIGIN}zone") lines, $(du -h "$TMP/${ORIGIN}zone" | cut -f1); $RUNS runs each, alternating$([ "$SIGN" = 1 ] && echo "; signed at load")"

# knotd from start to "loaded": prints "SECONDS RSS_KB"
knot_once() {
    rm -rf "$TMP/knot/db" && mkdir -p "$TMP/knot/db"
    python3 - "$TMP/knot/knot.conf" "$LOAD_TIMEOUT" <<'PY'
import subprocess, sys, time, select
conf, limit = sys.argv[1], float(sys.argv[2])
t0 = time.monotonic()
p = subprocess.Popen(["knotd", "-c", conf], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
took, rss = None, 0
try:
    while time.monotonic() - t0 < limit:
        r, _, _ = select.select([p.stderr], [], [], 1.0)
        if not r:
            if p.poll() is not None: break
            continue
        line = p.stderr.readline()
        if not line: break
        if "loaded," in line or "] loaded" in line:
            took = time.monotonic() - t0
            for l in open(f"/proc/{p.pid}/status"):
                if l.startswith("VmHWM:"): rss = int(l.split()[1])
            break
        if "error" in line.lower(): sys.stderr.write(line)
finally:
    p.terminate()
    try: p.wait(10)
    except subprocess.TimeoutExpired: p.kill(); p.wait()
if took is None:
    sys.exit("knotd did not report 'loaded' within %.0f s" % limit)
print("%.3f %d" % (took, rss))
PY
}

# meridian check: prints "SECONDS RSS_KB"
meridian_once() {
    /usr/bin/time -f '%e %M' -o "$TMP/time.out" timeout "$LOAD_TIMEOUT" "$BIN" check --config "$TMP/meridian.yaml" >"$TMP/check.out"
    grep -q OK "$TMP/check.out" || { cat "$TMP/check.out" >&2; exit 1; }
    tail -1 "$TMP/time.out"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

M_T=(); M_R=(); K_T=(); K_R=()
for i in $(seq 1 "$RUNS"); do
    read -r t r < <(meridian_once); M_T+=("$t"); M_R+=("$r")
    echo "run $i meridian: ${t} s, peak RSS $((r / 1024)) MB   ($(cat "$TMP/check.out"))"
    read -r t r < <(knot_once); K_T+=("$t"); K_R+=("$r")
    echo "run $i knot:     ${t} s, peak RSS $((r / 1024)) MB"
done
mt=$(printf '%s\n' "${M_T[@]}" | median); kt=$(printf '%s\n' "${K_T[@]}" | median)
mr=$(printf '%s\n' "${M_R[@]}" | median); kr=$(printf '%s\n' "${K_R[@]}" | median)
echo "meridian: ${M_T[*]} s -> median $mt s, median peak RSS $((${mr%.*} / 1024)) MB"
echo "knot:     ${K_T[*]} s -> median $kt s, median peak RSS $((${kr%.*} / 1024)) MB"
awk -v m="$mt" -v k="$kt" 'BEGIN { printf "ratio meridian/knot: %.2f\n", m / k }'
