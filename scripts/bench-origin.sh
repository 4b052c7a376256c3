#!/usr/bin/env bash
# Benchmark of the cache layers on a hit, against a bare axum handler.
#
# Runs wrk, one after another on the same machine, against:
#   (a) a bare axum handler serving the same page bytes (the baseline),
#   (b) the CDN layer (ssr-cdn-shared) on a hit,
#   (c) ssr-origin-variant on a hit (one Personalize call per request),
#   (d) a bare axum handler making that same one Personalize call per request
#       (the origin's own client, to the same mock) and answering stored bytes,
#   (e) the CDN layer of (b) under policy = "http" (windows from the origin's
#       headers, parsed when the page is stored), on a hit,
#   (f) `ttlab serve cdn --key url` in front of (e)'s origin, on a hit,
#   (g) the bare handler of (a) through ttlab's own accept loop (limits, error
#       shapes, header read timeout): what every ttlab server pays before its
#       handler runs,
#   (h) the bare handler of (a) answering with the very headers (e) sends on a
#       hit (saved with curl -D): the bytes of a hit with no work behind them,
# and prints requests/s with (b)/(a), (c)/(a), (c)/(d), (e)/(a), (e)/(b), (f)/(a).
# Targets: (b) >= 70%, (c) >= 85% of (d): the cache layer costs at most 15% over
# the call it must make; (e) >= 85% of (a), and (e) as (b): following HTTP costs
# nothing on a hit.
# Usage: scripts/bench-origin.sh [DURATION] [CONNECTIONS]   (defaults 10s, 64)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
connections=${2:-64}
scenario=scripts/bench/lab.toml

if ! command -v wrk >/dev/null; then
  echo "installing wrk…"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --locked -q -p ttlab
cargo build --release --locked -q -p ttlab-ssr-origin --example bare_page --example bare_personalize

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_line() { # FILE PATTERN
  for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.1; done
  cat "$1"; echo "timed out waiting for '$2'" >&2; exit 1
}

start_stack() { # ARCH [SCENARIO] -> sets entry, uid, origin_of_stack
  local file=${2:-$scenario}
  local log=$work/$1-$(basename "$file" .toml).log
  ./target/release/ttlab serve stack --scenario "$file" --arch "$1" >"$log" 2>&1 &
  pids+=($!)
  wait_line "$log" "Serving until Ctrl-C"
  entry=$(awk '/^  try/ {print $NF}' "$log" | sed 's:/$::')
  uid=$(awk '/^  try/ {print $(NF-1)}' "$log" | sed 's/.*=//')
  origin_of_stack=$(awk '/^  origin/ {print $NF}' "$log")
}

rps() { # URL [COOKIE]
  local args=(-t2 -c"$connections" -d"$duration" --latency)
  [ -n "${2:-}" ] && args+=(-H "Cookie: cs-personalize-user-uid=$2")
  wrk "${args[@]}" "$1" | tee -a "$work/wrk.txt" | awk '/Requests\/sec/ {print $2}'
}

echo "cpu: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); wrk -t2 -c$connections -d$duration"

start_stack ssr-cdn-shared
cdn=$entry
curl -sf -b "cs-personalize-user-uid=$uid" "$cdn/" -o "$work/page.html"
curl -sf -b "cs-personalize-user-uid=$uid" -D - -o /dev/null "$cdn/" | grep -qi '^x-cache: cdn=HIT' || { echo "the CDN did not hit" >&2; exit 1; }

./target/release/examples/bare_page "$work/page.html" >"$work/bare.log" 2>&1 &
pids+=($!)
wait_line "$work/bare.log" "listening on"
bare=$(awk '{print $3}' "$work/bare.log")
./target/release/examples/bare_page "$work/page.html" --ttlab-loop >"$work/served.log" 2>&1 &
pids+=($!)
wait_line "$work/served.log" "listening on"
served=$(awk '{print $3}' "$work/served.log")

# (c) and (d) alike: one process of their own calling the same mocks, which run
# in a third (`ttlab serve stack` would put the mocks in the origin's process).
./target/release/ttlab serve mocks --scenario "$scenario" >"$work/mocks.log" 2>&1 &
pids+=($!)
wait_line "$work/mocks.log" "Serving until Ctrl-C"
personalize=$(awk '/^  Personalize Edge API/ {print $NF}' "$work/mocks.log")
delivery=$(awk '/^  Delivery API/ {print $NF}' "$work/mocks.log")
./target/release/ttlab serve origin --scenario "$scenario" --arch ssr-origin-variant \
  --personalize-url "$personalize" --delivery-url "$delivery" >"$work/origin.log" 2>&1 &
pids+=($!)
wait_line "$work/origin.log" "Serving until Ctrl-C"
origin=$(awk '/^  try/ {print $NF}' "$work/origin.log" | sed 's:/$::')
curl -sf -b "cs-personalize-user-uid=$uid" "$origin/" -o /dev/null
curl -sf -b "cs-personalize-user-uid=$uid" -D - -o /dev/null "$origin/" | grep -qi '^x-cache: origin=HIT' || { echo "the origin cache did not hit" >&2; exit 1; }

