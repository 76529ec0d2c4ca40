#!/usr/bin/env bash
# test/recipes/run.sh [RECIPE...]: the application recipes of docs/recipes/
# (node, neon = the Node recipe over Neon's WebSocket driver, python, java),
# run as a user runs them, against a throwaway cluster of their own with both
# editions: database recipes_ext has the C extension, recipes_sql the
# plain-SQL edition installed by a non-superuser owner (as on Neon or RDS).
#
# Per recipe and edition: two instances at once (one [CRON_RUN], one
# [CRON_SKIP] reason=BUSY, both exit 0); a lease lost mid-run (COMMAND
# stopped, exit 75); a paused job ([CRON_SKIP] reason=PAUSED); a fenced
# write refused with LK001 after a takeover (the recipe's own fenced-write
# helper; not for neon, whose code is the same module). Per recipe: SIGTERM
# to the wrapper (passed on, released as cancelled, 143; not for neon), a
# usage error (64), a missing database (78), the database stopped
# ([CRON_SKIP] reason=DB_UNAVAILABLE, exit 0, no stack trace), and the next
# tick runs.
# For neon: the incident, through a WebSocket-to-TCP proxy that drops the
# socket (1006) during connect and during the lock call, then a lost reply
# answered `replayed`. Ends with "N passed, N failed".
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
source test/lib/cluster.sh

recipes=("$@")
[ ${#recipes[@]} -eq 0 ] && recipes=(node neon python java)
export RECIPE_DIR=$repo/docs/recipes RECIPE_NODE_DIR=$repo/docs/recipes/node
jar=/usr/share/java/postgresql.jar
bin=${CRONLOCK_BIN:-$repo/build/client/cronlock}
edition_sql=$repo/build/sql-edition/cron_lock.sql
passed=0
failed=0
start=$SECONDS

check() {	# check NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		passed=$((passed + 1)); echo "ok   $1"
	else
		failed=$((failed + 1)); echo "FAIL $1: expected [$2], got [$3]"
	fi
}

finish() {
	echo "recipes: $((SECONDS - start))s"
	echo "$passed passed, $failed failed"
	[ $failed -eq 0 ]
	exit
}

# The Node recipe's packages, from its lockfile; skipped when node_modules
# already matches the lockfile (npm's own cache makes a fresh install quick).
node_deps() {
	local want stamp=$RECIPE_NODE_DIR/node_modules/.installed-from
	want=$(sha256sum "$RECIPE_NODE_DIR/package-lock.json" | cut -d' ' -f1)
	[ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
	(cd "$RECIPE_NODE_DIR" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null) &&
		echo "$want" >"$stamp"
}

for r in "${recipes[@]}"; do
	case $r in
	node | neon) command -v node >/dev/null && command -v npm >/dev/null ||
		{ check "$r: node and npm installed" yes no; finish; } ;;
	python) /usr/bin/python3 -c 'import psycopg' 2>/dev/null || { check "python: python3-psycopg installed" yes no; finish; } ;;
	java) command -v java >/dev/null && [ -r $jar ] || { check "java: JDK and $jar installed" yes no; finish; } ;;
	*) echo "unknown recipe $r (node, neon, python, java)"; check "recipe name" known "$r"; finish ;;
	esac
done
if [[ " ${recipes[*]} " == *" node "* || " ${recipes[*]} " == *" neon "* ]]; then
	t=$SECONDS
	node_deps || { check "npm ci from the lockfile" ok failed; finish; }
	echo "node packages ready ($((SECONDS - t))s)"
fi

dir=$(mktemp -d /tmp/cronlock-recipes.XXXXXX)
chmod 755 "$dir"
proxy_pid=
trap '[ -n "$proxy_pid" ] && kill $proxy_pid 2>/dev/null; cluster_stop "$dir/pg" immediate; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
cluster_create "$dir/pg" && cluster_start "$dir/pg" || { check "cluster starts" yes no; finish; }
port=$(cat "$dir/pg/port")
sup() { PGOPTIONS='-c client_min_messages=warning' psql -qXAt -v ON_ERROR_STOP=1 -h "$dir/pg" -p "$port" -U postgres "$@" 2>&1; }

# The plain-SQL edition first, by an owner without superuser (it creates the
# roles); then the C extension in its own database; the runners are role app.
sup -d postgres -c "CREATE ROLE app LOGIN" -c "CREATE ROLE db_owner LOGIN CREATEDB CREATEROLE" \
	-c "CREATE DATABASE recipes_sql OWNER db_owner" -c "CREATE DATABASE recipes_ext" >/dev/null
