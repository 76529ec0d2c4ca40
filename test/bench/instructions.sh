#!/usr/bin/env bash
# test/bench/instructions.sh SCRIPT...: user-space instructions per transaction
# of one backend, for each test/bench/SCRIPT.sql, counted by callgrind.  The
# throughput figures move with the machine's other load; these do not.
#
# A throwaway cluster runs under valgrind (every backend traced); each script
# runs twice through pgbench on one connection, with SHORT and LONG
# transactions, and the difference of the two backends' totals divided by
# LONG - SHORT is the figure: connection start, planning and cache loading
# cancel out.  Needs valgrind (Debian: valgrind); takes a few minutes.
#   test/bench/instructions.sh busy_cron_lock select1
# Environment: SHORT [200], LONG [1200], BENCH_JOBS [1000], KEEP=1 keeps the
# callgrind files (for callgrind_annotate) and says where, EDITION=1 measures
# the plain-SQL edition (sql-edition/) instead of the extension.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/test/bench
# shellcheck source=../lib/cluster.sh
source "$ROOT/test/lib/cluster.sh"
short=${SHORT:-200}
long=${LONG:-1200}
jobs=${BENCH_JOBS:-1000}
[ $# -gt 0 ] || { echo "usage: $0 SCRIPT..." >&2; exit 2; }
command -v valgrind >/dev/null || { echo "instructions: valgrind is missing" >&2; exit 1; }

work=$(mktemp -d /tmp/cron_lock_instr.XXXXXX)
chmod 755 "$work"
cleanup() {
	cluster_stop "$work/pg" immediate
	if [ "${KEEP:-0}" = 1 ]; then echo "instructions: callgrind files in $work/cg" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

cluster_create "$work/pg" >/dev/null
mkdir "$work/cg"
chmod 777 "$work/cg"
# Started by hand rather than by pg_ctl, so that valgrind wraps the postmaster;
# no autovacuum, so that the only backends are the ones measured.
as_pg valgrind --tool=callgrind --trace-children=yes -q \
	--callgrind-out-file="$work/cg/cg.%p" \
	"$PG_BINDIR/postgres" -D "$work/pg/data" -c autovacuum=off >"$work/valgrind.log" 2>&1 &
eval "$(cluster_env "$work/pg")"
for _ in $(seq 120); do pg_isready -q && break; sleep 1; done
pg_isready -q || { echo "instructions: the cluster did not start" >&2; exit 1; }
psql -Xq -c "CREATE DATABASE bench"
if [ "${EDITION:-0}" = 1 ]; then
	"$ROOT/sql-edition/build.sh" "$work/edition" \
		"$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$ROOT/extension/cron_lock.control")"
	psql -Xq -d bench -v ON_ERROR_STOP=1 -1 -c "SET client_min_messages = warning" -f "$work/edition/cron_lock.sql"
else
	psql -Xq -d bench -c "CREATE EXTENSION cron_lock"
fi
psql -Xq -d bench -v jobs="$jobs" -f "$HERE/setup.sql" >/dev/null

# Wait until no backend is still writing its callgrind file.
settle() {
	local n=-1
	while [ "$n" != "$(ls "$work/cg" | wc -l)" ]; do
		n=$(ls "$work/cg" | wc -l)
		sleep 1
	done
}

# The backend of one pgbench run: the newest callgrind file once it is done.
backend_of() { # transactions script
	local before after
	settle
	before=$(ls "$work/cg")
	PGAPPNAME=instructions pgbench -n -M prepared -D jobs="$jobs" -f "$HERE/$2.sql" \
		-c 1 -t "$1" bench >/dev/null 2>&1
	# Each backend writes its file as it exits, under valgrind a while later;
	# pgbench's two connections (a version check and the client) make two.
	for _ in $(seq 60); do
		after=$(ls "$work/cg")
		[ "$(comm -13 <(echo "$before" | sort) <(echo "$after" | sort) | wc -l)" -ge 2 ] && break
		sleep 0.5
	done
	comm -13 <(echo "$before" | sort) <(echo "$after" | sort) |
		while read -r f; do
			# pgbench makes one connection per client; the biggest new file is it.
			printf '%s %s\n' "$(sed -n 's/^totals: //p;s/^summary: //p' "$work/cg/$f" | head -1)" "$f"
		done | sort -n | tail -1 | cut -d' ' -f1
}

printf '%-22s %12s\n' script "instr/txn"
for script in "$@"; do
	a=$(backend_of "$short" "$script")
	b=$(backend_of "$long" "$script")
	awk -v s="$script" -v a="$a" -v b="$b" -v n=$((long - short)) \
		'BEGIN { printf "%-22s %12.0f\n", s, (b - a) / n }'
done
