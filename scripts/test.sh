#!/usr/bin/env bash
# Runs every check and test ttlab has, on a fresh machine or a used one.
#
# It installs what the tests need when it is missing — Node.js and npm, the
# pinned Contentstack SDKs of the compatibility suite and of the example app
# (npm ci), and
# redis-server for the Redis store's tests, Varnish and varnish-modules (xkey)
# for the runs with Varnish as the CDN, Prometheus for the live metrics'
# scrape, kubernetes-validate (pip) for the
# Kubernetes manifests' schema check — then
# runs formatting, the module-structure check, lints and the whole
# workspace's tests. CI calls this same
# script through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
cargo --version
rustc --version

step "test dependencies"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "installing Node.js and npm…"
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
node --version
if [ ! -d mock-apis/sdk-tests/node_modules/@contentstack/delivery-sdk ]; then
  (cd mock-apis/sdk-tests && npm ci --no-audit --no-fund)
fi
# The example app (examples/personalized-app) runs through ttlab in the tests.
if [ ! -d examples/personalized-app/node_modules/@contentstack/delivery-sdk ]; then
  (cd examples/personalized-app && npm ci --no-audit --no-fund)
fi
# The Redis store's tests start their own redis-server on a free port.
if ! command -v redis-server >/dev/null; then
  echo "installing redis-server…"
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
redis-server --version
# Runs with --cdn varnish (and their tests) start varnishd with generated VCL
# that imports xkey from varnish-modules. Debian puts varnishd in /usr/sbin.
have_varnish() {
  { command -v varnishd >/dev/null || [ -x /usr/sbin/varnishd ]; } \
    && ls /usr/lib/*/varnish/vmods/libvmod_xkey.so >/dev/null 2>&1
}
if ! have_varnish; then
  echo "installing varnish and varnish-modules…"
  apt-get update -qq && apt-get install -y -qq varnish varnish-modules >/dev/null
fi
PATH=$PATH:/usr/sbin varnishd -V 2>&1 | head -1
# cli/tests/live_metrics.rs has a real Prometheus scrape a run's --metrics-addr
# and evaluate every query of docs/grafana-dashboard.json.
if ! command -v prometheus >/dev/null; then
  echo "installing prometheus…"
  apt-get update -qq && apt-get install -y -qq prometheus >/dev/null
fi
prometheus --version 2>&1 | head -1
# The module-structure check is a small Python script.
if ! command -v python3 >/dev/null; then
  echo "installing python3…"
  apt-get update -qq && apt-get install -y -qq python3 >/dev/null
fi

# cli/tests/deploy.rs checks the Kubernetes manifests of `ttlab deploy k8s`
# offline against the schemas kubernetes-validate bundles (with PyYAML).
if ! command -v kubernetes-validate >/dev/null; then
  echo "installing kubernetes-validate…"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null
  fi
  python3 -m pip install -q kubernetes-validate==1.37.0 2>/dev/null \
    || python3 -m pip install -q --break-system-packages kubernetes-validate==1.37.0
  hash -r
fi
kubernetes-validate --version

step "format (cargo fmt --check)"
cargo fmt --all --check

step "module structure (each crate's modules form a DAG)"
python3 scripts/module-cycles.py

step "lints (clippy, pedantic, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

step "the shipped scenarios hold their thresholds (ttlab check, simulated)"
set +e
cargo run -q --locked -p ttlab -- check scenarios/*.toml --out target/ttlab-check \
  --junit target/ttlab-check/junit.xml --markdown target/ttlab-check/summary.md
check=$?
set -e
step "the example app's stack export (examples/personalized-app/check-export.mjs)"
# Plain Node, no packages: every reference, file and field of the export, and
# every uid scenario.toml names, exists.
set +e
node --test examples/personalized-app/check-export.mjs >/dev/null
example=$?
set -e
[ "$example" -eq 0 ] || echo "examples/personalized-app: the export is inconsistent (run: node --test examples/personalized-app/check-export.mjs)"
step "HTTP caching conformance (the cache-tests suite against ttlab serve cdn)"
# The suite behind cache-tests.fyi, pinned in conformance/cache-tests/, runs
# offline against the CDN in front of its own origin; below 85% of required
# or 70% of optimal tests fails the run (docs/conformance.md).
# (`scripts/cache-tests.sh --direct`, the harness against the suite's origin
# alone, is a check of the harness to run when changing it, not on every run.)
set +e
cargo build -q --locked -p ttlab \
  && scripts/cache-tests.sh --out target/cache-tests -- \
       "${CARGO_TARGET_DIR:-target}/debug/ttlab" serve cdn --upstream {upstream} --port {port}
conformance=$?
# The scorer's own tests read the suite the run above installed.
if ! node --test scripts/cache-tests-score.test.mjs >/dev/null; then
  echo "cache-tests: the scorer's tests failed"
  [ "$conformance" -ne 0 ] || conformance=1
fi
set -e
[ "$conformance" -eq 0 ] || echo "cache-tests: below the bars, or the harness failed (exit $conformance)"
step "HTML reports in a browser (a four-architecture run and a sweep, headless Chromium)"
# Renders both reports, screenshots them at 1200 px and fails on any console
# error (installs chromium when it is missing).
set +e
scripts/html-screenshot.sh
screenshots=$?
set -e
[ "$screenshots" -eq 0 ] || echo "html-screenshot: a report failed in the browser (exit $screenshots)"
# One closing line over every test binary and doc-test run.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "\nsummary: %d passed, %d failed\n", p, f }' "$log"
[ "$check" -eq 0 ] || echo "ttlab check: the shipped scenarios breach thresholds (exit $check)"
[ "$status" -eq 0 ] || exit "$status"
[ "$check" -eq 0 ] || exit "$check"
[ "$example" -eq 0 ] || exit "$example"
[ "$screenshots" -eq 0 ] || exit "$screenshots"
exit "$conformance"