if [ -x "$bin" ]; then
	out=$("$bin" install --db "host=127.0.0.1 port=$port dbname=recipes_sql user=db_owner" 2>&1)
else
	out=$(psql -qX -v ON_ERROR_STOP=1 -1 -h 127.0.0.1 -p "$port" -U db_owner -d recipes_sql -f "$edition_sql" 2>&1)
fi
check "plain-SQL edition installed by the database owner" sql "$(sup -d recipes_sql -c "SELECT edition FROM cron_lock.edition()" || echo "$out")"
sup -d recipes_ext -c "CREATE EXTENSION cron_lock" >/dev/null
check "C extension installed" 1 "$(sup -d recipes_ext -c "SELECT count(*) FROM pg_extension WHERE extname = 'cron_lock'")"
sup -d postgres -c "GRANT cron_lock_user TO app" >/dev/null
for db in recipes_ext recipes_sql; do
	sup -d $db -c "CREATE TABLE public.fenced_log (job text, token bigint)" -c "GRANT INSERT, SELECT ON public.fenced_log TO app" >/dev/null
done

# The WebSocket proxy of the neon recipe (faults read from $dir/faults).
if [[ " ${recipes[*]} " == *" neon "* ]]; then
	: >"$dir/faults"
	node test/recipes/ws-proxy.mjs "$port" "$dir/proxy.port" "$dir/faults" >>"$dir/proxy.log" 2>&1 &
	proxy_pid=$!
	for _ in $(seq 100); do [ -s "$dir/proxy.port" ] && break; sleep 0.1; done
	check "neon: WebSocket proxy listening" yes "$([ -s "$dir/proxy.port" ] && echo yes || echo no)"
fi

# recipe_cmd RECIPE: the command line a user types, into array cmd.
recipe_cmd() {
	case $1 in
	node) cmd=(node docs/recipes/node/cron-job.mjs) ;;
	neon) cmd=(node docs/recipes/node/cron-job.mjs --driver neon --ws-proxy "127.0.0.1:$(cat "$dir/proxy.port")/v1") ;;
	python) cmd=(/usr/bin/python3 docs/recipes/python/cron_job.py) ;;
	java) cmd=(java -cp $jar docs/recipes/java/CronJob.java) ;;
	esac
}

# run OUT DB RECIPE ARGS...: one run in the foreground; rc in $rc.
run() {
	local out=$1 db=$2 r=$3
	shift 3
	recipe_cmd "$r"
	DATABASE_URL="postgres://app@127.0.0.1:$port/$db" "${cmd[@]}" "$@" >"$out" 2>&1
	rc=$?
}

# wait_for SECONDS CONDITION...: until CONDITION succeeds (polled every 0.1 s),
# at most SECONDS.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}
held() { [ "$(sup -d "$1" -c "SELECT state FROM cron_lock.status WHERE job = '$2'")" = held ]; }
expired() { [ "$(sup -d "$1" -c "SELECT clock_timestamp() > expires_at FROM cron_lock.leases WHERE job = '$2'")" = t ]; }
count() { grep -c -- "$1" "$2"; }
traces() { grep -cE '^\s+at |Traceback|Exception in thread|node:internal|UnhandledPromise' "$@" | awk -F: '{s += $NF} END {print s + 0}'; }

# Two instances at once: exactly one runs.
test_two() {
	local r=$1 db=$2 job="two.$1" d=$dir/$1.$2 a b ra rb
	mkdir -p "$d"
	local wait_cmd=(sh -c "while [ ! -e '$d/go' ]; do sleep 0.05; done")
	(run "$d/a.out" "$db" "$r" --job "$job" --instance a -- "${wait_cmd[@]}"; echo $rc >"$d/a.rc") &
	a=$!
	(run "$d/b.out" "$db" "$r" --job "$job" --instance b -- "${wait_cmd[@]}"; echo $rc >"$d/b.rc") &
	b=$!
	wait_for 60 eval '[ -e "$d/a.rc" ] || [ -e "$d/b.rc" ]'
	touch "$d/go"
	wait $a $b
	ra=$(cat "$d/a.rc"); rb=$(cat "$d/b.rc")
	check "$r/$db two at once: exactly one [CRON_RUN]" 1 "$(cat "$d/a.out" "$d/b.out" | count '^\[CRON_RUN\]' -)"
	check "$r/$db two at once: exactly one [CRON_SKIP] reason=BUSY" 1 "$(cat "$d/a.out" "$d/b.out" | count '^\[CRON_SKIP\].* reason=BUSY' -)"
	check "$r/$db two at once: both exit 0" "0 0" "$ra $rb"
	check "$r/$db two at once: one run recorded, succeeded" "1|succeeded" "$(sup -d "$db" -c "SELECT count(*), max(status) FROM cron_lock.job_runs WHERE job = '$job'")"
	[ "$ra $rb" = "0 0" ] || cat "$d/a.out" "$d/b.out"
}

