#!/usr/bin/env bash
# Opens HTML reports in headless Chromium, saves a screenshot of each, and
# fails if a page logs any console message at error level.
#
#   scripts/html-screenshot.sh [REPORT.html SCREENSHOT.png]
#
# Without arguments it checks two reports: a four-architecture run
# (`ttlab sim scenarios/quickstart.toml`) and a sweep (the fixed report the
# renderer tests use, reports/tests/fixtures/quickstart-sweep.json, through
# `ttlab report --html`), writing target/report-screenshot-{quickstart,sweep}.png.
# `scripts/test.sh` runs it so. Installs Debian's chromium when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

pairs=()
if [ $# -ge 1 ]; then
  pairs+=("$1" "${2:-target/report-screenshot.png}")
else
  work=target/report-screenshots
  rm -rf "$work" && mkdir -p "$work"
  cargo run -q --locked -p ttlab -- sim scenarios/quickstart.toml -q --no-tui -o "$work/sim" >/dev/null
  pairs+=("$(find "$work/sim" -name report.html | head -1)" target/report-screenshot-quickstart.png)
  cargo run -q --locked -p ttlab -- report reports/tests/fixtures/quickstart-sweep.json --html "$work/sweep.html"
  pairs+=("$work/sweep.html" target/report-screenshot-sweep.png)
fi
if ! command -v chromium >/dev/null; then
  echo "installing chromium…"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
shot() {
  local html=$1 png=$2
  mkdir -p "$(dirname "$png")"
  local profile log
  profile=$(mktemp -d)
  log=$(mktemp)
  # The flags keep Chromium off the network (this machine has none) and quiet.
  flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --user-data-dir="$profile" --enable-logging=stderr --v=0
    --window-size=1200,3000 --hide-scrollbars)
  timeout 60 chromium "${flags[@]}" --screenshot="$png" "file://$(realpath "$html")" 2>"$log" || {
    cat "$log" >&2
    echo "chromium failed on $html" >&2
    exit 1
}
# Console messages arrive as "CONSOLE(...)" or ":CONSOLE" lines; errors name their level.
if grep -E 'CONSOLE' "$log" | grep -Eiq 'error|uncaught'; then
  grep -E 'CONSOLE' "$log" >&2
  echo "$html logged console errors" >&2
  exit 1
fi
[ -s "$png" ] || { echo "no screenshot written for $html" >&2; exit 1; }
rm -rf "$profile" "$log"
echo "screenshot: $png ($(stat -c %s "$png") bytes), no console errors in $html"
}
for ((i = 0; i < ${#pairs[@]}; i += 2)); do
  shot "${pairs[i]}" "${pairs[i + 1]}"
done
