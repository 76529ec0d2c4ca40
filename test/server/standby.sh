#!/usr/bin/env bash
# test/server/standby.sh: on a streaming standby every writing function
# refuses with 25006 and a hint naming the primary, while the views and
# cron_lock_duplicates answer; after failover to that (asynchronous) standby
# the WAL timeline folded into the tokens keeps every new token above every
# token the old primary issued, including commits the standby never got
# (CONTRACT 1.1, 1.3, 1.5).
source "$(dirname "$0")/lib.sh"

echo "# standby"
new_cluster p "fsync = off" || exit 1
P=$ROOT/p
DB=postgres

q "$P" $DB "CREATE EXTENSION cron_lock; CREATE ROLE app LOGIN; GRANT cron_lock_user TO app" >/dev/null || {
	fail "create extension" "CREATE EXTENSION cron_lock failed"
	summary
}

LEDGER=$ROOT/ledger # "job token" for every acquisition the old primary answered
touch "$LEDGER"
acquire() { # DIR JOB INSTANCE TTL -> token
	local t
	t=$(q "$1" $DB "SELECT token FROM cron_lock_try('$2', '$3', '$4') WHERE acquired")
	[ -n "$t" ] && echo "$2 $t" >>"$LEDGER"
	echo "$t"
}
expired() { [ "$(q "$1" $DB "SELECT expires_at < clock_timestamp() FROM cron_lock.leases WHERE job = '$2'")" = t ]; }

# History on the primary: a job at token 3, a held job, two instances
# colliding, and a stale takeover (an anomaly).
for _ in 1 2; do
	t=$(acquire "$P" a h1 1h)
	q "$P" $DB "SELECT cron_lock_release('a', $t)" >/dev/null
done
acquire "$P" a h1 1h >/dev/null
acquire "$P" b h1 1h >/dev/null
q "$P" $DB "SELECT cron_lock_try('b', 'h2', '1h')" >/dev/null
q "$P" $DB "SELECT cron_lock_try('b', 'h3', '1h')" >/dev/null
acquire "$P" d h1 '50 milliseconds' >/dev/null
wait_for 10 "d to expire" expired "$P" d
acquire "$P" d h2 1h >/dev/null

# --- a streaming standby -------------------------------------------------------
# make_standby FROM NAME: pg_basebackup -R of FROM into $ROOT/NAME, with its
# own port and socket, started.
make_standby() {
	local from=$1 dir=$ROOT/$2
	CLUSTERS+=("$dir")
	if cluster_standby "$dir" "$from" >"$ROOT/$2.standby.log" 2>&1; then
		ok "$2: pg_basebackup -R"
	else
		fail "$2: pg_basebackup -R" "$(cat "$ROOT/$2.standby.log")"
		summary
	fi
	cluster_start "$dir" || {
		fail "$2: standby started" "$(tail -n 20 "$dir/server.log")"
		summary
	}
}
make_standby "$P" s
S=$ROOT/s

# The views the standby must serve, without what depends on the local
# process table or the clock of the query.
views() { # DIR
	echo "== status"
	q "$1" $DB "SELECT job, state, holder, token, run_id, backend_pid, acquired_at, heartbeat_at, expires_at FROM cron_lock.status ORDER BY job"
	echo "== anomalies"
	q "$1" $DB "SELECT kind, job, run_id, instance, detected_at, detail FROM cron_lock.anomalies WHERE kind <> 'overlong_run' ORDER BY 1, 2, 3"
	echo "== sightings"
	q "$1" $DB "SELECT * FROM cron_lock.sightings ORDER BY job, instance"
	echo "== duplicates"
	q "$1" $DB "SELECT * FROM cron_lock_duplicates('1 day')"
}
in_recovery() { [ "$(q "$1" $DB "SELECT pg_is_in_recovery()")" = t ]; }
caught_up() { # PRIMARY STANDBY
	local lsn
	lsn=$(q "$1" $DB "SELECT pg_current_wal_lsn()")
	[ "$(q "$2" $DB "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ]
}
wait_for 30 "the standby to be in recovery" in_recovery "$S" &&
	ok "standby is in recovery" || fail "standby is in recovery" "$(tail -n 20 "$S/server.log")"
