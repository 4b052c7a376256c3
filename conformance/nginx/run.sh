#!/usr/bin/env bash
# Runs nginx in the foreground as the cache under test, from nginx.conf.template:
#   conformance/nginx/run.sh UPSTREAM_URL PORT WORKDIR
# as scripts/cache-tests.sh starts it:
#   scripts/cache-tests.sh -- conformance/nginx/run.sh {upstream} {port} {workdir}
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 UPSTREAM_URL PORT WORKDIR" >&2; exit 2; }
upstream=$1 port=$2 workdir=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
sed -e "s|@UPSTREAM@|$upstream|g" -e "s|@PORT@|$port|g" -e "s|@WORKDIR@|$workdir|g" \
  "$here/nginx.conf.template" >"$workdir/nginx.conf"
# Run as root, nginx's workers run as nobody and must reach the cache directory.
chmod 755 "$workdir"
# -e: the log nginx opens before it reads the configuration (else /var/log/nginx).
exec nginx -p "$workdir" -c "$workdir/nginx.conf" -e "$workdir/error.log" -g 'daemon off;'
