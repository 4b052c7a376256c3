#!/usr/bin/env bash
# Runs Varnish in the foreground as the cache under test, with the VCL ttlab
# generates for conformance/varnish/scenario.toml (ssr-cdn-shared, policy = "http"):
#   conformance/varnish/run.sh TTLAB UPSTREAM_ADDR PORT WORKDIR
# as scripts/cache-tests.sh starts it:
#   scripts/cache-tests.sh -- conformance/varnish/run.sh target/debug/ttlab \
#       {upstream_addr} {port} {workdir}
# The same varnishd parameters as `ttlab run --cdn varnish` (loadgen/src/run/varnish.rs).
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 TTLAB UPSTREAM_ADDR PORT WORKDIR" >&2; exit 2; }
ttlab=$1 upstream=$2 port=$3 workdir=$4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
"$ttlab" vcl "$here/scenario.toml" --arch ssr-cdn-shared --origin "$upstream" -o "$workdir/ttlab.vcl"
# Run as root, varnishd's child runs as its own user and must read the folder.
chmod 755 "$workdir"
PATH=$PATH:/usr/sbin
exec varnishd -F -n "$workdir/varnish" -a "127.0.0.1:$port" -f "$workdir/ttlab.vcl" -T none \
  -s malloc,64m -p default_ttl=0 -p default_grace=0 -p default_keep=0