wait_for 30 "the standby to replay everything" caught_up "$P" "$S" &&
	ok "standby replayed the primary's WAL" || fail "standby replayed the primary's WAL"

views "$P" >"$ROOT/views.primary"
views "$S" >"$ROOT/views.standby" 2>&1
check_same "standby: status, anomalies, sightings and duplicates answer as on the primary" \
	"$ROOT/views.primary" "$ROOT/views.standby"
check_true "standby: cron_lock.status answers with backend_alive" \
	"$(q "$S" $DB "SELECT count(*) = 3 AND bool_and(backend_alive IS NOT NULL) FROM cron_lock.status" 2>&1)"
check_true "standby: the duplicate runners of b are reported" \
	"$(q "$S" $DB "SELECT instance_ids = '{h1,h2,h3}' FROM cron_lock_duplicates('1 day') WHERE job = 'b'" 2>&1)"
check_true "standby: a cron_lock_user member reads status and anomalies" \
	"$(q_as app "$S" $DB "SELECT (SELECT count(*) FROM cron_lock.status) = 3 AND (SELECT count(*) FROM cron_lock.anomalies) > 0" 2>&1)"

# Every writing function refuses, with a hint that names the primary.
for call in \
	"cron_lock_try('a', 'standby', '1h')" \
	"cron_lock_try('never-seen', 'standby', '1h')" \
	"cron_lock_heartbeat('a', 3, '1h')" \
	"cron_lock_release('a', 3)" \
	"cron_lock_check('a', 3)" \
	"cron_lock_force_release('a')" \
	"cron_lock_force_release('a', 3)" \
	"cron_lock_prune('1 day')"; do
	sql_error "$S" $DB "SELECT * FROM $call"
	check_state "standby: $call fails with 25006" 25006
	if grep -q '^HINT:.*primary' <<<"$ERR_TEXT"; then
		ok "standby: $call hints at the primary"
	else
		fail "standby: $call hints at the primary" "$ERR_TEXT"
	fi
done
sql_error "$S" $DB "SELECT * FROM cron_lock_try('a', 'standby', '1h')" app
check_state "standby: cron_lock_try as a cron_lock_user member fails with 25006" 25006
views "$S" >"$ROOT/views.standby2" 2>&1
check_same "standby: the refused calls changed nothing" "$ROOT/views.primary" "$ROOT/views.standby2"

# --- failover to a standby that missed the last commits -----------------------
cluster_stop "$S" fast
for _ in 1 2; do
	t=$(q "$P" $DB "SELECT token FROM cron_lock.leases WHERE job = 'a'")
	q "$P" $DB "SELECT cron_lock_release('a', $t)" >/dev/null
	acquire "$P" a h1 1h >/dev/null
done
acquire "$P" lost h1 1h >/dev/null
check_eq "old primary issued a up to token 5 after the standby stopped" 5 \
	"$(q "$P" $DB "SELECT token FROM cron_lock.leases WHERE job = 'a'")"
cluster_stop "$P" fast
[ -f "$P/data/postmaster.pid" ] && fail "old primary stopped" || ok "old primary stopped"

cluster_start "$S" 2>/dev/null || {
	fail "standby restarted" "$(tail -n 20 "$S/server.log")"
	summary
}
wait_for 30 "the standby to be in recovery" in_recovery "$S"
check_eq "standby missed the last commits (a at token 3, no job lost)" "3|0" \
	"$(q "$S" $DB "SELECT (SELECT token FROM cron_lock.leases WHERE job = 'a'), (SELECT count(*) FROM cron_lock.leases WHERE job = 'lost')")"

if as_pg "$PG_BINDIR/pg_ctl" -D "$S/data" -w -t 60 promote >"$ROOT/promote.log" 2>&1; then
	ok "pg_ctl promote"
