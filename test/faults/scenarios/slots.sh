#!/usr/bin/env bash
# Connection slots exhausted (53300 too_many_connections): bounded backoff,
# a DB_UNAVAILABLE skip, exit 0; once a slot frees, the job runs.
source "$(dirname "$0")/../lib.sh"
need_cronlock

pg_new db "max_connections = 8" "superuser_reserved_connections = 3" || exit 1
q db "CREATE ROLE jobs LOGIN IN ROLE cron_lock_user"
DB="$(pg_tcp db jobs)"
# hogs_up: five sessions hold the five non-reserved slots.  A superuser
# session still ending (or this check's own) can hold one for a moment and
# get a hog refused, so a hog that is gone is started again.
HOG=()
hogs_up() {
	local i
	for i in 1 2 3 4 5; do
		[ -n "${HOG[$i]:-}" ] && alive "${HOG[$i]}" && continue
		bg hog$i psql -XAt -d "$DB application_name=hog" -c "SELECT pg_sleep(120)"
		HOG[$i]=$BG_PID
	done
	sleep 0.5
	[ "$(q db "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hog'")" = 5 ]
}
ok "five sessions fill the five non-reserved slots" wait_for 10 hogs_up
ok "one more session is refused (53300)" bash -c "psql -XAt -d '$DB' -c 'SELECT 1' 2>&1 | grep -Eq 'too many clients|remaining connection slots'"

cronlock run --job sl --db "$DB" "${FAST[@]}" -- touch "$T/ran"
is "slots exhausted: exit 0" 0 "$CL_RC"
has_line "slots exhausted: classified too_many_connections" "$CL_LOG" 'CRON_LOCK.*error_class="?too_many_connections'
has_line "slots exhausted: [CRON_SKIP] reason=DB_UNAVAILABLE" "$CL_LOG" '\[CRON_SKIP\].*reason="?DB_UNAVAILABLE'
is "slots exhausted: 3 tries (backoff, not a hot loop)" 3 "$(field "$CL_LOG" CRON_SKIP tries)"
le "slots exhausted: it backed off (>= 300ms)" 300 "$CL_MS"
le "slots exhausted: bounded" "$CL_MS" 3000
ok "slots exhausted: COMMAND did not run" test ! -e "$T/ran"

# Free two slots (a run needs its own heartbeat connection too).
q db "SELECT pg_terminate_backend(pid) FROM (SELECT pid FROM pg_stat_activity WHERE application_name = 'hog' LIMIT 2) s" >/dev/null
ok "two slots free" wait_for 10 bash -c "[ \"\$(psql -XAt -h '$T/db' -p $(pg_port db) -U postgres -d postgres -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hog'\")\" = 3 ]"
cronlock run --job sl --db "$DB" "${FAST[@]}" -- touch "$T/ran"
is "with free slots the job runs: exit 0" 0 "$CL_RC"
ok "... and COMMAND ran" test -e "$T/ran"
finish
