# test/faults/lib.sh: shared helpers of the fault-injection scenarios.
#
# Source it from a scenario (bash).  It creates a private temp dir $T, and a
# trap that stops everything started through these helpers (clusters, proxies,
# PgBouncers, background processes) however the scenario ends.
#
#   pg_new NAME [extra postgresql.conf lines]   create, start, CREATE EXTENSION;
#                                 sets nothing global: use pg_port/pg_dir NAME
#   pg_dir NAME / pg_port NAME    cluster directory / TCP port
#   q NAME SQL                    psql -XAt on the cluster's socket, stop on error
#   qc CONNINFO SQL               psql -XAt on any conninfo
#   proxy_start NAME TARGET_PORT  start a faultproxy; proxy_port NAME; proxy NAME CMD...
#   bouncer_start NAME TARGET_PORT [POOL_MODE] [POOL_SIZE]; bouncer_port NAME
#   bg NAME CMD...                start CMD in the background, remember its pid
#   wait_for TIMEOUT CMD...       poll CMD every 0.1s until it succeeds or TIMEOUT s pass
#   cronlock ARGS...              run $CRONLOCK_BIN with a hard timeout; sets CL_RC,
#                                 CL_LOG (stderr file), CL_MS (wall time)
#   wait_rc PID [TIMEOUT]        reap a bg child, status in RC
#   ok DESC CMD... / is DESC WANT GOT / isnt / le DESC A B / skip DESC WHY
#   finish                        print "N passed, N failed" and exit 0 or 1

set -uo pipefail

REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=../lib/cluster.sh
source "$REPO/test/lib/cluster.sh"

CRONLOCK_BIN=${CRONLOCK_BIN:-$REPO/build/client/cronlock}
FAULTPROXY=${FAULTPROXY:-$REPO/build/faults/faultproxy}
SCENARIO=${SCENARIO:-$(basename "${0%.sh}")}
PASSED=0
FAILED=0
SKIPPED=0

T=$(mktemp -d "${TMPDIR:-/tmp}/cronlock-faults.XXXXXX")
chmod 755 "$T"
: >"$T/.pids"
: >"$T/.clusters"
: >"$T/.bouncers"

# log MSG: a trace line, on stderr with FAULTS_VERBOSE=1, always in $T/trace.log
log() {
	printf '[%s] %s\n' "$SCENARIO" "$*" >>"$T/trace.log"
	[ "${FAULTS_VERBOSE:-0}" = 1 ] && printf '[%s] %s\n' "$SCENARIO" "$*" >&2
	return 0
}