else
	fail "pg_ctl promote" "$(cat "$ROOT/promote.log")"
fi
not_in_recovery() { [ "$(q "$1" $DB "SELECT pg_is_in_recovery()")" = f ]; }
wait_for 30 "the promoted standby to leave recovery" not_in_recovery "$S" &&
	ok "promoted standby left recovery" || fail "promoted standby left recovery"
q "$S" $DB "CHECKPOINT" >/dev/null
check_eq "new primary is on timeline 2" 2 "$(q "$S" $DB "SELECT timeline_id FROM pg_control_checkpoint()")"

# Every next token is above every token issued before, on either side.
ever_max=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$LEDGER")
floor=$(((1 << 32) + 1))
for j in a b d lost; do
	job_max=$(awk -v j="$j" '$1 == j && $2 > m { m = $2 } END { print m + 0 }' "$LEDGER")
	q "$S" $DB "SELECT cron_lock_force_release('$j')" >/dev/null
	out=$(q "$S" $DB "SELECT acquired, token FROM cron_lock_try('$j', 'new-primary', '1h')" 2>&1)
	tok=${out#t|}
	if [[ $out == t\|* ]] && [ "$tok" -ge "$floor" ] && [ "$tok" -gt "$job_max" ] && [ "$tok" -gt "$ever_max" ]; then
		ok "new primary: job $j token $tok >= 2^32+1 and above every earlier token ($job_max for $j, $ever_max overall)"
	else
		fail "new primary: job $j next token folds the timeline" \
			"got '$out', want acquired with token >= $floor and > $job_max (job) and > $ever_max (all)"
	fi
done
check_eq "new primary: tokens then go up by one" "t|$((floor + 1))" \
	"$(q "$S" $DB "SELECT cron_lock_release('a', $floor); SELECT acquired, token FROM cron_lock_try('a', 'new-primary', '1h')" | tail -n 1)"
check_true "new primary: heartbeat works" \
	"$(q "$S" $DB "SELECT cron_lock_heartbeat('a', $((floor + 1)), '1h') IS NOT NULL")"
check_true "new primary: token stays below 2^53" \
	"$(q "$S" $DB "SELECT max(token) < 2::numeric ^ 53 FROM cron_lock.job_runs")"

# --- a second failover: timeline 3 folds above everything of timeline 2 ------------
tl2_max=$(q "$S" $DB "SELECT max(token) FROM cron_lock.job_runs")
make_standby "$S" s2
S2=$ROOT/s2
wait_for 30 "the second standby to replay everything" caught_up "$S" "$S2" ||
	fail "s2: replayed the new primary's WAL"
cluster_stop "$S" fast
if as_pg "$PG_BINDIR/pg_ctl" -D "$S2/data" -w -t 60 promote >"$ROOT/promote2.log" 2>&1 &&
	wait_for 30 "s2 to leave recovery" not_in_recovery "$S2"; then
	ok "s2: promoted"
else
	fail "s2: promoted" "$(cat "$ROOT/promote2.log")"
fi
q "$S2" $DB "CHECKPOINT" >/dev/null
check_eq "s2: timeline 3" 3 "$(q "$S2" $DB "SELECT timeline_id FROM pg_control_checkpoint()")"
floor3=$(((2 << 32) + 1))
q "$S2" $DB "SELECT cron_lock_force_release('a')" >/dev/null
out=$(q "$S2" $DB "SELECT acquired, token FROM cron_lock_try('a', 'third', '1h')" 2>&1)
tok=${out#t|}
if [[ $out == t\|* ]] && [ "$tok" -ge "$floor3" ] && [ "$tok" -gt "$tl2_max" ]; then
	ok "s2: token $tok >= 2^33+1 and above every token of timelines 1 and 2 ($tl2_max)"
else
	fail "s2: the next token folds timeline 3" "got '$out', want >= $floor3 and > $tl2_max"
fi

summary
