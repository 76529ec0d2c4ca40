#!/usr/bin/env bash
# test/bench/run.sh: cron_lock's benchmarks, side by side with what users would
# pick instead, in one run on one throwaway cluster.  `make bench` runs it after
# building and installing; it prints a table and writes BENCHMARKS.md plus a
# chart of throughput against clients.  It reports; it never fails on a number.
#
# SQL side (pgbench -n -M prepared, loopback unix socket, the cluster's default
# durability: fsync on, synchronous_commit on):
#   cycle    cron_lock_try + cron_lock_release   vs ShedLock lock + unlock,
#            the hand-rolled PL/pgSQL helper, session advisory locks
#   busy     cron_lock_try on a lease held by another instance vs SELECT 1
#            (and vs the hand-rolled helper)
#   acquire  cron_lock_try on a job never seen before vs a single-row upsert
#   *_sql    cycle, busy and acquire again on the plain-SQL edition
#            (databases bench_sql, fresh_sql of the same cluster)
#   wal      WAL bytes per cycle: cron_lock, the SQL edition, ShedLock
#   history  cycle with ~0 (pruned before each run) vs 1M (and, with
#            BENCH_HISTORY_10M=1, 10M) finished runs in cron_lock.job_runs
#   contention  1..64 clients asking for one held job: p50/p99 of busy answers
#   writes   what the contract makes any implementation write, alone, as
#            plain SQL on copies of the tables: a busy answer's event row
#            (async commit), a first acquisition's lease and run rows, a
#            cycle's lease and run writes
# Command side (hyperfine): `cronlock run --job x -- true` vs `flock -n f true`,
# cronlock with --log-to stderr (hyperfine discards both commands' output), so
# that it pays no syslog round trip that flock does not make either (the default,
# auto, logs to syslog where there is no terminal and /dev/log exists),
# cronlock run again through a PgBouncer (transaction pooling, loopback TCP, a
# warm server connection: no backend start), and cronlock's peak RSS (GNU time);
# the server's part of one run: pgbench -C, a new connection sending what
# cronlock sends.
#
# Every figure is the median of BENCH_REPEAT runs of BENCH_SECONDS each, at
# every client count in BENCH_CLIENTS; the runs of one repetition are
# interleaved so that the compared figures share the machine's state.
#
# Environment (defaults in brackets):
#   BENCH_QUICK=1             smoke run: 3 s x 1 repetition, under 3 minutes;
#                             writes to test/bench/out/ instead of BENCHMARKS.md
#   BENCH_SECONDS [10]        length of one pgbench run
#   BENCH_REPEAT [3]          runs per figure
#   BENCH_CLIENTS ["1 8 32"]  client counts
#   BENCH_JOBS [1000]         distinct jobs for cycle and busy
#   BENCH_WAL_CYCLES [2000]   cycles per WAL measurement
#   BENCH_CONTENTION_CLIENTS ["1 2 4 8 16 32 64"], BENCH_CONTENTION_SECONDS [4]
#   BENCH_HISTORY_10M=1       also measure with 10M history rows (adds ~5 min,
#                             2.5 GB of disk)
#   BENCH_HYPERFINE_ROUNDS [10] hyperfine rounds; each runs every command in turn
#   BENCH_HYPERFINE_RUNS [40] runs per command and round
#   BENCH_OUT [BENCHMARKS.md] report path; the chart goes beside the driver
#                             (test/bench/throughput.svg) or into BENCH_OUT's
#                             folder in quick mode
#   BENCH_KEEP=1              keep the work folder (raw pgbench output, logs);
#                             the figures themselves are always copied to
#                             test/bench/out/last/ (last-quick/ in quick mode);
#                             report.py --work DIR regenerates a report from them
#   CRONLOCK [build/client/cronlock]  the command under test
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/test/bench
# shellcheck source=../lib/cluster.sh
source "$ROOT/test/lib/cluster.sh"

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	SECS=${BENCH_SECONDS:-3}
	REPEAT=${BENCH_REPEAT:-1}
	CONT_SECS=${BENCH_CONTENTION_SECONDS:-2}
	HF_ROUNDS=${BENCH_HYPERFINE_ROUNDS:-3}
	HF_RUNS=${BENCH_HYPERFINE_RUNS:-15}
	OUT=${BENCH_OUT:-$HERE/out/BENCHMARKS.md}
