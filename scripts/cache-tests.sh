#!/usr/bin/env bash
# Runs the HTTP cache conformance suite behind cache-tests.fyi (npm package
# http-cache-tests, pinned in conformance/cache-tests/) against a cache, offline, and
# scores it with scripts/cache-tests-score.mjs. See docs/conformance.md.
#
# Usage:
#   scripts/cache-tests.sh [OPTIONS] -- PROXY_CMD...   a cache in front of the suite's origin
#   scripts/cache-tests.sh [OPTIONS] --direct          the origin alone (a sanity check)
#
# Options:
#   --out DIR            where results.json, summary.json, conformance.md and the logs go
#                        (default target/cache-tests)
#   --id TEST_ID         run one test and print what the client and origin saw (no scoring)
#   --min-required PCT   bar for required tests (default 85), passed to the scorer
#   --min-optimal PCT    bar for optimal tests (default 70), passed to the scorer
#   --title TEXT         heading of conformance.md (default: the suite and its version)
#   --direct             no proxy: the CLI talks to the suite's server itself
#
# PROXY_CMD runs the cache in the foreground, listening on 127.0.0.1:{port} and forwarding
# to the suite's origin. Placeholders, replaced in every argument:
#   {upstream}       the origin's URL, http://127.0.0.1:PORT
#   {upstream_addr}  the origin's address, 127.0.0.1:PORT
#   {port}           the port the cache must listen on (127.0.0.1 only)
#   {workdir}        an empty directory for the cache's files (DIR/proxy)
# Examples (the configurations measured in docs/conformance.md):
#   scripts/cache-tests.sh --out target/ct-nginx -- \
#       conformance/nginx/run.sh {upstream} {port} {workdir}
#   scripts/cache-tests.sh --out target/ct-varnish -- varnishd -F -n {workdir}/varnish \
#       -a 127.0.0.1:{port} -b {upstream_addr} -T none -s malloc,64m \
#       -p default_ttl=0 -p default_grace=0 -p default_keep=3600
# and ttlab's own cache, as CI runs it:
#   scripts/cache-tests.sh --out target/ct-ttlab -- target/debug/ttlab serve cdn \
#       --upstream {upstream} --port {port}
#
# How it runs: two free loopback ports are picked (bound to port 0, read, closed); the
# suite's server starts on the first, PROXY_CMD on the second; the script waits until the
# cache answers anything on / (CACHE_TESTS_START_TIMEOUT seconds, default 30), runs the
# suite's CLI against it (CACHE_TESTS_RUN_TIMEOUT, default 600; a full run takes 13-20 s:
# 100 tests at a time, some pausing 3 s between requests) and scores DIR/results.json.
# The servers and the CLI run in their own process groups and are stopped on every exit
# path (TERM, then KILL after 5 s).
#
# The suite is installed with `npm ci` in conformance/cache-tests when node_modules is
# missing or older than the lockfile. http-cache-tests declares npm@6 and liquidjs as
# dependencies although its server and CLI load neither; npm cannot leave a declared
# dependency out (--omit only knows dev, optional and peer), so they are installed inert
# (conformance/cache-tests/.npmrc: no install scripts, no .bin links) and the server and
# CLI are started with node directly, never through `npm run`.
#
# Exit status: the scorer's (0 at or above both bars, 1 below, 2 bad or incomplete
# results); 3 when the harness itself fails (cache not answering, CLI timed out or
# crashed). --direct skips the bars (the origin alone caches nothing) and fails instead when
# any test that expects a response from a cache passed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pkg=$root/conformance/cache-tests
suite=$pkg/node_modules/http-cache-tests

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit "${1:-2}"
}
die() { echo "cache-tests: $*" >&2; exit 3; }

out=$root/target/cache-tests
test_id=
direct=0
score_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --id) [ $# -ge 2 ] || usage; test_id=$2; shift 2 ;;
    --min-required | --min-optimal | --title) [ $# -ge 2 ] || usage; score_args+=("$1" "$2"); shift 2 ;;
    --direct) direct=1; shift ;;
    -h | --help) usage 0 ;;
    --) shift; break ;;
    *) echo "cache-tests: unknown argument '$1'" >&2; usage ;;
  esac
done
proxy_cmd=("$@")
if [ "$direct" -eq 1 ] && [ ${#proxy_cmd[@]} -gt 0 ]; then
  echo "cache-tests: --direct takes no PROXY_CMD" >&2; usage
fi
if [ "$direct" -eq 0 ]; then
  [ ${#proxy_cmd[@]} -gt 0 ] || { echo "cache-tests: give -- PROXY_CMD or --direct" >&2; usage; }
  case "${proxy_cmd[*]}" in *'{port}'*) ;; *) echo "cache-tests: PROXY_CMD must contain {port}" >&2; usage ;; esac
  case "${proxy_cmd[*]}" in *'{upstream}'* | *'{upstream_addr}'*) ;;
    *) echo "cache-tests: PROXY_CMD must contain {upstream} or {upstream_addr}" >&2; usage ;;
  esac
fi
start_timeout=${CACHE_TESTS_START_TIMEOUT:-30}
run_timeout=${CACHE_TESTS_RUN_TIMEOUT:-600}

command -v node >/dev/null || die "node is required (Node.js 18 or later)"
command -v setsid >/dev/null || die "setsid (util-linux) is required"