# (d) calls the very mocks (c)'s origin calls.
./target/release/examples/bare_personalize "$work/page.html" "$personalize" "$scenario" >"$work/floor.log" 2>&1 &
pids+=($!)
wait_line "$work/floor.log" "listening on"
floor=$(awk '{print $3}' "$work/floor.log")
curl -sf -b "cs-personalize-user-uid=$uid" "$floor/" -o /dev/null

# (e) the same stack and lab following HTTP: the origin states the lab's
# windows in Cache-Control, the CDN follows them.
sed 's/^\[cache\]$/[cache]\npolicy = "http"/' "$scenario" >"$work/lab-http.toml"
start_stack ssr-cdn-shared "$work/lab-http.toml"
cdn_http=$entry
curl -sf -b "cs-personalize-user-uid=$uid" "$cdn_http/" -o /dev/null
curl -sf -b "cs-personalize-user-uid=$uid" -D - -o /dev/null "$cdn_http/" | grep -qi '^cache-control: public, s-maxage=' || { echo "the origin did not state its windows" >&2; exit 1; }
curl -sf -b "cs-personalize-user-uid=$uid" -D - -o /dev/null "$cdn_http/" | grep -qi '^x-cache: cdn=HIT' || { echo "the CDN under policy http did not hit" >&2; exit 1; }
curl -sf -b "cs-personalize-user-uid=$uid" -D "$work/hit-headers.txt" -o /dev/null "$cdn_http/"
./target/release/examples/bare_page "$work/page.html" --headers "$work/hit-headers.txt" >"$work/same.log" 2>&1 &
pids+=($!)
wait_line "$work/same.log" "listening on"
same=$(awk '{print $3}' "$work/same.log")
# (f) the standalone cache in front of (e)'s origin.
./target/release/ttlab serve cdn --upstream "$origin_of_stack" --key url >"$work/cdn.log" 2>&1 &
pids+=($!)
wait_line "$work/cdn.log" "Serving until Ctrl-C"
standalone=$(awk '/^ttlab cdn/ {print $NF}' "$work/cdn.log")
curl -sf -b "cs-personalize-user-uid=$uid" "$standalone/" -o /dev/null
curl -sf -b "cs-personalize-user-uid=$uid" -D - -o /dev/null "$standalone/" | grep -qi '^x-cache: cdn=HIT' || { echo "ttlab serve cdn did not hit" >&2; exit 1; }

a=$(rps "$bare/")
b=$(rps "$cdn/" "$uid")
c=$(rps "$origin/" "$uid")
d=$(rps "$floor/" "$uid")
e=$(rps "$cdn_http/" "$uid")
f=$(rps "$standalone/" "$uid")
g=$(rps "$served/")
h=$(rps "$same/")
echo
printf '%-46s %12s %8s %8s\n' "target" "requests/s" "of (a)" "of (d)"
printf '%-46s %12.0f %8s\n' "(a) bare axum handler, same bytes" "$a" "100%"
printf '%-46s %12.0f %7.1f%%\n' "(b) CDN layer (ssr-cdn-shared), hit" "$b" "$(echo "$b*100/$a" | bc -l)"
printf '%-46s %12.0f %7.1f%% %7.1f%%\n' "(c) ssr-origin-variant, hit" "$c" "$(echo "$c*100/$a" | bc -l)" "$(echo "$c*100/$d" | bc -l)"
printf '%-46s %12.0f %7.1f%% %8s\n' "(d) bare handler + the one Personalize call" "$d" "$(echo "$d*100/$a" | bc -l)" "100%"
printf '%-46s %12.0f %7.1f%% %8s %7.1f%% of (b)\n' "(e) CDN layer under policy http, hit" "$e" "$(echo "$e*100/$a" | bc -l)" "" "$(echo "$e*100/$b" | bc -l)"
printf '%-46s %12.0f %7.1f%%\n' "(f) ttlab serve cdn --key url, hit" "$f" "$(echo "$f*100/$a" | bc -l)"
printf '%-46s %12.0f %7.1f%%\n' "(g) (a) through ttlab's accept loop" "$g" "$(echo "$g*100/$a" | bc -l)"
printf '%-46s %12.0f %7.1f%% %8s %7.1f%% (e) of (h)\n' "(h) (a) sending (e)'s hit headers" "$h" "$(echo "$h*100/$a" | bc -l)" "" "$(echo "$e*100/$h" | bc -l)"
echo
echo "cache counters after the runs:"
curl -sf "$cdn/metrics" | grep -E 'cache_(hits|misses)_total'
curl -sf "$cdn_http/metrics" | grep -E 'cache_(hits|misses)_total'
curl -sf "$standalone/_ttlab/metrics" | grep -E 'cache_(hits|misses)_total'
curl -sf "${origin}/metrics" | grep -E 'cache_(hits|misses)_total|personalize_calls_total'
