#!/usr/bin/env bash
# Failover to a synchronous standby: the primary is killed -9, the standby is
# promoted; a multi-host conninfo with target_session_attrs=read-write finds the
# new primary; writing calls on a standby get 25006; every lease acknowledged
# before the failover is still there, and tokens after it are greater than
# every token issued before (the timeline is folded into the token).
source "$(dirname "$0")/../lib.sh"

pg_new p || exit 1
ok "standby s1 streams from p" pg_standby s1 p
pg_conf p "synchronous_standby_names = 's1'"
q p "SELECT pg_reload_conf()" >/dev/null
ok "s1 is a synchronous standby" wait_for 10 bash -c "[ \"\$(psql -XAt -h '$T/p' -p $(pg_port p) -U postgres -d postgres -c \"SELECT sync_state FROM pg_stat_replication WHERE application_name = 's1'\")\" = sync ]"

issue_tokens p fo 3
t4=$(q p "SELECT token FROM cron_lock_try('fo', 'A', '60s')")
is "tokens 1..4 on the old primary; 4 is held" 4 "$t4"
max_before=$(q p "SELECT max(token) FROM cron_lock.job_runs")

ok "s1 has replayed it" caught_up s1 p
is "the standby can read the status" "held|4" "$(q s1 "SELECT state, token FROM cron_lock.status WHERE job = 'fo'")"
is "try on the standby: 25006" 25006 "$(sqlstate s1 "SELECT * FROM cron_lock_try('fo', 'B', '60s')")"
is "heartbeat on the standby: 25006" 25006 "$(sqlstate s1 "SELECT cron_lock_heartbeat('fo', 4, '60s')")"
is "check on the standby: 25006" 25006 "$(sqlstate s1 "SELECT cron_lock_check('fo', 4)")"
is "release on the standby: 25006" 25006 "$(sqlstate s1 "SELECT cron_lock_release('fo', 4)")"

MH="host=127.0.0.1,127.0.0.1 port=$(pg_port s1),$(pg_port p) user=postgres dbname=postgres target_session_attrs=read-write connect_timeout=3"
is "read-write conninfo, standby listed first: lands on the primary" "$(pg_port p)|f" "$(qc "$MH" "SELECT inet_server_port(), pg_is_in_recovery()")"

ok "kill -9 the primary" pg_kill9 p
ok "promote s1" pg_ctl_ s1 -w -t 60 promote
is "the same conninfo now lands on s1, writable" "$(pg_port s1)|f" "$(qc "$MH" "SELECT inet_server_port(), pg_is_in_recovery()")"
is "s1 is on timeline 2" 2 "$(qc "$MH" "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int")"
is "synchronous commit: the lease held before is still held with token 4" "held|A|4" \
	"$(qc "$MH" "SELECT state, holder, token FROM cron_lock.status WHERE job = 'fo'")"
isnt "its holder's heartbeat goes on on the new primary" "" "$(qc "$MH" "SELECT cron_lock_heartbeat('fo', 4, '60s')")"
is "its guarded check passes" "" "$(sqlstate "$MH" "SELECT cron_lock_check('fo', 4)")"
is "a rival is refused" "f|held" "$(qc "$MH" "SELECT acquired, reason FROM cron_lock_try('fo', 'B', '60s')")"
is "release" t "$(qc "$MH" "SELECT cron_lock_release('fo', 4)")"
t5=$(qc "$MH" "SELECT token FROM cron_lock_try('fo', 'B', '60s')")
is "the next token is (timeline-1)<<32 + 1" $(((1 << 32) + 1)) "$t5"
le "it is greater than every token issued before the failover" "$((max_before + 1))" "$t5"
is "a job first seen after the failover starts above the old timeline too" $(((1 << 32) + 1)) \
	"$(qc "$MH" "SELECT token FROM cron_lock_try('fresh', 'B', '60s')")"
is "then +1 per acquisition" "$((t5 + 1))" \
	"$(qc "$MH" "SELECT cron_lock_release('fo', $t5); SELECT token FROM cron_lock_try('fo', 'B', '60s')" | tail -1)"
le "tokens stay below 2^53" "$t5" $(((1 << 53) - 1))
finish