else
	SECS=${BENCH_SECONDS:-10}
	REPEAT=${BENCH_REPEAT:-3}
	CONT_SECS=${BENCH_CONTENTION_SECONDS:-4}
	HF_ROUNDS=${BENCH_HYPERFINE_ROUNDS:-10}
	HF_RUNS=${BENCH_HYPERFINE_RUNS:-40}
	OUT=${BENCH_OUT:-$ROOT/BENCHMARKS.md}
fi
CLIENTS=${BENCH_CLIENTS:-"1 8 32"}
CONT_CLIENTS=${BENCH_CONTENTION_CLIENTS:-"1 2 4 8 16 32 64"}
JOBS=${BENCH_JOBS:-1000}
HIST10M=${BENCH_HISTORY_10M:-0}
CRONLOCK=${CRONLOCK:-$ROOT/build/client/cronlock}
if [ "$QUICK" != 1 ] && [ -z "${BENCH_OUT:-}" ]; then
	CHART=$HERE/throughput.svg
else
	CHART=$(dirname "$OUT")/throughput.svg
fi
mkdir -p "$(dirname "$OUT")" "$(dirname "$CHART")"

for tool in pgbench psql hyperfine gnuplot python3; do
	command -v "$tool" >/dev/null || {
		echo "bench: $tool is missing (make bench installs it)" >&2
		exit 1
	}
done
if [ ! -x /usr/bin/time ]; then
	"$ROOT/test/install-deps.sh" time
fi

WORK=$(mktemp -d /tmp/cron_lock_bench.XXXXXX)
chmod 755 "$WORK"
CLUSTER=$WORK/cluster
BOUNCER=$WORK/pgbouncer
cleanup() {
	pgbouncer_stop "$BOUNCER"
	cluster_stop "$CLUSTER" immediate
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: raw results kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

START_EPOCH=$(date +%s)
PKGLIBDIR=$(pg_config --pkglibdir)
SO_START=$(md5sum "$PKGLIBDIR/cron_lock.so" | cut -c1-12)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the cluster -----------------------------------------------------------
log "cluster in $CLUSTER"
cluster_create "$CLUSTER"
cluster_start "$CLUSTER"
eval "$(cluster_env "$CLUSTER")"
export PGAPPNAME=cron_lock_bench

q() { # db sql...: one quiet psql call that stops on the first error
	local db=$1
	shift
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"
}

# bench: cycle, busy and the rivals; fresh: first acquisitions and upserts
# (both leave rows behind); hist1m (hist10m): cycle on a long history.
# bench_sql, fresh_sql: the same with the plain-SQL edition instead.
DBS="bench fresh hist1m bench_sql fresh_sql"
[ "$HIST10M" = 1 ] && DBS="$DBS hist10m"
hist_rows() { case $1 in hist1m) echo 1000000 ;; hist10m) echo 10000000 ;; *) echo 0 ;; esac; }
"$ROOT/sql-edition/build.sh" "$WORK/edition" \
	"$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$ROOT/extension/cron_lock.control")"
for db in $DBS; do
	q postgres -c "CREATE DATABASE $db"
	case $db in
	*_sql) q "$db" -1 -c "SET client_min_messages = warning" -f "$WORK/edition/cron_lock.sql" >/dev/null ;;
	*) q "$db" -c "CREATE EXTENSION cron_lock" ;;
	esac
	rows=$(hist_rows "$db")
	if [ "$rows" != 0 ]; then
		log "history: $rows runs into $db"
		t0=$(date +%s)
		q "$db" -v rows="$rows" -v jobs="$JOBS" -f "$HERE/history.sql"
		log "history: $db ready in $(($(date +%s) - t0)) s"
	fi
	q "$db" -v jobs="$JOBS" -f "$HERE/setup.sql" >/dev/null
