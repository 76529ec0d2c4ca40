#!/usr/bin/env bash
# test/server/dump_restore.sh: history, run ids, tokens and grants survive
# pg_dump -Fc + pg_restore, into a new database of the same cluster and into
# a fresh cluster (CONTRACT 1.1, 1.3, 1.6).
source "$(dirname "$0")/lib.sh"

echo "# dump_restore"
new_cluster a "fsync = off" || exit 1
A=$ROOT/a

q "$A" postgres "CREATE DATABASE src" >/dev/null
q "$A" src "CREATE EXTENSION cron_lock" >/dev/null || {
	fail "create extension" "CREATE EXTENSION cron_lock failed"
	summary
}
q "$A" postgres "CREATE ROLE app LOGIN; GRANT cron_lock_user TO app; CREATE ROLE boss LOGIN; GRANT cron_lock_admin TO boss" >/dev/null

try() { # DIR DB JOB INSTANCE TTL [MIN_GAP] -> "acquired|reason|run_id|token|took_over"
	local gap=""
	[ -n "${6:-}" ] && gap=", min_gap => '$6'"
	q "$1" "$2" "SELECT acquired, reason, run_id, token, took_over FROM cron_lock_try('$3', '$4', '$5'$gap)"
}
expired() { # DIR DB JOB: the job's lease has expired by the server clock
	[ "$(q "$1" "$2" "SELECT expires_at < clock_timestamp() FROM cron_lock.leases WHERE job = '$3'")" = t ]
}

# --- history in src -------------------------------------------------------
# alpha: acquire, release, acquire again, then two other instances are busy.
try "$A" src alpha h1 1h >/dev/null
q "$A" src "SELECT cron_lock_release('alpha', 1)" >/dev/null
try "$A" src alpha h2 1h >/dev/null
check_eq "alpha: a second instance is told held" "f|held" "$(try "$A" src alpha h1 1h | cut -d'|' -f1,2)"
try "$A" src alpha h3 1h >/dev/null

# beta: a stale takeover (tiny ttl), then the old holder's late release and
# lost heartbeat.
try "$A" src beta h1 '50 milliseconds' >/dev/null
q "$A" src "SELECT pg_sleep(0.06)" >/dev/null
wait_for 10 "beta lease to expire" expired "$A" src beta
check_eq "beta: stale lease taken over" "t|took_over|2" \
	"$(try "$A" src beta h2 1h | cut -d'|' -f1,2,4)"
check_eq "beta: late release of the old token is refused" f \
	"$(q "$A" src "SELECT cron_lock_release('beta', 1, 'failed', 'finished late')")"
check_eq "beta: heartbeat of the old token is lost" "" \
	"$(q "$A" src "SELECT cron_lock_heartbeat('beta', 1, '1h')")"

# gamma: min_gap refuses a second start.
try "$A" src gamma h1 1h 1h >/dev/null
q "$A" src "SELECT cron_lock_release('gamma', 1)" >/dev/null
check_eq "gamma: too_soon" "f|too_soon" "$(try "$A" src gamma h2 1h 1h | cut -d'|' -f1,2)"

# delta: a late heartbeat renews an expired lease nobody took.
try "$A" src delta h1 '50 milliseconds' >/dev/null
q "$A" src "SELECT pg_sleep(0.06)" >/dev/null
wait_for 10 "delta lease to expire" expired "$A" src delta
check_true "delta: late heartbeat renews" \
	"$(q "$A" src "SELECT cron_lock_heartbeat('delta', 1, '1h') IS NOT NULL")"

# eps: many runs, then one held with an attempt id (replayed once).
for _ in 1 2 3 4 5; do
	t=$(try "$A" src eps h1 1h | cut -d'|' -f4)
	q "$A" src "SELECT cron_lock_release('eps', $t)" >/dev/null
