#!/usr/bin/env bash
# Opens an HTML report in headless Chromium, saves a screenshot, and fails
# if the page logs any console message at error level.
#
#   scripts/html-screenshot.sh [REPORT.html] [SCREENSHOT.png]
#
# Without arguments it renders the fixed report the renderer tests use
# (reports/tests/fixtures/quickstart-sweep.json) with `ttlab report --html`.
# Installs Debian's chromium when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

html=${1:-}
png=${2:-target/report-screenshot.png}
mkdir -p "$(dirname "$png")"
if [ -z "$html" ]; then
  html=target/report-fixture.html
  cargo run -q --locked -p ttlab -- report reports/tests/fixtures/quickstart-sweep.json --html "$html"
fi
if ! command -v chromium >/dev/null; then
  echo "installing chromium…"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
profile=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$profile" "$log"' EXIT
# The flags keep Chromium off the network (this machine has none) and quiet.
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$profile" --enable-logging=stderr --v=0
  --window-size=1200,3000 --hide-scrollbars)
timeout 60 chromium "${flags[@]}" --screenshot="$png" "file://$(realpath "$html")" 2>"$log" || {
  cat "$log" >&2
  echo "chromium failed" >&2
  exit 1
}
# Console messages arrive as "CONSOLE(...)" or ":CONSOLE" lines; errors name their level.
if grep -E 'CONSOLE' "$log" | grep -Eiq 'error|uncaught'; then
  grep -E 'CONSOLE' "$log" >&2
  echo "the report logged console errors" >&2
  exit 1
fi
[ -s "$png" ] || { echo "no screenshot written" >&2; exit 1; }
echo "screenshot: $png ($(stat -c %s "$png") bytes), no console errors"