done

# --- pgbench ---------------------------------------------------------------
RESULTS=$WORK/results.tsv
printf 'workload\tdb\tclients\trep\ttps\tlatency_ms\thistory_rows\n' >"$RESULTS"

# pgbench_into OUT ARGS...: pgbench ARGS with its output in OUT; on failure
# show its end and stop the whole run.
pgbench_into() {
	local out=$1
	shift
	if ! pgbench "$@" >"$out" 2>&1; then
		echo "bench: pgbench $* failed:" >&2
		tail -n 20 "$out" >&2
		exit 1
	fi
}

# run_pgbench NAME SCRIPT DB CLIENTS REP [PGOPTIONS]: one measured run,
# appended to RESULTS.
run_pgbench() {
	local name=$1 script=$2 db=$3 clients=$4 rep=$5 opts=${6:-} threads=2 rows=""
	[ "$clients" -lt 2 ] && threads=1
	if [ "$script" = cycle_cron_lock ]; then
		# History at its level: "0" is pruned away before each run, and the
		# table rewritten so that new runs append as on a fresh install
		# instead of filling holes all over it.
		if [ "$db" = bench ] || [ "$db" = bench_sql ]; then
			q "$db" -Atc "SELECT cron_lock_prune('0 s')" >/dev/null
			q "$db" -c "VACUUM FULL cron_lock.job_runs"
		fi
		q "$db" -c "VACUUM cron_lock.job_runs"
		rows=$(q "$db" -Atc "SELECT reltuples::bigint FROM pg_class WHERE oid = 'cron_lock.job_runs'::regclass")
	fi
	# The copy's history starts empty too.
	[ "$script" = cycle_writes ] && q "$db" -c "TRUNCATE job_runs_copy"
	q "$db" -c "CHECKPOINT"
	local out=$WORK/pgbench.$name.c$clients.r$rep.txt
	PGOPTIONS=$opts pgbench_into "$out" -n -M prepared -D jobs="$JOBS" -f "$HERE/$script.sql" \
		-c "$clients" -j "$threads" -T "$SECS" "$db"
	local tps lat
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out")
	lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$out")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$db" "$clients" "$rep" "$tps" "$lat" "$rows" >>"$RESULTS"
	log "$(printf '%-18s c=%-2s rep %s: %10.0f tps' "$name" "$clients" "$rep" "$tps")"
}

# name script db [PGOPTIONS], in the order they run within one repetition:
# each compared pair runs back to back.  The *_writes workloads are what the
# contract makes any implementation write (busy_writes.sql and the others).
WORKLOADS=(
	"cycle cycle_cron_lock bench"
	"cycle_shedlock cycle_shedlock bench"
	"cycle_writes cycle_writes bench"
	"cycle_hand_rolled cycle_hand_rolled bench"
	"cycle_advisory cycle_advisory bench"
	"cycle_hist1m cycle_cron_lock hist1m"
	"cycle_sql cycle_cron_lock bench_sql"
	"busy busy_cron_lock bench"
	"busy_sql busy_cron_lock bench_sql"
	"select1 select1 bench"
	"busy_writes busy_writes bench -csynchronous_commit=off"
	"busy_hand_rolled busy_hand_rolled bench"
	"acquire acquire_cron_lock fresh"
	"acquire_sql acquire_cron_lock fresh_sql"
	"upsert upsert fresh"
	"acquire_writes acquire_writes fresh"
)
[ "$HIST10M" = 1 ] && WORKLOADS+=("cycle_hist10m cycle_cron_lock hist10m")

