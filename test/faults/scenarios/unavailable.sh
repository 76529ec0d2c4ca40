#!/usr/bin/env bash
# The database cannot be reached at connect time: a refused port, a stopped
# server, a black hole, a frozen (SIGSTOPped) postmaster.  Each gives bounded
# retries, a logged DB_UNAVAILABLE skip and exit 0 (or --on-unavailable), and
# COMMAND never runs.  Then faults at acquire time through the proxy: a frozen
# reply (client deadline, cancel), a lost reply after COMMIT, a reset request:
# the retry with the same attempt gets the same lease and COMMAND runs once.
source "$(dirname "$0")/../lib.sh"
need_cronlock

pg_new db || exit 1
proxy_start px "$(pg_port db)" || exit 1
dead=$(free_port)
M=$T/marker

# skipped DESC: the last cronlock run was a DB_UNAVAILABLE skip with exit 0 and COMMAND never ran
skipped() {
	is "$1: exit 0" 0 "$CL_RC"
	has_line "$1: [CRON_SKIP] reason=DB_UNAVAILABLE" "$CL_LOG" '\[CRON_SKIP\].*reason="?DB_UNAVAILABLE'
	ok "$1: COMMAND did not run" test ! -e "$M"
}

# 1. Refused port, default retry policy: 6 tries, 250ms..4s backoff (+ <250ms jitter each).
cronlock run --job u1 --db "host=127.0.0.1 port=$dead user=postgres dbname=postgres" -- touch "$M"
skipped "refused port"
is "refused port: 1 try + 5 retries" 6 "$(field "$CL_LOG" CRON_SKIP tries)"
has_line "refused port: classified connection_refused" "$CL_LOG" 'CRON_LOCK.*error_class="?connection_refused'
le "refused port: waited the backoff schedule (7.75s)" 7750 "$CL_MS"
le "refused port: ... plus at most the jitter" "$CL_MS" 10000

cronlock run --job u1 --db "host=127.0.0.1 port=$dead user=postgres dbname=postgres" "${FAST[@]}" --on-unavailable 3 -- touch "$M"
is "--on-unavailable 3: exit 3" 3 "$CL_RC"
ok "--on-unavailable: COMMAND did not run" test ! -e "$M"

# 2. A stopped server, over its unix socket.
pg_new down || exit 1
cluster_stop "$T/down"
cronlock run --job u2 --db "host=$T/down port=$(pg_port down) user=postgres dbname=postgres" "${FAST[@]}" -- touch "$M"
skipped "stopped server"
is "stopped server: 3 tries" 3 "$(field "$CL_LOG" CRON_SKIP tries)"
le "stopped server: bounded" "$CL_MS" 3000

# 3. A black hole: connections accepted, never answered.
proxy px blackhole
cronlock run --job u3 --db "host=127.0.0.1 port=$(proxy_port px) user=postgres dbname=postgres" "${FAST[@]}" -- touch "$M"
skipped "black hole"
has_line "black hole: classified connect_timeout" "$CL_LOG" 'CRON_LOCK.*error_class="?connect_timeout'
le "black hole: three connect timeouts of 1s" 3000 "$CL_MS"
le "black hole: bounded by tries x connect-timeout + backoff" "$CL_MS" 6000
proxy px pass

# 4. A frozen server: the postmaster is SIGSTOPped, connections never start.
pm=$(pg_pid db)
kill -STOP "$pm"
cronlock run --job u4 --db "$(pg_tcp db)" "${FAST[@]}" -- touch "$M"
kill -CONT "$pm"
skipped "frozen postmaster"
le "frozen postmaster: bounded" "$CL_MS" 6000
cronlock run --job u4 --db "$(pg_tcp db)" "${FAST[@]}" -- touch "$M"
is "after SIGCONT the job runs" 0 "$CL_RC"
ok "... and COMMAND ran" test -e "$M"
rm -f "$M"