# A lease lost mid-run: force-released by an admin; COMMAND stopped, exit 75.
test_lost() {
	local r=$1 db=$2 job="lost.$1" d=$dir/$1.$2 p t0
	mkdir -p "$d"
	(run "$d/lost.out" "$db" "$r" --job "$job" --instance l --ttl 9s -- sh -c "echo \$\$ >'$d/child.pid'; exec sleep 60"; echo $rc >"$d/lost.rc") &
	p=$!
	wait_for 60 eval '[ -s "$d/child.pid" ] && held "$db" "$job"'
	t0=$SECONDS
	sup -d "$db" -c "SELECT cron_lock_force_release('$job')" >/dev/null
	wait_for 30 eval '[ -e "$d/lost.rc" ]'
	check "$r/$db lease lost: exit 75" 75 "$(cat "$d/lost.rc" 2>/dev/null)"
	check "$r/$db lease lost: [CRON_LOST] why=heartbeat_null" 1 "$(count '^\[CRON_LOST\].* why=heartbeat_null' "$d/lost.out")"
	check "$r/$db lease lost: COMMAND stopped" gone "$(kill -0 "$(cat "$d/child.pid")" 2>/dev/null && echo running || echo gone)"
	check "$r/$db lease lost: within a heartbeat (3 s) or two" yes "$([ $((SECONDS - t0)) -le 8 ] && echo yes || echo "no ($((SECONDS - t0))s)")"
	check "$r/$db lease lost: run cancelled, the late release recorded" "cancelled|t" \
		"$(sup -d "$db" -c "SELECT status, reported_status IS NOT NULL FROM cron_lock.job_runs WHERE job = '$job'")"
	kill "$(cat "$d/child.pid")" 2>/dev/null
	wait $p 2>/dev/null
	[ "$(cat "$d/lost.rc" 2>/dev/null)" = 75 ] || cat "$d/lost.out"
}

# SIGTERM to the wrapper while COMMAND runs: passed to COMMAND, the run
# released as cancelled, exit 143.
test_signal() {
	local r=$1 db=$2 job="signal.$1" d=$dir/$1.$2 p
	mkdir -p "$d"
	rm -f "$d/wrapper.pid" "$d/sig.child.pid"
	(run "$d/signal.out" "$db" "$r" --job "$job" --instance s -- sh -c "echo \$PPID >'$d/wrapper.pid'; echo \$\$ >'$d/sig.child.pid'; exec sleep 60"; echo $rc >"$d/signal.rc") &
	p=$!
	wait_for 60 eval '[ -s "$d/sig.child.pid" ] && held "$db" "$job"'
	kill -TERM "$(cat "$d/wrapper.pid")"
	wait_for 30 eval '[ -e "$d/signal.rc" ]'
	check "$r/$db SIGTERM: exit 143, COMMAND stopped, run cancelled" "143|gone|cancelled" \
		"$(cat "$d/signal.rc" 2>/dev/null)|$(kill -0 "$(cat "$d/sig.child.pid")" 2>/dev/null && echo running || echo gone)|$(sup -d "$db" -c "SELECT status FROM cron_lock.job_runs WHERE job = '$job'")"
	kill "$(cat "$d/sig.child.pid")" 2>/dev/null
	wait $p 2>/dev/null
}

# A paused job: a logged skip (reason PAUSED), --on-busy's status, COMMAND not run.
test_paused() {
	local r=$1 db=$2 job="paused.$1" d=$dir/$1.$2
	mkdir -p "$d"
	sup -d "$db" -c "SELECT cron_lock_pause('$job')" >/dev/null
	run "$d/paused.out" "$db" "$r" --job "$job" --on-busy 3 -- touch "$d/paused-ran"
	check "$r/$db paused: [CRON_SKIP] reason=PAUSED, --on-busy status, COMMAND not run" "3|1|no" \
		"$rc|$(count '^\[CRON_SKIP\].* reason=PAUSED' "$d/paused.out")|$([ -e "$d/paused-ran" ] && echo yes || echo no)"
}