# Install the pinned suite when it is missing or the lockfile changed since the last npm ci.
stamp=$pkg/node_modules/.ttlab-lock-stamp
if [ ! -f "$suite/package.json" ] || ! cmp -s "$pkg/package-lock.json" "$stamp"; then
  echo "cache-tests: installing the pinned suite (npm ci in conformance/cache-tests)…"
  (cd "$pkg" && timeout 300 npm ci --no-audit --no-fund) || die "npm ci failed"
  cp "$pkg/package-lock.json" "$stamp"
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/results.json" "$out/summary.json" "$out/conformance.md"

# Process groups started here, stopped on every exit path.
groups=()
# shellcheck disable=SC2317  # reached through the EXIT trap
stop_all() {
  local g _
  for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for g in "${groups[@]}"; do kill -0 -- "-$g" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && return 0
    sleep 0.1
  done
  for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Two free loopback ports: bound to port 0 together (so they differ), read, closed.
read -r origin_port proxy_port < <(node -e '
  const net = require("node:net")
  const a = net.createServer().listen(0, "127.0.0.1", () => {
    const b = net.createServer().listen(0, "127.0.0.1", () => {
      console.log(a.address().port, b.address().port); a.close(); b.close()
    })
  })')
[ -n "${proxy_port:-}" ] || die "could not pick free ports"
upstream_addr=127.0.0.1:$origin_port
upstream=http://$upstream_addr

# wait_http URL SECONDS PID: until URL answers anything (any status), the process PID is
# gone, or the time is up.
wait_http() {
  # shellcheck disable=SC2016  # JavaScript, not shell
  node -e '
    const [url, secs, pid] = process.argv.slice(1)
    const deadline = Date.now() + Number(secs) * 1000
    const alive = () => { try { process.kill(Number(pid), 0); return true } catch { return false } }
    const probe = () => fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      () => process.exit(0),
      () => {
        if (!alive()) { console.error(`exited before answering on ${url}`); process.exit(1) }
        if (Date.now() > deadline) { console.error(`nothing answered on ${url} within ${secs} s`); process.exit(1) }
        setTimeout(probe, 100)
      })
    probe()' "$1" "$2" "$3"
}

# The suite's origin, bound to 127.0.0.1 only (loopback.mjs), configured by the environment
# variables npm would set for `npm run server`.
(cd "$suite" && exec env npm_config_protocol=http npm_config_port="$origin_port" \
  npm_config_pidfile="$out/origin.pid" \
  setsid node --import "$pkg/loopback.mjs" server/server.mjs) >"$out/origin.log" 2>&1 &
groups+=($!)
wait_http "$upstream/" "$start_timeout" "${groups[0]}" || { cat "$out/origin.log" >&2; die "the suite's origin did not start"; }

if [ "$direct" -eq 1 ]; then
  base=$upstream
  echo "cache-tests: no proxy; the suite's origin alone on $upstream"
else
  rm -rf "$out/proxy"
  mkdir -p "$out/proxy"
  cmd=()
  for arg in "${proxy_cmd[@]}"; do
    arg=${arg//'{upstream_addr}'/$upstream_addr}
    arg=${arg//'{upstream}'/$upstream}
    arg=${arg//'{port}'/$proxy_port}
    arg=${arg//'{workdir}'/$out/proxy}
    cmd+=("$arg")
  done
  echo "cache-tests: origin $upstream; starting: ${cmd[*]}"
  setsid "${cmd[@]}" >"$out/proxy.log" 2>&1 &
  groups+=($!)
  base=http://127.0.0.1:$proxy_port
  wait_http "$base/" "$start_timeout" "${groups[1]}" || { tail -n 40 "$out/proxy.log" >&2; die "the cache did not answer on $base"; }
fi

# The CLI reads its options from npm's environment variables; both forms of `id` must be
# set, as npm would, or an empty one reads as "run one test". It runs in its own process
# group like the servers, so that an interrupted run stops it too.
run_cli() { # STDOUT_FILE STDERR_FILE
  (cd "$suite" && exec env npm_config_base="$base" npm_package_config_base="$base" \
    npm_config_id="$test_id" npm_package_config_id="$test_id" \
    setsid timeout -k 10 "$run_timeout" node --no-warnings cli.mjs) >"$1" 2>"$2" &
  groups+=($!)
  wait "$!"
}

if [ -n "$test_id" ]; then
  status=0
  run_cli "$out/test-$test_id.txt" "$out/cli.log" || status=$?
  cat "$out/test-$test_id.txt" "$out/cli.log"
  [ "$status" -eq 0 ] || die "the CLI failed (exit $status)"
  exit 0
fi

echo "cache-tests: running the suite against $base (at most $run_timeout s)…"
started=$(date +%s)
status=0
run_cli "$out/results.json.partial" "$out/cli.log" || status=$?
elapsed=$(($(date +%s) - started))
[ "$status" -ne 124 ] || die "the CLI did not finish within $run_timeout s"
[ "$status" -eq 0 ] || { cat "$out/cli.log" >&2; die "the CLI failed (exit $status)"; }
# The CLI prints a crash to stderr and still exits 0 with nothing on stdout.
[ -s "$out/results.json.partial" ] || { cat "$out/cli.log" >&2; die "the CLI printed no results"; }
mv "$out/results.json.partial" "$out/results.json"
echo "cache-tests: the suite ran in ${elapsed} s; results in $out/results.json"

if [ "$direct" -eq 1 ]; then
  score_args=(--min-required 0 --min-optimal 0 --expect-no-cache --title "the suite's origin alone (no cache)")
fi
status=0
node "$root/scripts/cache-tests-score.mjs" --results "$out/results.json" --out "$out" "${score_args[@]}" || status=$?
echo "cache-tests: summary in $out/summary.json, Markdown in $out/conformance.md"
exit "$status"