done
q "$A" src "SELECT token FROM cron_lock_try('eps', 'h1', '1h', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')" >/dev/null
check_eq "eps: the same attempt is replayed" "replayed|6" \
	"$(q "$A" src "SELECT reason, token FROM cron_lock_try('eps', 'h1', '1h', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')")"

# A job name that needs quoting and is not ASCII.
q "$A" src "SELECT cron_lock_try('zeta/ü \"q\" ''x''', 'host ß', '1h')" >/dev/null

n_anom=$(q "$A" src "SELECT string_agg(DISTINCT kind, ',' ORDER BY kind) FROM cron_lock.anomaly_log")
check_eq "source history has every recorded anomaly kind" \
	"late_heartbeat,late_release,lost_heartbeat,stale_takeover" "$n_anom"
# 1.2: folded busy answers, a retention and expected instances survive too.
q "$A" src "SELECT cron_lock.sweep()" >/dev/null
q "$A" src "SELECT cron_lock_try('alpha', 'h3', '1h')" >/dev/null # busy: raw again
q "$A" src "SELECT cron_lock_retention('20 days', '90 days'); SELECT cron_lock_expect_instances(ARRAY['h1', 'h2'], 'alpha')" >/dev/null
check_true "source history has contention events, raw and folded" \
	"$(q "$A" src "SELECT count(*) >= 1 AND (SELECT sum(busy) >= 2 FROM cron_lock.contention_hourly) FROM cron_lock.contention")"

# --- canonical text of everything that must survive ------------------------
canon() { # DIR DB -> stdout
	local d=$1 db=$2
	echo "== job_runs"
	q "$d" "$db" "COPY (SELECT * FROM cron_lock.job_runs ORDER BY run_id) TO STDOUT"
	echo "== leases"
	q "$d" "$db" "COPY (SELECT * FROM cron_lock.leases ORDER BY job) TO STDOUT"
	echo "== contention"
	q "$d" "$db" "COPY (SELECT * FROM cron_lock.contention c ORDER BY c::text) TO STDOUT"
	echo "== anomaly_log"
	q "$d" "$db" "COPY (SELECT * FROM cron_lock.anomaly_log a ORDER BY a::text) TO STDOUT"
	echo "== contention_hourly, settings, expected_instances"
	q "$d" "$db" "COPY (SELECT * FROM cron_lock.contention_hourly c ORDER BY c::text) TO STDOUT"
	q "$d" "$db" "COPY (SELECT * FROM cron_lock.settings s ORDER BY s::text) TO STDOUT"
	q "$d" "$db" "COPY (SELECT * FROM cron_lock.expected_instances e ORDER BY e::text) TO STDOUT"
	echo "== run_id sequence"
	q "$d" "$db" "SELECT last_value, is_called FROM cron_lock.job_runs_run_id_seq"
	echo "== status (without backend_alive)"
	q "$d" "$db" "COPY (SELECT job, state, holder, token, run_id, backend_pid, acquired_at, heartbeat_at, expires_at FROM cron_lock.status ORDER BY job) TO STDOUT"
	echo "== anomalies (recorded)"
	q "$d" "$db" "COPY (SELECT * FROM cron_lock.anomalies a WHERE kind <> 'overlong_run' ORDER BY a::text) TO STDOUT"
	echo "== sightings"
	q "$d" "$db" "COPY (SELECT * FROM cron_lock.sightings ORDER BY job, instance) TO STDOUT"
	echo "== duplicates"
	q "$d" "$db" "COPY (SELECT * FROM cron_lock_duplicates('1 day')) TO STDOUT"
	echo "== acl"
	q "$d" "$db" "SELECT c.oid::regclass, c.relacl FROM pg_class c WHERE c.relnamespace = 'cron_lock'::regnamespace ORDER BY 1::text"
	q "$d" "$db" "SELECT p.oid::regprocedure, p.proacl FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e' ORDER BY 1::text"
}
canon "$A" src >"$ROOT/src.txt"
last_tokens=$(q "$A" src "SELECT job || '=' || token FROM cron_lock.leases ORDER BY job")

# --- dump ------------------------------------------------------------------
if pg_dump -h "$A" -p "$(port_of "$A")" -U postgres -Fc -f "$ROOT/src.dump" src 2>"$ROOT/dump.err"; then
	ok "pg_dump -Fc"
else
	fail "pg_dump -Fc" "$(cat "$ROOT/dump.err")"
	summary
fi

# The restored copy must answer like the original: same rows, tokens and
# run ids continue, views work, grants work.  FLOOR is the lowest next
# token: 1 in the same cluster; in another cluster (a new system
# identifier) a new token epoch starts at 2^32 + 1, so that tokens the
# source issued after the dump are never issued again.
verify_restored() { # LABEL DIR DB FLOOR
	local label=$1 d=$2 db=$3 floor=$4 j tok want max_run out
	canon "$d" "$db" >"$ROOT/$label.txt"
	check_same "$label: tables, sequence, views and grants equal the source" "$ROOT/src.txt" "$ROOT/$label.txt"

	check_true "$label: cron_lock.status answers, no restored backend counts as alive" \
		"$(q "$d" "$db" "SELECT count(*) = 6 AND NOT bool_or(coalesce(backend_alive, false)) FROM cron_lock.status")"

	max_run=$(q "$d" "$db" "SELECT max(run_id) FROM cron_lock.job_runs")
	while IFS='=' read -r j tok; do
		[ -n "$j" ] || continue
		local lit=${j//\'/\'\'}
		q "$d" "$db" "SELECT cron_lock_force_release('$lit')" >/dev/null
		out=$(q "$d" "$db" "SELECT acquired, token, run_id FROM cron_lock_try('$lit', 'after-restore', '1h')")
		want=$((tok + 1 > floor ? tok + 1 : floor))
		check_eq "$label: next token of job $j is max(last+1, $floor) ($want)" "t|$want" "$(cut -d'|' -f1,2 <<<"$out")"
		run=$(cut -d'|' -f3 <<<"$out")
		if [ -n "$run" ] && [ "$run" -gt "$max_run" ]; then
			ok "$label: new run_id $run of job $j is above every restored run_id ($max_run)"
		else
			fail "$label: new run_id of job $j is above every restored run_id" "got '$run', max restored $max_run"
		fi
		max_run=$((run > max_run ? run : max_run))
	done <<<"$last_tokens"
	check_eq "$label: a new job starts at token $floor" "t|$floor" \
		"$(q "$d" "$db" "SELECT acquired, token FROM cron_lock_try('brand-new', 'x', '1h')")"

	# Roles and grants.
	check_eq "$label: cron_lock_user member can call cron_lock_try" "t|acquired" \
		"$(q_as app "$d" "$db" "SELECT acquired, reason FROM cron_lock_try('app_job', 'app', '1h')" 2>&1)"
	check_true "$label: cron_lock_user member reads cron_lock.status" \
		"$(q_as app "$d" "$db" "SELECT count(*) > 0 FROM cron_lock.status" 2>&1)"
	sql_error "$d" "$db" "INSERT INTO cron_lock.leases VALUES ('forged', 1, 1, 'x', true, NULL, NULL, NULL, now(), now(), now())" app
	check_state "$label: cron_lock_user member cannot INSERT into cron_lock.leases" 42501
	sql_error "$d" "$db" "DELETE FROM cron_lock.leases" app
	check_state "$label: cron_lock_user member cannot DELETE from cron_lock.leases" 42501
	sql_error "$d" "$db" "SELECT cron_lock_force_release('app_job')" app
	check_state "$label: cron_lock_user member cannot force-release" 42501
	check_true "$label: cron_lock_admin member reads cron_lock.job_runs" \
		"$(q_as boss "$d" "$db" "SELECT count(*) > 0 FROM cron_lock.job_runs" 2>&1)"
	sql_error "$d" "$db" "UPDATE cron_lock.leases SET token = 1" boss
	check_state "$label: cron_lock_admin member cannot UPDATE cron_lock.leases" 42501
}

# --- restore into a new database of the same cluster ------------------------
q "$A" postgres "CREATE DATABASE dst" >/dev/null
if pg_restore --exit-on-error -h "$A" -p "$(port_of "$A")" -U postgres -d dst "$ROOT/src.dump" 2>"$ROOT/restore.err"; then
	ok "pg_restore into a new database"
	verify_restored same-cluster "$A" dst 1
else
	fail "pg_restore into a new database" "$(cat "$ROOT/restore.err")"
fi

# --- a plain-format dump replayed with psql -------------------------------------
q "$A" postgres "CREATE DATABASE dst_plain" >/dev/null
if pg_dump -h "$A" -p "$(port_of "$A")" -U postgres -Fp src 2>"$ROOT/dump-plain.err" |
	psql -X -q -h "$A" -p "$(port_of "$A")" -U postgres -d dst_plain -v ON_ERROR_STOP=1 >/dev/null 2>>"$ROOT/dump-plain.err"; then
	canon "$A" dst_plain >"$ROOT/plain.txt"
	check_same "plain-format dump replayed with psql equals the source" "$ROOT/src.txt" "$ROOT/plain.txt"
else
	fail "plain-format dump replayed with psql" "$(cat "$ROOT/dump-plain.err")"
fi

# --- the extension installed in another schema -----------------------------------
q "$A" postgres "CREATE DATABASE src_schema" >/dev/null
q "$A" src_schema "CREATE SCHEMA jobs; CREATE EXTENSION cron_lock SCHEMA jobs" >/dev/null
q "$A" src_schema "SELECT jobs.cron_lock_try('s', 'h', '1h'); SELECT jobs.cron_lock_release('s', 1); SELECT jobs.cron_lock_try('s', 'h', '1h')" >/dev/null
q "$A" postgres "CREATE DATABASE dst_schema" >/dev/null
if pg_dump -h "$A" -p "$(port_of "$A")" -U postgres -Fc -f "$ROOT/schema.dump" src_schema 2>"$ROOT/schema.err" &&
	pg_restore --exit-on-error -h "$A" -p "$(port_of "$A")" -U postgres -d dst_schema "$ROOT/schema.dump" 2>>"$ROOT/schema.err"; then
	check_eq "extension in schema jobs: restored into jobs, history kept, next token 3" "jobs|2|t|t|3" \
		"$(q "$A" dst_schema "SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'cron_lock'; SELECT count(*) FROM cron_lock.job_runs; SELECT jobs.cron_lock_release('s', 2); SELECT acquired, token FROM jobs.cron_lock_try('s', 'h', '1h')" 2>&1 | tr '\n' '|' | sed 's/|$//')"
else
	fail "extension in schema jobs: dump and restore" "$(cat "$ROOT/schema.err")"
fi

# --- restore into a fresh cluster (roles first, as pg_dumpall -r would) -----
new_cluster b "fsync = off" || exit 1
B=$ROOT/b
pg_dumpall -h "$A" -p "$(port_of "$A")" -U postgres --roles-only 2>/dev/null |
	grep -v -E '^(CREATE|ALTER) ROLE postgres( |;)' |
	psql -X -q -h "$B" -p "$(port_of "$B")" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null 2>"$ROOT/roles.err" ||
	fail "roles copied to the fresh cluster" "$(cat "$ROOT/roles.err")"
q "$B" postgres "CREATE DATABASE restored" >/dev/null
if pg_restore --exit-on-error -h "$B" -p "$(port_of "$B")" -U postgres -d restored "$ROOT/src.dump" 2>"$ROOT/restore-b.err"; then
	ok "pg_restore into a fresh cluster"
	verify_restored fresh-cluster "$B" restored $(((1 << 32) + 1))
else
	fail "pg_restore into a fresh cluster" "$(cat "$ROOT/restore-b.err")"
fi

summary
