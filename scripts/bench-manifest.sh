#!/usr/bin/env bash
# Benchmark of the mock Personalize Edge API's GET /manifest with wrk.
#
# Starts `ttlab serve mocks` (release build) for a scenario on loopback, then
# drives GET /manifest with wrk, cycling through the population's user uids.
# Usage: scripts/bench-manifest.sh [SCENARIO] [DURATION] [CONNECTIONS]
# Defaults: scripts/bench/lab.toml (no injected latency), 10s, 64.
# Installs wrk with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-scripts/bench/lab.toml}
duration=${2:-10s}
connections=${3:-64}

if ! command -v wrk >/dev/null; then
  echo "installing wrk…"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --locked -q -p ttlab

out=$(mktemp)
uids=$(mktemp)
./target/release/ttlab serve mocks --scenario "$scenario" >"$out" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out" "$uids"' EXIT
for _ in $(seq 50); do grep -q "Personalize Edge API" "$out" && break; sleep 0.1; done
url=$(awk '/Personalize Edge API/ {print $4}' "$out")
[ -n "$url" ] || { cat "$out"; echo "the mocks did not start" >&2; exit 1; }
curl -sf "$url/_ttlab/visitors" | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["visitors"]))' >"$uids"
echo "scenario $scenario: $(wc -l <"$uids") visitors; $url/manifest; wrk -t2 -c$connections -d$duration"
echo "cpu: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
TTLAB_UIDS="$uids" wrk -t2 -c"$connections" -d"$duration" --latency -s scripts/wrk/manifest.lua "$url/manifest"
curl -sf "$url/metrics" | grep 'endpoint="manifest"' || true
