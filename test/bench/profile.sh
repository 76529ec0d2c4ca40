#!/usr/bin/env bash
# test/bench/profile.sh SCRIPT [DB] [--record]: where one pgbench transaction
# of test/bench/SCRIPT.sql spends its CPU, measured on a single client so that
# other load on the machine does not change the answer much.
#
# Needs a running cluster set up as run.sh does (PG* variables pointing at
# it, setup.sql loaded in DB) and perf (Debian: linux-perf).  Prints CPU
# microseconds per transaction of the client's backend and of the WAL writer,
# and, with --record, writes perf.SCRIPT.data (cpu-clock samples with call
# graphs of the backend) and a report of the heaviest call paths.
#   PGHOST=... PGPORT=... PGUSER=postgres test/bench/profile.sh busy_cron_lock bench --record
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
script=$1
db=${2:-bench}
record=${3:-}
jobs=${BENCH_JOBS:-1000}
secs=${PROFILE_SECONDS:-4}
out=${PROFILE_OUT:-/tmp/cron_lock_profile}
mkdir -p "$out"
rm -f "$out/log.$script".*

pgbench -n -M prepared -D jobs="$jobs" -f "$HERE/$script.sql" -c 1 -j 1 -T $((secs + 3)) \
	--log --log-prefix="$out/log.$script" "$db" >"$out/pgbench.$script.txt" 2>&1 &
bench=$!
sleep 1.5
backend=$(psql -X -Atd "$db" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' LIMIT 1")
walwriter=$(psql -X -Atd "$db" -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'")
t1=$(date +%s.%N)
if [ "$record" = --record ]; then
	perf record -q -F 4000 -e cpu-clock --call-graph dwarf,32768 -p "$backend" \
		-o "$out/perf.$script.data" -- sleep "$secs" >/dev/null 2>&1 &
	rec=$!
fi
perf stat -x, --per-thread -e task-clock -p "$backend,$walwriter" -o "$out/stat.$script.txt" -- sleep "$secs"
t2=$(date +%s.%N)
[ -n "${rec:-}" ] && wait "$rec"
wait "$bench"

txns=$(cat "$out/log.$script".* | awk -v a="$t1" -v b="$t2" '{t = $5 + $6 / 1e6} t >= a && t < b {n++} END {print n + 0}')
awk -F, -v n="$txns" -v s="$script" -v b="$backend" -v w="$walwriter" '
	$1 ~ "-" b "$" {be = $2} $1 ~ "-" w "$" {ww = $2}
	END {printf "%-20s %7d txns  backend %7.1f us/txn  walwriter %6.1f us/txn\n", s, n, be * 1000 / n, ww * 1000 / n}' \
	"$out/stat.$script.txt"
if [ "$record" = --record ]; then
	perf report -i "$out/perf.$script.data" --children --sort symbol --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]' | grep -v '0x0000' | head -n 80 >"$out/report.$script.txt"
	echo "  call paths: $out/report.$script.txt"
fi
