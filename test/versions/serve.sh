#!/usr/bin/env bash
# test/versions/serve.sh DIR: build and install cron_lock for $PG_CONFIG's major,
# run a throwaway cluster in DIR (loopback TCP, port in DIR/port), create
# DIR/ready, and stop the cluster once a line arrives on the fifo DIR/stop
# (or after 20 minutes).  The older server of a cross-root upgrade.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$1
export PG_BINDIR=$("${PG_CONFIG:-pg_config}" --bindir)
source "$repo/test/lib/cluster.sh"
build=$(mktemp -d /tmp/cron_lock_build.XXXXXX)
trap 'cluster_stop "$dir" fast; rm -rf "$build"' EXIT
"$repo/test/versions/build.sh" "$build" >&2 || exit 1
cluster_create "$dir" && cluster_start "$dir" || exit 1
mkfifo "$dir/stop"
exec 3<>"$dir/stop"
touch "$dir/ready"
read -r -t 1200 -u 3 _ || true
