#!/usr/bin/env bash
# RST during acquire and the acquire's reply lost after COMMIT, at the SQL level
# through the fault proxy: a retry with the same attempt gets the same lease
# ("replayed"), never a second lease, and a request that never committed leaves
# no stranded lease.
source "$(dirname "$0")/../lib.sh"

pg_new db "client_connection_check_interval = 200ms" || exit 1
proxy_start px "$(pg_port db)" || exit 1
P="host=127.0.0.1 port=$(proxy_port px) user=postgres dbname=postgres connect_timeout=3"
A1=11111111-1111-4111-8111-111111111111
A2=22222222-2222-4222-8222-222222222222
A3=33333333-3333-4333-8333-333333333333

# 1. The reply of a committed acquisition is lost.
proxy px drop-reply-after "cron_lock_try('lost_reply'"
ok "in-doubt acquire: the client sees its connection fail" \
	bash -c "! psql -XAtd '$P' -c \"SELECT * FROM cron_lock_try('lost_reply', 'a', '60s', '$A1')\""
is "the proxy dropped one reply" 1 "$(proxy_stat px dropped)"
is "the acquisition committed: one running run" "1|running|$A1" \
	"$(q db "SELECT count(*), min(status), min(attempt::text) FROM cron_lock.job_runs WHERE job = 'lost_reply'")"
tok=$(q db "SELECT token FROM cron_lock.leases WHERE job = 'lost_reply'")
run=$(q db "SELECT run_id FROM cron_lock.leases WHERE job = 'lost_reply'")
is "retry with the same attempt: replayed, same run and token" "t|replayed|$run|$tok" \
	"$(qc "$P" "SELECT acquired, reason, run_id, token FROM cron_lock_try('lost_reply', 'a', '60s', '$A1')")"
is "still exactly one run" 1 "$(q db "SELECT count(*) FROM cron_lock.job_runs WHERE job = 'lost_reply'")"
is "a different attempt of the same instance is refused" "f|held" \
	"$(qc "$P" "SELECT acquired, reason FROM cron_lock_try('lost_reply', 'a', '60s', '$A2')")"
is "a rival is refused" "f|held|a" \
	"$(qc "$P" "SELECT acquired, reason, holder FROM cron_lock_try('lost_reply', 'b', '60s')")"

# 2. The reply of a committed release is lost: the retried release says true.
proxy px drop-reply-after "cron_lock_release('lost_reply'"
ok "in-doubt release: the client sees its connection fail" \
	bash -c "! psql -XAtd '$P' -c \"SELECT cron_lock_release('lost_reply', $tok)\""
is "the release committed" "succeeded" \
	"$(q db "SELECT status FROM cron_lock.job_runs WHERE run_id = $run")"
is "the retried release answers true" t "$(qc "$P" "SELECT cron_lock_release('lost_reply', $tok)")"
is "the retry changed nothing" "succeeded|1" \
	"$(q db "SELECT min(status), count(*) FROM cron_lock.job_runs WHERE job = 'lost_reply'")"

# 3. The heartbeat's reply is lost: the retried heartbeat still renews.
is "acquire again" "t|$((tok + 1))" "$(qc "$P" "SELECT acquired, token FROM cron_lock_try('lost_reply', 'a', '60s', '$A3')")"
proxy px drop-reply-after "cron_lock_heartbeat('lost_reply'"
ok "in-doubt heartbeat: the client sees its connection fail" \
	bash -c "! psql -XAtd '$P' -c \"SELECT cron_lock_heartbeat('lost_reply', $((tok + 1)), '60s')\""
isnt "the retried heartbeat renews" "" "$(qc "$P" "SELECT cron_lock_heartbeat('lost_reply', $((tok + 1)), '60s')")"

# 4. RST before the request reaches the server: nothing happened, the retry acquires.
proxy px reset-on "cron_lock_try('rst_before'"
ok "RST on send: the client sees its connection fail" \
	bash -c "! psql -XAtd '$P' -c \"SELECT * FROM cron_lock_try('rst_before', 'a', '60s', '$A1')\""
is "nothing was written" 0 "$(q db "SELECT count(*) FROM cron_lock.job_runs WHERE job = 'rst_before'")"
is "the retry acquires token 1" "t|acquired|1" \
	"$(qc "$P" "SELECT acquired, reason, token FROM cron_lock_try('rst_before', 'a', '60s', '$A1')")"

# 5. RST inside the caller's transaction, after the try, before COMMIT: the
#    transaction aborts and no lease is stranded.
bg midtx psql -XAt -d "$P application_name=midtx" \
	-c "BEGIN" -c "SELECT reason FROM cron_lock_try('rst_midtx', 'a', '60s', '$A2')" \
	-c "SELECT pg_sleep(20)" -c "COMMIT"
midtx=$BG_PID
ok "the transaction is inside its sleep" wait_for 10 bash -c \
	"[ \"\$(psql -XAt -h '$T/db' -p $(pg_port db) -U postgres -d postgres -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name='midtx' AND query LIKE '%pg_sleep%'\")\" = 1 ]"
is "a rival sees the row locked, not a lease" "f|locked" \
	"$(q db "SELECT acquired, reason FROM cron_lock_try('rst_midtx', 'b', '60s')")"
proxy px reset
wait_rc "$midtx" 5
isnt "RST mid-transaction: the client fails" 0 "$RC"
ok "the server notices and ends the backend" wait_for 10 bash -c \
	"[ \"\$(psql -XAt -h '$T/db' -p $(pg_port db) -U postgres -d postgres -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name='midtx'\")\" = 0 ]"
is "no stranded lease, no run" "0|0" \
	"$(q db "SELECT (SELECT count(*) FROM cron_lock.leases WHERE job = 'rst_midtx' AND held), (SELECT count(*) FROM cron_lock.job_runs WHERE job = 'rst_midtx')")"
is "the retry with the same attempt acquires (nothing to replay)" "t|acquired|1" \
	"$(qc "$P" "SELECT acquired, reason, token FROM cron_lock_try('rst_midtx', 'a', '60s', '$A2')")"

# 6. Many in-doubt acquisitions in a row: one run per attempt, tokens 1..N.
n=5
for i in $(seq 1 $n); do
	u=$(printf '%08d-0000-4000-8000-%012d' "$i" "$i")
	proxy px drop-reply-after "cron_lock_try('burst'"
	psql -XAtd "$P" -c "SELECT * FROM cron_lock_try('burst', 'a', '60s', '$u')" >/dev/null 2>&1
	r=$(qc "$P" "SELECT reason || ':' || token FROM cron_lock_try('burst', 'a', '60s', '$u')")
	[ "$r" = "replayed:$i" ] || log "burst $i: $r"
	qc "$P" "SELECT cron_lock_release('burst', $i)" >/dev/null
done
is "burst: one run per attempt, tokens 1..$n, all released" "$n|1|$n|$n" \
	"$(q db "SELECT count(*), min(token), max(token), count(*) FILTER (WHERE status = 'succeeded') FROM cron_lock.job_runs WHERE job = 'burst'")"
is "burst: every reply was dropped (and the reset-on fired)" "$((n + 4))" "$(proxy_stat px dropped)"
finish
