#!/usr/bin/env bash
# The cronlock command across a failover to a synchronous standby.  Before:
# several hosts without target_session_attrs means read-write (the standby is
# skipped); a standby alone answers 25006 (read_only), and the run is skipped,
# exit 0.  During a run: the primary is killed -9 and the standby promoted; the
# heartbeat finds the new primary, the run completes; the next token is above
# every token issued before the failover.
source "$(dirname "$0")/../lib.sh"
need_cronlock

pg_new p || exit 1
ok "standby s1 streams from p" pg_standby s1 p
pg_conf p "synchronous_standby_names = 's1'"
q p "SELECT pg_reload_conf()" >/dev/null
ok "s1 is synchronous" wait_for 10 bash -c "[ \"\$(psql -XAt -h '$T/p' -p $(pg_port p) -U postgres -d postgres -c \"SELECT sync_state FROM pg_stat_replication WHERE application_name = 's1'\")\" = sync ]"
MH="host=127.0.0.1,127.0.0.1 port=$(pg_port s1),$(pg_port p) user=postgres dbname=postgres"

cronlock run --job fc --db "$MH" "${FAST[@]}" -- sh -c 'echo $CRONLOCK_TOKEN'
is "several hosts, standby first, no target_session_attrs: runs on the primary" 0 "$CL_RC"
is "... token 1" 1 "$(cat "$CL_OUT")"

cronlock run --job fc --db "$(pg_tcp s1)" "${FAST[@]}" -- touch "$T/ran-on-standby"
is "the standby alone: skipped, exit 0" 0 "$CL_RC"
has_line "... classified read_only (25006)" "$CL_LOG" 'CRON_LOCK.*(error_class="?read_only|sqlstate="?25006)'
has_line "... [CRON_SKIP] reason=DB_UNAVAILABLE" "$CL_LOG" '\[CRON_SKIP\].*reason="?DB_UNAVAILABLE'
ok "... COMMAND did not run" test ! -e "$T/ran-on-standby"

hb_ms() { psql -XAt -d "$MH target_session_attrs=read-write connect_timeout=2" -c "SELECT (extract(epoch FROM heartbeat_at) * 1000)::bigint FROM cron_lock.leases WHERE job = 'fc'" 2>/dev/null || echo 0; }
renewed_since() { [ "$(hb_ms)" -gt "$1" ]; }

cronlock_bg w run --job fc --ttl 9s --grace 2s --db "$MH" "${FAST[@]}" -- sh -c 'sleep 12; echo $CRONLOCK_TOKEN'
w=$BG_PID
ok "a run starts on the primary" wait_for 10 bash -c "grep -q CRON_RUN '$T/w.out'"
ok "a heartbeat goes through" wait_for 6 renewed_since "$(hb_ms)"
ok "kill -9 the primary" pg_kill9 p
t=$(now_ms)
ok "promote s1" pg_ctl_ s1 -w -t 60 promote
ok "the heartbeat renews on the new primary" wait_for 8 renewed_since "$t"
wait_rc "$w" 30
is "the run completes across the failover: exit 0" 0 "$RC"
no_line "the lease was never lost" "$T/w.out" '\[CRON_LOST\]'
has_line "its COMMAND had token 2" "$T/w.out" '^2$'
is "its run is recorded as succeeded on the new primary" succeeded "$(q s1 "SELECT status FROM cron_lock.job_runs WHERE job = 'fc' AND token = 2")"
cronlock run --job fc --db "$MH" "${FAST[@]}" -- sh -c 'echo $CRONLOCK_TOKEN'
is "the next run after the failover: exit 0" 0 "$CL_RC"
is "... its token is (timeline-1)<<32 + 1, above all before" $(((1 << 32) + 1)) "$(cat "$CL_OUT")"
finish