# A fenced write after a takeover: the stalled holder's write gets LK001.
test_fenced() {
	local r=$1 db=$2 job="fenced.$1" d=$dir/$1.$2 p
	mkdir -p "$d"
	rm -f "$d/go"
	case $r in
	node) cmd=(node test/recipes/fenced.mjs) ;;
	python) cmd=(/usr/bin/python3 test/recipes/fenced.py) ;;
	java) cmd=(java -cp "$jar:$dir/classes" FencedTest) ;;
	esac
	DATABASE_URL="postgres://app@127.0.0.1:$port/$db" "${cmd[@]}" "$job" "$d/go" >"$d/fenced.out" 2>&1 &
	p=$!
	wait_for 60 grep -q '^write1=ok' "$d/fenced.out"
	kill -STOP $p # stalled: no heartbeat, the lease expires
	wait_for 20 expired "$db" "$job"
	run "$d/taker.out" "$db" "$r" --job "$job" --instance taker -- true
	check "$r/$db fenced: another instance takes over" "0|1" "$rc|$(count '^\[CRON_RUN\].* reason=took_over' "$d/taker.out")"
	touch "$d/go"
	kill -CONT $p
	wait_for 30 eval '! kill -0 $p 2>/dev/null'
	wait $p 2>/dev/null
	check "$r/$db fenced: the stalled holder's write refused with LK001" 1 "$(count '^write2=LK001' "$d/fenced.out")"
	check "$r/$db fenced: only the write made under the lease is there" 1 "$(sup -d "$db" -c "SELECT count(*) FROM fenced_log WHERE job = '$job'")"
	check "$r/$db fenced: no stack trace" 0 "$(traces "$d/fenced.out")"
	grep -q '^write2=LK001' "$d/fenced.out" || cat "$d/fenced.out" "$d/taker.out"
}

# A usage error is 64; a database that does not exist is permanent: 78 at
# once. Python: psycopg gives no SQLSTATE for a refused startup (libpq keeps no
# result for it), so the recipe retries it and skips, naming the cause
# (docs/recipes/README.md says so).
test_errors() {
	local r=$1 d=$dir/$1.errors
	mkdir -p "$d"
	run "$d/usage.out" recipes_ext "$r" --instance x -- true
	check "$r usage error (no --job): 64" 64 "$rc"
	run "$d/missing.out" no_such_db "$r" --job missing --retries 1 --backoff 100ms -- touch "$d/ran"
	if [ "$r" = python ]; then
		check "$r missing database: retried, a logged skip naming it, COMMAND not run" "0|2|1|no" \
			"$rc|$(count '^\[CRON_LOCK\].*database \\"no_such_db\\" does not exist' "$d/missing.out")|$(count '^\[CRON_SKIP\].* reason=DB_UNAVAILABLE' "$d/missing.out")|$([ -e "$d/ran" ] && echo yes || echo no)"
	else
		check "$r missing database: 78, one try, [CRON_SKIP] reason=PERMANENT_ERROR, COMMAND not run" "78|1|1|no" \
			"$rc|$(count '^\[CRON_LOCK\].* error_class=database_missing' "$d/missing.out")|$(count '^\[CRON_SKIP\].* reason=PERMANENT_ERROR' "$d/missing.out")|$([ -e "$d/ran" ] && echo yes || echo no)"
	fi
	check "$r errors: no stack trace" 0 "$(traces "$d/usage.out" "$d/missing.out")"
}

# The database stopped: a logged skip, exit 0, no stack trace.
test_down() {
	local r=$1 d=$dir/$1.down
	mkdir -p "$d"
	run "$d/down.out" recipes_ext "$r" --job "down.$r" --retries 2 --backoff 100ms --jitter 50ms --connect-timeout 2s -- touch "$d/ran"
	check "$r database down: exit 0" 0 "$rc"
	check "$r database down: [CRON_SKIP] reason=DB_UNAVAILABLE" 1 "$(count '^\[CRON_SKIP\].* reason=DB_UNAVAILABLE' "$d/down.out")"
	check "$r database down: three tries logged" 3 "$(count '^\[CRON_LOCK\].* outcome=error' "$d/down.out")"
	check "$r database down: COMMAND did not run" no "$([ -e "$d/ran" ] && echo yes || echo no)"
	check "$r database down: no stack trace" 0 "$(traces "$d/down.out")"
	[ "$rc" = 0 ] || cat "$d/down.out"
}

