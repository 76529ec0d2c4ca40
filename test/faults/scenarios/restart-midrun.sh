#!/usr/bin/env bash
# Mid-run, the heartbeat's backend is terminated (pg_terminate_backend), the
# server is restarted fast, then crash-restarted (kill -9 of a backend): each
# time the heartbeat reconnects, the run completes with its one token, and
# tokens never go back.
source "$(dirname "$0")/../lib.sh"
need_cronlock

pg_new db || exit 1
DB=$(pg_tcp db)

cronlock run --job rm --db "$DB" -- true
is "a first run: token 1" 0 "$CL_RC"

cronlock_bg w run --job rm --ttl 6s --grace 1s --db "$DB" "${FAST[@]}" -- sh -c 'sleep 14; echo $CRONLOCK_TOKEN'
w=$BG_PID
ok "the run starts" wait_for 10 bash -c "grep -q CRON_RUN '$T/w.out'"
ok "a heartbeat goes through" wait_for 5 renewed_after db rm "$(heartbeat_ms db rm)"

# 1. pg_terminate_backend of every cronlock session
t=$(now_ms)
n=$(q db "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'cronlock%' AND pid <> pg_backend_pid()")
le "terminated the wrapper's backend(s)" 1 "$n"
ok "after pg_terminate_backend the heartbeat reconnects" wait_for 5 renewed_after db rm "$t"

# 2. fast restart
t=$(now_ms)
pg_ctl_ db -m fast -w -t 60 restart >/dev/null
ok "after a fast restart the heartbeat reconnects" wait_for 5 renewed_after db rm "$t"

# 3. crash restart: kill -9 of a backend makes the postmaster reset everything
bg victim psql -XAt -d "$DB" -c "SELECT pg_sleep(60)"
ok "a victim backend runs" wait_for 5 bash -c "[ -n \"\$(psql -XAt -d '$DB' -c \"SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'\")\" ]"
t=$(now_ms)
kill -9 "$(q db "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'")"
ok "the server went through crash recovery" wait_for 10 bash -c "grep -q 'all server processes terminated; reinitializing' '$T/db/server.log'"
ok "after a crash restart the heartbeat reconnects" wait_for 6 renewed_after db rm "$t"

wait_rc "$w" 30
is "the run completes: exit 0" 0 "$RC"
has_line "its COMMAND printed token 2" "$T/w.out" '^2$'
no_line "the lease was never lost" "$T/w.out" '\[CRON_LOST\]'
has_line "[CRON_DONE] status=succeeded" "$T/w.out" '\[CRON_DONE\].*status="?succeeded'
is "one run for token 2, succeeded" "1|succeeded" "$(q db "SELECT count(*), min(status) FROM cron_lock.job_runs WHERE job = 'rm' AND token = 2")"
cronlock run --job rm --db "$DB" -- sh -c 'echo $CRONLOCK_TOKEN'
is "the next run gets token 3 (tokens never go back)" 3 "$(cat "$CL_OUT")"
finish