# 5. The acquire's reply is frozen: the client's deadline fires, it cancels and
#    retries with the same attempt: replayed, one run.
PX="host=127.0.0.1 port=$(proxy_port px) user=postgres dbname=postgres"
proxy px freeze-after "cron_lock_try"
cronlock run --job u5 --db "$PX" "${FAST[@]}" -- sh -c "echo \$CRONLOCK_TOKEN >>'$M'"
proxy px thaw
is "frozen acquire reply: exit 0" 0 "$CL_RC"
has_line "frozen acquire reply: the first try failed by the deadline" "$CL_LOG" 'CRON_LOCK.*try="?1.*outcome="?error'
has_line "frozen acquire reply: the retry got the same lease back" "$CL_LOG" 'CRON_LOCK.*outcome="?acquired.*replayed|CRON_RUN.*replayed'
is "frozen acquire reply: COMMAND ran once with token 1" 1 "$(cat "$M" 2>/dev/null | tr '\n' ' ' | xargs)"
is "frozen acquire reply: one run, succeeded" "1|succeeded" "$(q db "SELECT count(*), min(status) FROM cron_lock.job_runs WHERE job = 'u5'")"
le "frozen acquire reply: bounded" "$CL_MS" 5000
rm -f "$M"

# 6. The acquire's reply is lost after COMMIT (in doubt).
d0=$(proxy_stat px dropped)
proxy px drop-reply-after "cron_lock_try"
cronlock run --job u6 --db "$PX" "${FAST[@]}" -- sh -c "echo \$CRONLOCK_TOKEN >>'$M'"
is "lost acquire reply: exit 0" 0 "$CL_RC"
is "lost acquire reply: the proxy dropped it" $((d0 + 1)) "$(proxy_stat px dropped)"
has_line "lost acquire reply: classified in_doubt (never blindly retried)" "$CL_LOG" 'CRON_LOCK.*try="?1.*error_class="?in_doubt'
has_line "lost acquire reply: replayed" "$CL_LOG" 'CRON_LOCK.*outcome="?acquired.*replayed|CRON_RUN.*replayed'
is "lost acquire reply: COMMAND ran once with token 1" 1 "$(cat "$M" 2>/dev/null | tr '\n' ' ' | xargs)"
is "lost acquire reply: one run, succeeded, no stranded lease" "1|succeeded|free" \
	"$(q db "SELECT count(*), min(status), (SELECT state FROM cron_lock.status WHERE job = 'u6') FROM cron_lock.job_runs WHERE job = 'u6'")"
rm -f "$M"

# 7. RST while sending the acquire: it never reached the server.
proxy px reset-on "cron_lock_try"
cronlock run --job u7 --db "$PX" "${FAST[@]}" -- sh -c "echo \$CRONLOCK_TOKEN >>'$M'"
is "reset acquire: exit 0" 0 "$CL_RC"
has_line "reset acquire: classified as a reset / in doubt" "$CL_LOG" 'CRON_LOCK.*try="?1.*outcome="?error'
is "reset acquire: COMMAND ran once with token 1" 1 "$(cat "$M" 2>/dev/null | tr '\n' ' ' | xargs)"
is "reset acquire: one run" "1|succeeded" "$(q db "SELECT count(*), min(status) FROM cron_lock.job_runs WHERE job = 'u7'")"
rm -f "$M"

# 8. The preflight's reply is frozen: deadline, retry, run.
proxy px freeze-after "SELECT 1"
cronlock run --job u8 --db "$PX" "${FAST[@]}" -- touch "$M"
proxy px thaw
is "frozen preflight: exit 0" 0 "$CL_RC"
ok "frozen preflight: COMMAND ran after the retry" test -e "$M"
le "frozen preflight: bounded" "$CL_MS" 5000
rm -f "$M"

# 9. Every reply frozen (the proxy freezes all traffic after connecting): skip.
proxy px freeze
cronlock run --job u9 --db "$PX" "${FAST[@]}" -- touch "$M"
proxy px thaw
skipped "frozen traffic"
le "frozen traffic: bounded" "$CL_MS" 8000
is "no lease left behind by the skips" 0 "$(q db "SELECT count(*) FROM cron_lock.leases WHERE held AND job IN ('u1','u2','u3','u4','u9')")"
finish
