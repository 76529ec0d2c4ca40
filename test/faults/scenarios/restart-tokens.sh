#!/usr/bin/env bash
# Tokens never go back across fast restart, crash restart (immediate stop and
# kill -9 of a backend), and pg_terminate_backend; leases are not tied to a
# session, so a holder's lease survives all of them.  A session's own
# synchronous_commit = off does not weaken the durability of an acquisition.
source "$(dirname "$0")/../lib.sh"

pg_new db || exit 1
next() { q db "SELECT token FROM cron_lock_try('rt', 'A', '60s')"; }
rel() { q db "SELECT cron_lock_release('rt', $1)" >/dev/null; }

for i in 1 2 3; do t=$(next); rel "$t"; done
is "three acquisitions: tokens 1..3" 3 "$t"

pg_ctl_ db -m fast -w -t 60 restart >/dev/null
ok "fast restart: up again" wait_for 30 pg_up db
t=$(next)
is "after a fast restart the next token is 4" 4 "$t"

# Immediate stop = crash recovery on the next start; the held lease survives.
pg_ctl_ db -m immediate -w -t 60 stop >/dev/null
pg_ctl_ db -w -t 60 start >/dev/null
ok "crash restart: up again" wait_for 30 pg_up db
is "the lease held before the crash is still held with token 4" "held|4" \
	"$(q db "SELECT state, token FROM cron_lock.status WHERE job = 'rt'")"
isnt "its heartbeat from a new session works" "" "$(q db "SELECT cron_lock_heartbeat('rt', 4, '60s')")"
rel 4
is "next token 5" 5 "$(next)"

# kill -9 of a backend: the postmaster resets every backend and recovers.
bg victim psql -XAt -h "$T/db" -p "$(pg_port db)" -U postgres -d postgres -c "SELECT pg_sleep(60)"
ok "the victim backend runs" wait_for 5 bash -c "[ -n \"\$(psql -XAt -h '$T/db' -p $(pg_port db) -U postgres -d postgres -c \"SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'\")\" ]"
vpid=$(q db "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'")
kill -9 "$vpid"
ok "the server went through crash recovery" wait_for 30 bash -c "grep -q 'all server processes terminated; reinitializing' '$T/db/server.log'"
ok "up again after the crash" wait_for 30 pg_up db
is "the held lease (token 5) survived" "held|5" "$(q db "SELECT state, token FROM cron_lock.status WHERE job = 'rt'")"
rel 5

# pg_terminate_backend of the holder's session: the lease stays (no session lock).
bg holder psql -XAt -h "$T/db" -p "$(pg_port db)" -U postgres -d postgres \
	-c "SELECT token FROM cron_lock_try('rt', 'B', '60s')" -c "SELECT pg_sleep(60)"
ok "B holds the lease" wait_for 5 bash -c "[ \"\$(psql -XAt -h '$T/db' -p $(pg_port db) -U postgres -d postgres -c \"SELECT holder FROM cron_lock.status WHERE job = 'rt'\")\" = B ]"
hp=$(q db "SELECT backend_pid FROM cron_lock.status WHERE job = 'rt'")
is "terminate B's backend" t "$(q db "SELECT pg_terminate_backend($hp)")"
ok "status shows the backend gone" wait_for 5 bash -c "[ \"\$(psql -XAt -h '$T/db' -p $(pg_port db) -U postgres -d postgres -c \"SELECT backend_alive FROM cron_lock.status WHERE job = 'rt'\")\" = f ]"
is "the lease is still held by B with token 6" "held|B|6" "$(q db "SELECT state, holder, token FROM cron_lock.status WHERE job = 'rt'")"
isnt "B's heartbeat on a new session renews" "" "$(q db "SELECT cron_lock_heartbeat('rt', 6, '60s')")"
rel 6

# synchronous_commit = off in the session: the acquisition is still flushed
# before it answers, so an immediate stop right after cannot lose it.
lost=0
for i in 1 2 3; do
	t=$(psql -XAtq -h "$T/db" -p "$(pg_port db)" -U postgres -d postgres \
		-c "SET synchronous_commit = off" -c "SELECT token FROM cron_lock_try('dur$i', 'A', '60s')")
	pg_ctl_ db -m immediate -w -t 60 stop >/dev/null
	pg_ctl_ db -w -t 60 start >/dev/null
	[ "$(q db "SELECT token FROM cron_lock.leases WHERE job = 'dur$i' AND held")" = "$t" ] || lost=$((lost + 1))
done
is "acquisitions under synchronous_commit=off survive an immediate stop" 0 "$lost"
is "tokens strictly increase per job, never reissued" "0" \
	"$(q db "SELECT count(*) FROM (SELECT token - lag(token) OVER (ORDER BY run_id) AS d FROM cron_lock.job_runs WHERE job = 'rt') s WHERE d <> 1")"
is "timeline unchanged: no failover happened" 1 "$(q db "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int")"
finish