test_next_tick() {
	local r=$1 d=$dir/$1.down
	run "$d/up.out" recipes_ext "$r" --job "down.$r" -- touch "$d/ran"
	check "$r database back: the next tick runs" "0|yes|1" "$rc|$([ -e "$d/ran" ] && echo yes || echo no)|$(count '^\[CRON_DONE\].* status=succeeded' "$d/up.out")"
}

# The incident: Neon's driver, its WebSocket dropped (1006) during connect and
# during the lock call on every try: a logged skip; the next tick runs; a lost
# reply is answered replayed (one attempt uuid), never a second lease.
test_incident() {
	local d=$dir/neon.incident db=recipes_sql
	mkdir -p "$d"
	echo connect,lock,connect >"$dir/faults"
	run "$d/1.out" $db neon --job incident --retries 2 --backoff 100ms --jitter 50ms -- touch "$d/ran"
	check "incident: exit 0" 0 "$rc"
	check "incident: the proxy dropped three sockets" "drop connect drop lock drop connect" "$(tr '\n' ' ' <"$dir/proxy.log" | sed 's/ $//')"
	check "incident: three tries, each an error" 3 "$(count '^\[CRON_LOCK\].* outcome=error' "$d/1.out")"
	check "incident: the driver saw close code 1006" 3 "$(count 'websocket closed with code 1006' "$d/1.out")"
	check "incident: [CRON_SKIP] reason=DB_UNAVAILABLE" 1 "$(count '^\[CRON_SKIP\].* reason=DB_UNAVAILABLE' "$d/1.out")"
	check "incident: COMMAND did not run, no lease taken" "no|0" "$([ -e "$d/ran" ] && echo yes || echo no)|$(sup -d $db -c "SELECT count(*) FROM cron_lock.job_runs WHERE job = 'incident'")"
	check "incident: no stack trace" 0 "$(traces "$d/1.out")"
	[ "$rc" = 0 ] || cat "$d/1.out"
	run "$d/2.out" $db neon --job incident -- touch "$d/ran"
	check "incident: the next tick runs normally" "0|yes|1" "$rc|$([ -e "$d/ran" ] && echo yes || echo no)|$(count '^\[CRON_DONE\].* status=succeeded' "$d/2.out")"
	: >"$dir/proxy.log"
	echo reply >"$dir/faults"
	run "$d/3.out" $db neon --job incident.reply --backoff 100ms -- true
	check "incident: the reply to the try was dropped" "drop reply" "$(cat "$dir/proxy.log")"
	check "incident: the retry is answered replayed" "0|1" "$rc|$(count '^\[CRON_RUN\].* reason=replayed' "$d/3.out")"
	check "incident: one lease, one run, succeeded" "1|succeeded" "$(sup -d $db -c "SELECT count(*), max(status) FROM cron_lock.job_runs WHERE job = 'incident.reply'")"
}

# C1 only and the serial collector: a short-lived JVM starts a third faster.
export JDK_JAVA_OPTIONS='-XX:TieredStopAtLevel=1 -XX:+UseSerialGC'
if [[ " ${recipes[*]} " == *" java "* ]]; then
	t=$SECONDS
	mkdir -p "$dir/classes"
	javac -d "$dir/classes" docs/recipes/java/CronJob.java test/recipes/FencedTest.java ||
		check "java: CronJob.java and FencedTest.java compile" yes no
	echo "java test classes compiled ($((SECONDS - t))s)"
fi

for r in "${recipes[@]}"; do
	for db in recipes_ext recipes_sql; do
		t=$SECONDS
		test_two "$r" $db
		test_lost "$r" $db
		test_paused "$r" $db
		[ $db = recipes_ext ] && [ "$r" != neon ] && test_signal "$r" $db
		[ "$r" = neon ] || test_fenced "$r" $db
		echo "--- $r/$db: $((SECONDS - t))s"
	done
done

for r in "${recipes[@]}"; do test_errors "$r"; done

# The database stopped, then started again.
cluster_stop "$dir/pg" fast
for r in "${recipes[@]}"; do test_down "$r"; done
cluster_start "$dir/pg" || check "cluster restarts" yes no
for r in "${recipes[@]}"; do test_next_tick "$r"; done
[[ " ${recipes[*]} " == *" neon "* ]] && test_incident

finish