for rep in $(seq 1 "$REPEAT"); do
	for clients in $CLIENTS; do
		for w in "${WORKLOADS[@]}"; do
			read -r name script db opts <<<"$w"
			run_pgbench "$name" "$script" "$db" "$clients" "$rep" "${opts:-}"
		done
	done
done

# --- WAL bytes per cycle ------------------------------------------------------
# pg_current_wal_lsn() before and after BENCH_WAL_CYCLES cycles by one client,
# nothing else running: the WAL one cycle writes (and replicates).
WAL=$WORK/wal.tsv
WAL_CYCLES=${BENCH_WAL_CYCLES:-2000}
printf 'workload\tcycles\tbytes\n' >"$WAL"
for w in "cycle cycle_cron_lock bench" "cycle_sql cycle_cron_lock bench_sql" "cycle_shedlock cycle_shedlock bench"; do
	read -r name script db <<<"$w"
	q "$db" -c "CHECKPOINT"
	lsn0=$(q "$db" -Atc "SELECT pg_current_wal_lsn()")
	pgbench_into "$WORK/pgbench.wal.$name.txt" -n -M prepared -D jobs="$JOBS" -f "$HERE/$script.sql" \
		-c 1 -t "$WAL_CYCLES" "$db"
	bytes=$(q "$db" -Atc "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0')")
	printf '%s\t%s\t%s\n' "$name" "$WAL_CYCLES" "$bytes" >>"$WAL"
	log "$(printf 'WAL %-15s %8d bytes per cycle' "$name" "$((${bytes%.*} / WAL_CYCLES))")"
done

# --- contention: many clients, one held job ---------------------------------
CONTENTION=$WORK/contention.tsv
printf 'workload\tclients\ttps\tlog\n' >"$CONTENTION"
mkdir -p "$WORK/log"
for clients in $CONT_CLIENTS; do
	threads=2
	[ "$clients" -lt 2 ] && threads=1
	for script in busy_cron_lock; do
		prefix=$WORK/log/$script.c$clients
		out=$WORK/pgbench.contention.$script.c$clients.txt
		q bench -c "CHECKPOINT"
		# -D jobs=1: every client asks for busy-1, held by 'holder'.
		pgbench_into "$out" -n -M prepared -D jobs=1 -f "$HERE/$script.sql" \
			-c "$clients" -j "$threads" -T "$CONT_SECS" --log --log-prefix="$prefix" bench
		tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out")
		printf '%s\t%s\t%s\t%s\n' "$script" "$clients" "$tps" "$prefix" >>"$CONTENTION"
		log "$(printf 'contention %-15s c=%-2s: %10.0f tps' "$script" "$clients" "$tps")"
	done
done
q bench -Atc "SELECT count(*) FROM cron_lock.contention" >"$WORK/contention_rows"

# --- the command -------------------------------------------------------------
# quiet_server: wait (up to 5 minutes) until no autovacuum worker runs, then
# CHECKPOINT; the wait goes into the facts.
quiet_server() {
	local waited=0
	while [ "$(q bench -Atc "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")" != 0 ] &&
		[ $waited -lt 300 ]; do
		sleep 1
		waited=$((waited + 1))
	done
	q bench -c "CHECKPOINT"
	QUIET_WAITS+="${QUIET_WAITS:+, }${waited} s"
	log "server quiet (waited $waited s for autovacuum)"
}
QUIET_WAITS=""
RSS=$WORK/rss.tsv
: >"$RSS"
CMD_STATUS=$WORK/command_status
if [ ! -x "$CRONLOCK" ]; then
	echo "not built: $CRONLOCK" >"$CMD_STATUS"
	log "cronlock not built ($CRONLOCK): command benchmarks skipped"
