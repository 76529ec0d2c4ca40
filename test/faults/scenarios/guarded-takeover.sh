#!/usr/bin/env bash
# A holder that stops renewing loses its lease to a rival after the TTL; its
# guarded writes (cron_lock_check with the old token) are then rejected with
# LK001, its heartbeat answers NULL and its late release false.  A guarded
# transaction in progress holds off the takeover until it ends.
source "$(dirname "$0")/../lib.sh"

pg_new db || exit 1
q db "CREATE TABLE guarded (id bigserial PRIMARY KEY, job text, token bigint, at timestamptz DEFAULT clock_timestamp())"

# gw JOB TOKEN: one guarded write; prints the SQLSTATE on failure
gw() {
	psql -X -A -t -q -h "$T/db" -p "$(pg_port db)" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-v VERBOSITY=sqlstate -c "BEGIN" -c "SELECT cron_lock_check('$1', $2)" \
		-c "INSERT INTO guarded (job, token) VALUES ('$1', $2)" -c "COMMIT" 2>&1 |
		sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\).*/\1/p' | head -1
}
expired() { [ "$(q db "SELECT state FROM cron_lock.status WHERE job = '$1'")" = expired ]; }

t1=$(q db "SELECT token FROM cron_lock_try('g', 'A', '2s')")
is "A acquires token 1" 1 "$t1"
is "A's guarded write is accepted" "" "$(gw g "$t1")"
is "B is refused while A's lease is live" "f|held|A" "$(q db "SELECT acquired, reason, holder FROM cron_lock_try('g', 'B', '2s')")"

ok "A's lease expires (A stopped renewing)" wait_for 5 expired g
is "A's guarded write after expiry: LK001" LK001 "$(gw g "$t1")"
r=$(q db "SELECT acquired, reason, token, took_over FROM cron_lock_try('g', 'B', '30s')")
is "B takes over with token 2" "t|took_over|2|1" "$r"
is "A's guarded write after the takeover: LK001" LK001 "$(gw g "$t1")"
is "A's heartbeat answers NULL" "" "$(q db "SELECT cron_lock_heartbeat('g', $t1, '2s')")"
is "A's late release answers false" f "$(q db "SELECT cron_lock_release('g', $t1, 'succeeded')")"
is "A's run is expired, taken over by B, its late report kept" "expired|2|succeeded" \
	"$(q db "SELECT r.status, (SELECT token FROM cron_lock.job_runs WHERE run_id = r.taken_over_by), r.reported_status FROM cron_lock.job_runs r WHERE job = 'g' AND token = 1")"
is "B's guarded write is accepted" "" "$(gw g 2)"
is "the anomalies name the takeover, the lost heartbeat and the late release" \
	"late_release,lost_heartbeat,stale_takeover" \
	"$(q db "SELECT string_agg(DISTINCT kind, ',' ORDER BY kind) FROM cron_lock.anomalies WHERE job = 'g'")"
is "accepted writes never go back in token order" 0 \
	"$(q db "SELECT count(*) FROM guarded a JOIN guarded b ON a.job = b.job AND a.id < b.id AND a.token > b.token")"
is "no accepted write of token 1 after one of token 2" 0 \
	"$(q db "SELECT count(*) FROM guarded a WHERE token = 1 AND id > (SELECT min(id) FROM guarded WHERE token = 2)")"

# A guarded transaction in progress blocks the takeover (FOR KEY SHARE), not the
# holder's own heartbeat; the rival gets "locked" and never waits.
q db "SELECT cron_lock_release('g', 2)" >/dev/null
t3=$(q db "SELECT token FROM cron_lock_try('g', 'A', '2s')")
is "A acquires token 3" 3 "$t3"
bg guard psql -X -A -t -h "$T/db" -p "$(pg_port db)" -U postgres -d postgres -v ON_ERROR_STOP=1 \
	-c "BEGIN" -c "SELECT cron_lock_check('g', $t3)" \
	-c "SELECT pg_sleep(4)" -c "INSERT INTO guarded (job, token) VALUES ('g', $t3)" -c "COMMIT"
guard=$BG_PID
ok "the guarded transaction is in progress" wait_for 5 bash -c \
	"[ \"\$(psql -XAt -h '$T/db' -p $(pg_port db) -U postgres -d postgres -c \"SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' AND state = 'active' AND pid <> pg_backend_pid()\")\" = 1 ]"
isnt "A's own heartbeat still goes through" "" "$(q db "SELECT cron_lock_heartbeat('g', $t3, '1s')")"
ok "A's lease expires while the guarded transaction runs" wait_for 5 expired g
t0=$(now_ms)
is "B does not take over: locked" "f|locked" "$(q db "SELECT acquired, reason FROM cron_lock_try('g', 'B', '30s')")"
le "B was not made to wait" "$(($(now_ms) - t0))" 1000
wait_rc "$guard" 10
is "the guarded transaction committed" 0 "$RC"
is "then B takes over with token 4" "t|took_over|4" "$(q db "SELECT acquired, reason, token FROM cron_lock_try('g', 'B', '30s')")"
is "token order of accepted writes: 1,2,3" "1,2,3" "$(q db "SELECT string_agg(token::text, ',' ORDER BY id) FROM (SELECT DISTINCT ON (token) id, token FROM guarded ORDER BY token, id) s")"
is "accepted writes never go back in token order" 0 \
	"$(q db "SELECT count(*) FROM guarded a JOIN guarded b ON a.job = b.job AND a.id < b.id AND a.token > b.token")"
finish
