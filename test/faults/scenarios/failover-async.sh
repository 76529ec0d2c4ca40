#!/usr/bin/env bash
# Failover to an asynchronous standby that missed the last commits (its WAL
# stream is frozen by the fault proxy): the promoted standby has lost those
# leases and runs (documented: asynchronous replication loses the last commits),
# but it never reissues a token: every token it issues is greater than every
# token the old primary issued, so a guarded write with a token from the lost
# history is rejected (LK001).
source "$(dirname "$0")/../lib.sh"

pg_new p || exit 1
proxy_start wal "$(pg_port p)" || exit 1
ok "standby s1 streams from p through the proxy" pg_standby s1 p "$(proxy_port wal)"

issue_tokens p fa 2
ok "s1 has replayed tokens 1..2" caught_up s1 p
is "s1 sees token 2" 2 "$(q s1 "SELECT token FROM cron_lock.leases WHERE job = 'fa'")"

proxy wal freeze
issue_tokens p fa 3
t6=$(q p "SELECT token FROM cron_lock_try('fa', 'A', '60s')")
is "the old primary issued tokens up to 6 (6 held)" 6 "$t6"
max_before=$(q p "SELECT max(token) FROM cron_lock.job_runs")
is "s1 did not receive them (frozen stream)" 2 "$(q s1 "SELECT token FROM cron_lock.leases WHERE job = 'fa'")"

ok "kill -9 the primary" pg_kill9 p
ok "promote s1" pg_ctl_ s1 -w -t 60 promote
is "s1 is writable" f "$(q s1 "SELECT pg_is_in_recovery()")"
is "asynchronous failover lost the last commits (expected, documented)" "2|free" \
	"$(q s1 "SELECT token, state FROM cron_lock.status WHERE job = 'fa'")"
is "the old holder's guarded write is rejected on the new primary" LK001 "$(sqlstate s1 "SELECT cron_lock_check('fa', $t6)")"
is "... it answers NULL" null "$(q s1 "SELECT coalesce(cron_lock_heartbeat('fa', $t6, '60s')::text, 'null')")"
t=$(q s1 "SELECT token FROM cron_lock_try('fa', 'B', '60s')")
le "the first token on the new timeline is above every token of the old one" "$((max_before + 1))" "$t"
is "it is (2-1)<<32 + 1" $(((1 << 32) + 1)) "$t"
is "the guarded write with the new token passes" "" "$(sqlstate s1 "SELECT cron_lock_check('fa', $t)")"
finish
