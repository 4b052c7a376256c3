#!/usr/bin/env bash
# A day of simulated traffic: the memory and the report sizes of a long run.
#
# Stretches scripts/bench/sim.toml (three experiences, Zipf pages, TTL + SWR,
# publishes throughout; attribute changes at CHANGES a second across the
# population instead of every visitor's own drift, see below) to HOURS hours
# at RATE requests/s over VISITORS visitors, runs `ttlab sim` (release) under
# /usr/bin/time -v, and prints the peak RSS, the size of report.json and of
# report.html, and what the simulator's series held (points, width, bytes
# per point). Exits 1 when a bound is exceeded: peak RSS <= MAX_RSS_MB,
# report.json <= 10 MB, report.html <= 3 MB.
#
# Usage: scripts/bench-day.sh   (defaults HOURS=24 RATE=2000
#        VISITORS=10000000 CHANGES=20 MAX_RSS_MB=1024; a 24 h run is about
#        173 M requests and 1.7 M attribute changes)
set -euo pipefail
cd "$(dirname "$0")/.."
hours=${HOURS:-24}
rate=${RATE:-2000}
visitors=${VISITORS:-10000000}
changes=${CHANGES:-20}
max_rss_mb=${MAX_RSS_MB:-1024}
target=${CARGO_TARGET_DIR:-target}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed -e "s/^duration = .*/duration = \"$((hours * 3600))s\"/" \
    -e "s/^visitors = .*/visitors = $visitors/" \
    -e "s/^arrival_rate = .*/arrival_rate = $rate.0/" \
    -e 's/^name = "bench-sim"/name = "bench-day"/' \
    scripts/bench/sim.toml >"$work/day.toml"
# sim.toml's drift (every visitor changes country every 200 s on average)
# is, over a day, 432 changes a visitor: 4.3 G timeline events at 10 M
# visitors, which the memory estimate refuses. A day at production scale
# has its attribute changes at a rate across the population instead
# (CHANGES a second, a uniformly drawn visitor each); publishes stay.
python3 - "$work/day.toml" "$changes" <<'PY'
import sys
p, changes = sys.argv[1], sys.argv[2]
s = open(p).read()
drift = 'attribute = "country"\nmean_interval = "200s"\n'
assert drift in s, "sim.toml's drift changed: update bench-day.sh"
s = s.replace(drift, f'attribute = "country"\nrate = {float(changes)}\n')
open(p, 'w').write(s)
PY
cargo build --release -q -p ttlab
echo "ttlab sim: ${hours} h at ${rate} requests/s over ${visitors} visitors, ${changes} attribute changes/s"
start=$(date +%s)
RUST_LOG=ttlab_loadgen::sim=debug /usr/bin/time -v "$target/release/ttlab" sim "$work/day.toml" \
  -q --no-tui -o "$work/out" >"$work/stdout.txt" 2>"$work/stderr.txt" ||
  { cat "$work/stderr.txt"; exit 2; }
end=$(date +%s)

rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/stderr.txt")
report=$(dirname "$(find "$work/out" -name report.json)")
json=$(stat -c %s "$report/report.json")
html=$(stat -c %s "$report/report.html")
requests=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(a["requests"] for a in r["architectures"]))' "$report/report.json")
grep -o 'series held.*' "$work/stderr.txt" | sed 's/\x1b\[[0-9;]*m//g' || true
printf 'requests simulated: %s in %s s\n' "$requests" "$((end - start))"
printf 'peak RSS: %d MB\nreport.json: %.2f MB\nreport.html: %.2f MB\n' \
  "$((rss_kb / 1024))" "$(echo "$json / 1000000" | bc -l)" "$(echo "$html / 1000000" | bc -l)"

fail=0
((rss_kb <= max_rss_mb * 1024)) || { echo "peak RSS over ${max_rss_mb} MB"; fail=1; }
((json <= 10000000)) || { echo "report.json over 10 MB"; fail=1; }
((html <= 3000000)) || { echo "report.html over 3 MB"; fail=1; }
exit $fail