faults_cleanup() {
	local pid dir pidfile
	# Paused processes first get SIGCONT, so that SIGTERM can act.
	while read -r pid; do
		[ -n "$pid" ] || continue
		kill -CONT "$pid" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null
	done <"$T/.pids"
	while read -r pidfile; do
		[ -f "$pidfile" ] && kill -TERM "$(cat "$pidfile")" 2>/dev/null
	done <"$T/.bouncers"
	while read -r dir; do
		[ -n "$dir" ] || continue
		if [ -f "$dir/data/postmaster.pid" ]; then
			pid=$(head -1 "$dir/data/postmaster.pid")
			kill -CONT "$pid" 2>/dev/null
			pkill -CONT -P "$pid" 2>/dev/null
		fi
		cluster_stop "$dir" immediate
	done <"$T/.clusters"
	sleep 0.2
	while read -r pid; do
		[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	done <"$T/.pids"
	if [ "${FAULTS_KEEP:-0}" = 1 ] || { [ "$FAILED" -gt 0 ] && [ "${FAULTS_KEEP_FAILED:-0}" = 1 ]; }; then
		echo "[$SCENARIO] kept $T" >&2
	else
		rm -rf "$T"
	fi
}
trap faults_cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- assertions

ok() {
	local desc=$1
	shift
	if "$@" >/dev/null 2>&1; then
		PASSED=$((PASSED + 1))
		echo "ok - $SCENARIO: $desc"
	else
		FAILED=$((FAILED + 1))
		echo "not ok - $SCENARIO: $desc (command: $*)"
	fi
}

is() {
	local desc=$1 want=$2 got=$3
	if [ "$want" == "$got" ]; then
		PASSED=$((PASSED + 1))
		echo "ok - $SCENARIO: $desc"
	else
		FAILED=$((FAILED + 1))
		echo "not ok - $SCENARIO: $desc: want [$want], got [$got]"
	fi
}

isnt() {
	local desc=$1 unwanted=$2 got=$3
	if [ "$unwanted" != "$got" ]; then
		PASSED=$((PASSED + 1))
		echo "ok - $SCENARIO: $desc"
	else
		FAILED=$((FAILED + 1))
		echo "not ok - $SCENARIO: $desc: got [$got]"
	fi
}

# le DESC A B: integer A <= B
le() {
	local desc=$1 a=$2 b=$3
	if [[ "$a" =~ ^-?[0-9]+$ && "$b" =~ ^-?[0-9]+$ ]] && [ "$a" -le "$b" ]; then
		PASSED=$((PASSED + 1))
		echo "ok - $SCENARIO: $desc ($a <= $b)"
	else
		FAILED=$((FAILED + 1))
		echo "not ok - $SCENARIO: $desc: want [$a] <= [$b]"
	fi
}

# has_line DESC FILE REGEX: FILE has a line matching the extended regex
has_line() {
	local desc=$1 file=$2 re=$3
	if grep -Eq -- "$re" "$file" 2>/dev/null; then
		PASSED=$((PASSED + 1))
		echo "ok - $SCENARIO: $desc"
	else
		FAILED=$((FAILED + 1))
		echo "not ok - $SCENARIO: $desc: no line matching /$re/ in $(basename "$file"):"
		sed 's/^/    | /' "$file" 2>/dev/null | tail -n 25
	fi
}

no_line() {
	local desc=$1 file=$2 re=$3
	if ! grep -Eq -- "$re" "$file" 2>/dev/null; then
		PASSED=$((PASSED + 1))
		echo "ok - $SCENARIO: $desc"
	else
		FAILED=$((FAILED + 1))
		echo "not ok - $SCENARIO: $desc: found /$re/ in $(basename "$file"):"
		grep -E -- "$re" "$file" | sed 's/^/    | /' | head -n 10
	fi
}

skip() {
	SKIPPED=$((SKIPPED + 1))
	echo "skip - $SCENARIO: $1 ($2)"
}

finish() {
	# Any sanitizer report or core dump from a cronlock run is a failure.
	if [ "${USED_CRONLOCK:-0}" = 1 ]; then
		local reports
		reports=$(grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T"/*.log "$T"/*.out 2>/dev/null)
		if [ -z "$reports" ]; then
			PASSED=$((PASSED + 1))
			echo "ok - $SCENARIO: no sanitizer report in any cronlock log"
		else
			FAILED=$((FAILED + 1))
			echo "not ok - $SCENARIO: sanitizer reports in: $reports"
			grep -hE -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' $reports | head -60 | sed 's/^/    | /'
		fi
	fi
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}

# Call at the top of scenarios that need the cronlock command.
need_cronlock() {
	USED_CRONLOCK=1
	if [ ! -x "$CRONLOCK_BIN" ]; then
		FAILED=$((FAILED + 1))
		echo "not ok - $SCENARIO: cronlock binary missing at $CRONLOCK_BIN"
		finish
	fi
}

# ---------------------------------------------------------------- waiting

# wait_for TIMEOUT CMD...: 0 as soon as CMD succeeds, 1 after TIMEOUT seconds.
wait_for() {
	local timeout=$1
	shift
	local limit
	limit=$(($(date +%s%3N) + $(awk -v t="$timeout" 'BEGIN { printf "%d", t * 1000 }')))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(date +%s%3N)" -ge "$limit" ] && return 1
		sleep 0.1
	done
}

now_ms() { date +%s%3N; }

# ---------------------------------------------------------------- PostgreSQL

pg_dir() { echo "$T/$1"; }
pg_port() { cat "$T/$1/port"; }
pg_pid() { head -1 "$T/$1/data/postmaster.pid" 2>/dev/null; }

# pg_new NAME [CONF_LINE...]: a fresh cluster with the extension installed.
pg_new() {
	local name=$1 dir=$T/$1
	shift
	cluster_create "$dir" || return 1
	echo "$dir" >>"$T/.clusters"
	local line
	for line in "$@"; do
		echo "$line" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
	done
	cluster_start "$dir" || return 1
	q "$name" "CREATE EXTENSION cron_lock" >/dev/null
}

# pg_conf NAME LINE...: append to postgresql.conf (takes effect on reload/restart)
pg_conf() {
	local dir=$T/$1 line
	shift
	for line in "$@"; do
		echo "$line" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
	done
}

pg_ctl_() {
	local name=$1
	shift
	as_pg "$PG_BINDIR/pg_ctl" -D "$T/$name/data" -l "$T/$name/server.log" "$@"
}

# q NAME SQL: one psql call on the cluster's unix socket.
q() {
	psql -X -A -t -q -v ON_ERROR_STOP=1 -h "$T/$1" -p "$(pg_port "$1")" -U postgres -d postgres -c "$2"
}

# qc CONNINFO SQL
qc() {
	psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

pg_up() { q "$1" "SELECT 1" >/dev/null 2>&1; }

# pg_tcp NAME [USER]: a TCP conninfo for the cluster
pg_tcp() { echo "host=127.0.0.1 port=$(pg_port "$1") user=${2:-postgres} dbname=postgres"; }

# issue_tokens NAME JOB N: N runs of JOB by instance A, each taken and released.
issue_tokens() {
	local i t
	for i in $(seq "$3"); do
		t=$(q "$1" "SELECT token FROM cron_lock_try('$2', 'A', '60s')")
		q "$1" "SELECT cron_lock_release('$2', $t)" >/dev/null
	done
}

# heartbeat_ms NAME JOB: when JOB's lease was last renewed (ms since the epoch; 0 if unreadable)
heartbeat_ms() {
	q "$1" "SELECT (extract(epoch FROM heartbeat_at) * 1000)::bigint FROM cron_lock.leases WHERE job = '$2'" 2>/dev/null || echo 0
}

# renewed_after NAME JOB MS: JOB's lease was renewed after MS
renewed_after() { [ "$(heartbeat_ms "$1" "$2")" -gt "$3" ]; }

# Client options for short faults: few, quick retries.
FAST=(--retries 2 --backoff 100ms --jitter 50ms --connect-timeout 1s --preflight-timeout 1s)

# ---------------------------------------------------------------- processes

# bg NAME CMD...: run CMD in the background, output in $T/NAME.out; prints nothing.
# The pid is in $BG_PID and remembered for cleanup.
bg() {
	local name=$1
	shift
	"$@" >"$T/$name.out" 2>&1 &
	BG_PID=$!
	echo "$BG_PID" >>"$T/.pids"
}

alive() { kill -0 "$1" 2>/dev/null; }

# state PID: the process state letter (R S D T Z ...), empty when gone
pstate() { ps -o stat= -p "$1" 2>/dev/null | cut -c1; }

# ---------------------------------------------------------------- the proxy

build_proxy() {
	"$REPO/test/faults/build.sh" >/dev/null || {
		echo "not ok - $SCENARIO: cannot build the fault proxy"
		FAILED=$((FAILED + 1))
		finish
	}
}

proxy_port() { cat "$T/$1.proxyport"; }

# proxy_start NAME TARGET_PORT
proxy_start() {
	local name=$1 target=$2 port
	[ -x "$FAULTPROXY" ] || build_proxy
	port=$(free_port)
	"$FAULTPROXY" --listen "127.0.0.1:$port" --target "127.0.0.1:$target" \
		--control "$T/$name.sock" >"$T/$name.proxy.log" 2>&1 &
	echo $! >>"$T/.pids"
	echo "$port" >"$T/$name.proxyport"
	wait_for 5 "$FAULTPROXY" --ctl "$T/$name.sock" stats || {
		log "proxy $name did not start"
		cat "$T/$name.proxy.log" >&2
		return 1
	}
}

# proxy NAME COMMAND [ARG]: send one control command; fails unless answered ok
proxy() {
	local name=$1
	shift
	"$FAULTPROXY" --ctl "$T/$name.sock" "$@" >/dev/null
}

proxy_stat() { "$FAULTPROXY" --ctl "$T/$1.sock" stats | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# ---------------------------------------------------------------- PgBouncer

bouncer_port() { cat "$T/$1.bouncer/port"; }

# bouncer_start NAME TARGET_PORT [POOL_MODE] [POOL_SIZE]: database postgres of the
# cluster on TARGET_PORT, over loopback TCP.
bouncer_start() {
	echo "$T/$1.bouncer/pgbouncer.pid" >>"$T/.bouncers"
	pgbouncer_start "$T/$1.bouncer" "postgres = host=127.0.0.1 port=$2 dbname=postgres" "${@:3}"
}

bouncer_stop() { pgbouncer_stop "$T/$1.bouncer"; }

# ---------------------------------------------------------------- cronlock

# cronlock [--timeout S] ARGS...: run the command under test and record the result.
# CL_RC exit status, CL_LOG its stderr, CL_OUT its stdout, CL_MS its wall time.
CL_N=0
cronlock() {
	local limit=120
	if [ "${1:-}" = --timeout ]; then
		limit=$2
		shift 2
	fi
	# The scenarios read the log lines: stderr, never syslog (--log-to auto on a host
	# with /dev/log).
	[ "${1:-}" = run ] && set -- run --log-to stderr "${@:2}"
	CL_N=$((CL_N + 1))
	CL_LOG=$T/cronlock.$CL_N.log
	CL_OUT=$T/cronlock.$CL_N.out
	local t0
	t0=$(now_ms)
	timeout -k 5 "$limit" "$CRONLOCK_BIN" "$@" >"$CL_OUT" 2>"$CL_LOG"
	CL_RC=$?
	CL_MS=$(($(now_ms) - t0))
	log "cronlock $* -> rc=$CL_RC in ${CL_MS}ms"
}

# cronlock_bg NAME ARGS...: start cronlock in the background; $BG_PID; its
# stderr in $T/NAME.out.  Collect the status with: wait_rc PID
cronlock_bg() {
	local name=$1
	shift
	[ "${1:-}" = run ] && set -- run --log-to stderr "${@:2}"
	bg "$name" "$CRONLOCK_BIN" "$@"
}

# wait_rc PID [TIMEOUT]: wait for a background child (started by bg in this
# shell, not in a subshell) and set RC to its exit status, or "timeout".
wait_rc() {
	local pid=$1 timeout=${2:-60}
	if wait_for "$timeout" bash -c "! kill -0 $pid 2>/dev/null || [ \"\$(ps -o stat= -p $pid | cut -c1)\" = Z ]"; then
		{ wait "$pid"; } 2>/dev/null
		RC=$?
	else
		RC=timeout
	fi
}

# A logfmt field of the first line with TAG in FILE: field FILE TAG KEY
field() {
	grep -F -- "[$2]" "$1" | head -1 | grep -oE "(^| )$3=(\"[^\"]*\"|[^ ]*)" | head -1 |
		sed -E "s/^ ?$3=//; s/^\"//; s/\"$//"
}

# The pid of the process whose command line matches REGEX and whose parent is PPID.
child_of() { pgrep -P "$1" -f "$2" | head -1; }

# ---------------------------------------------------------------- standbys

# pg_standby NAME PRIMARY [VIA_PORT]: a streaming standby of PRIMARY made with
# pg_basebackup -R, on its own port and socket dir, application_name NAME.
# VIA_PORT: stream WAL through that port (a fault proxy) instead.
pg_standby() {
	local name=$1 primary=$2 via=${3:-} dir=$T/$1
	echo "$dir" >>"$T/.clusters"
	cluster_standby "$dir" "$T/$primary" "$via" || return 1
	cluster_start "$dir" || return 1
	wait_for 30 bash -c "[ \"\$(psql -XAt -h '$T/$primary' -p $(pg_port "$primary") -U postgres -d postgres -c \"SELECT count(*) FROM pg_stat_replication WHERE application_name = '$name' AND state = 'streaming'\")\" = 1 ]"
}

# replayed NAME PRIMARY: the standby has replayed everything the primary wrote so far
caught_up() {
	local lsn
	lsn=$(q "$2" "SELECT pg_current_wal_lsn()") || return 1
	wait_for 20 bash -c "[ \"\$(psql -XAt -h '$T/$1' -p $(pg_port "$1") -U postgres -d postgres -c \"SELECT pg_last_wal_replay_lsn() >= '$lsn'\")\" = t ]"
}

# pg_kill9 NAME: SIGKILL the postmaster (children notice and exit on their own)
pg_kill9() {
	local pid
	pid=$(pg_pid "$1")
	[ -n "$pid" ] && kill -9 "$pid"
	wait_for 15 bash -c "! psql -XAt -h 127.0.0.1 -p $(pg_port "$1") -U postgres -d postgres -c 'SELECT 1'"
}

# sqlstate NAME|CONNINFO SQL: the SQLSTATE of the error SQL raises (empty if none)
sqlstate() {
	local target=$1
	[ -d "$T/$1" ] && target="host=$T/$1 port=$(pg_port "$1") user=postgres dbname=postgres"
	psql -X -A -t -q -d "$target" -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -c "$2" 2>&1 |
		sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\).*/\1/p' | head -1
}

# soak_tables: the DDL of the soak checker's input tables (soak_hist is made earlier)
soak_tables() {
	cat <<'DDL'
CREATE TABLE soak_attempts (attempt text PRIMARY KEY, instance text, job text, rc int,
	t0_ms bigint, t1_ms bigint, run_ts timestamptz, token bigint, lost_ts timestamptz,
	done_ts timestamptz, done_status text, skip_reason text, sanitizer int, stopped int, killed int,
	cmd_start_ms bigint, cmd_end_ms bigint);
CREATE TABLE soak_faults (kind text, t0_ms bigint, t1_ms bigint, attempt text);
DDL
}