else
	export CRONLOCK_DB="host=$PGHOST port=$PGPORT user=postgres dbname=bench"
	rc=0
	"$CRONLOCK" run --log-to stderr --job bench-cmd -- true 2>"$WORK/cronlock.err" || rc=$?
	if [ "$rc" != 0 ]; then
		echo "failed: cronlock run exited $rc ($(tail -n 3 "$WORK/cronlock.err" | tr '\n' ' '))" >"$CMD_STATUS"
		log "cronlock run failed: command benchmarks skipped"
		cat "$WORK/cronlock.err" >&2
	else
		echo ok >"$CMD_STATUS"
		# The same command through PgBouncer; left out (and said why in the
		# facts) if PgBouncer will not start or cronlock fails through it.
		POOLED=()
		if ! command -v pgbouncer >/dev/null; then
			echo "not measured: pgbouncer is not installed" >"$WORK/pool_status"
		# Transaction pooling, reaching the cluster over its socket as the direct runs do.
		elif ! pgbouncer_start "$BOUNCER" "bench = host=$CLUSTER port=$PGPORT dbname=bench"; then
			echo "not measured: PgBouncer did not start ($(tail -n 2 "$BOUNCER/pgbouncer.log" "$BOUNCER/start.log" 2>/dev/null | tr '\n' ' '))" >"$WORK/pool_status"
			log "PgBouncer did not start: its row is left out"
		else
			POOL_DB="host=127.0.0.1 port=$(cat "$BOUNCER/port") user=postgres dbname=bench"
			rc=0
			"$CRONLOCK" run --log-to stderr --db "$POOL_DB" --job bench-cmd-pool -- true 2>"$WORK/cronlock.pool.err" || rc=$?
			if [ "$rc" != 0 ]; then
				echo "not measured: cronlock run through PgBouncer exited $rc ($(tail -n 3 "$WORK/cronlock.pool.err" | tr '\n' ' '))" >"$WORK/pool_status"
				log "cronlock run through PgBouncer failed: its row is left out"
				cat "$WORK/cronlock.pool.err" >&2
			else
				echo "ok: $(pgbouncer --version | head -n 1), pool_mode=transaction" >"$WORK/pool_status"
				POOLED=(-n "cronlock run --job x -- true (via PgBouncer)"
					"$CRONLOCK run --log-to stderr --db '$POOL_DB' --job bench-cmd-pool -- true")
			fi
		fi
		# flock never touches the server, so the server's own after-work of the
		# SQL benchmarks (autovacuum of millions of rows, a checkpoint due)
		# would fall on cronlock alone: let it finish first.
		quiet_server
		log "hyperfine: cronlock run (direct${POOLED[*]:+, via PgBouncer}) vs flock"
		# In rounds, so that a change of machine load meets every command alike.
		for round in $(seq "$HF_ROUNDS"); do
			hyperfine -N --style none --warmup 3 --runs "$HF_RUNS" --export-json "$WORK/command.$round.json" \
				-n "flock -n FILE true" "flock -n $WORK/flock.lock true" \
				-n "cronlock run --job x -- true" "$CRONLOCK run --log-to stderr --job bench-cmd -- true" \
				"${POOLED[@]}" \
				-n "psql -c 'SELECT 1'" "psql -X -A -t -c 'SELECT 1'" \
				-n "cronlock --version" "$CRONLOCK --version" >"$WORK/hyperfine.txt" 2>&1 ||
				{
					cat "$WORK/hyperfine.txt" >&2
					echo "failed: hyperfine" >"$CMD_STATUS"
					break
				}
		done
		for i in 1 2 3 4 5; do
			/usr/bin/time -f %M -o "$WORK/rss.cronlock.$i" "$CRONLOCK" run --log-to stderr --job bench-rss -- true 2>/dev/null
			/usr/bin/time -f %M -o "$WORK/rss.flock.$i" flock -n "$WORK/flock.lock" true
			printf 'cronlock\t%s\nflock\t%s\n' "$(tail -n 1 "$WORK/rss.cronlock.$i")" \
				"$(tail -n 1 "$WORK/rss.flock.$i")" >>"$RSS"
		done
		# Every timed run must have been an acquisition, not a busy answer.
		q bench -Atc "SELECT string_agg(status || '=' || n, ' ' ORDER BY status) FROM (SELECT status, count(*) AS n FROM cron_lock.job_runs WHERE job IN ('bench-cmd', 'bench-cmd-pool', 'bench-rss') GROUP BY status) s" >"$WORK/command_runs"
		q bench -Atc "SELECT count(*) FROM cron_lock.contention WHERE job IN ('bench-cmd', 'bench-cmd-pool', 'bench-rss')" >"$WORK/command_busy"
	fi
fi

# --- the server's part of one cronlock run --------------------------------------
# pgbench -C: a new connection per transaction, as every cronlock run makes one.
CONNECT=$WORK/connect.tsv
printf 'workload\trep\tlatency_ms\n' >"$CONNECT"
quiet_server
for rep in $(seq 1 "$REPEAT"); do
	for script in connect_select1 connect_cycle; do
		out=$WORK/pgbench.$script.r$rep.txt
		pgbench_into "$out" -n -C -M extended -f "$HERE/$script.sql" -c 1 -T "$SECS" bench
		lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$out")
		printf '%s\t%s\t%s\n' "$script" "$rep" "$lat" >>"$CONNECT"
		log "$(printf '%-18s rep %s: %6.2f ms per new connection' "$script" "$rep" "$lat")"
	done
done

# --- facts and the report ------------------------------------------------------
FACTS=$WORK/facts.txt
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc=$(nproc)"
	echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "memory=$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
	echo "kernel=$(uname -sr)"
	echo "postgres=$(q bench -Atc 'SELECT version()' | sed 's/ on .*//')"
	echo "settings=$(q bench -Atc "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers', 'full_page_writes', 'wal_writer_flush_after', 'max_wal_size')")"
	echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- extension 2>/dev/null || echo ' (extension/ modified)')"
	so_end=$(md5sum "$PKGLIBDIR/cron_lock.so" | cut -c1-12)
	if [ "$so_end" = "$SO_START" ]; then
		echo "so=cron_lock.so md5 $SO_START, unchanged during the run"
	else
		echo "so=cron_lock.so REPLACED during the run ($SO_START -> $so_end): figures mix two builds"
	fi
	echo "load_start=$LOAD_START"
	echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "elapsed_s=$(($(date +%s) - START_EPOCH))"
	echo "seconds=$SECS"
	echo "repeat=$REPEAT"
	echo "clients=$CLIENTS"
	echo "jobs=$JOBS"
	echo "quick=$QUICK"
	echo "contention_seconds=$CONT_SECS"
	echo "contention_rows=$(cat "$WORK/contention_rows")"
	echo "cronlock=$CRONLOCK"
	echo "command_status=$(cat "$CMD_STATUS")"
	echo "command_runs=$(cat "$WORK/command_runs" 2>/dev/null)"
	echo "command_busy=$(cat "$WORK/command_busy" 2>/dev/null)"
	echo "command_pool_status=$(cat "$WORK/pool_status" 2>/dev/null)"
	echo "quiet_waits=$QUIET_WAITS"
} >"$FACTS"

python3 "$HERE/report.py" --work "$WORK" --out "$OUT" --chart "$CHART" \
	--findings "$HERE/FINDINGS.md"
# The raw figures, to regenerate the report (report.py --work DIR) without
# running again; the pgbench logs are summarised in contention_pct.tsv.
RAW=$HERE/out/last
[ "$QUICK" = 1 ] && RAW=$HERE/out/last-quick
rm -rf "$RAW"
mkdir -p "$RAW"
for f in "$WORK"/{results.tsv,contention_pct.tsv,connect.tsv,rss.tsv,wal.tsv,facts.txt} "$WORK"/command.*.json; do
	[ -f "$f" ] && cp "$f" "$RAW/"
done
log "done in $(($(date +%s) - START_EPOCH)) s: $OUT, $CHART"
