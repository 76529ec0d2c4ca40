#!/usr/bin/env bash
# The wrapper is killed -9: its COMMAND dies at once (parent-death signal); the
# lease stays until its TTL runs out (a rival is busy meanwhile), then a rival
# takes it over.
source "$(dirname "$0")/../lib.sh"
need_cronlock

pg_new db || exit 1
DB=$(pg_tcp db)
cronlock_bg A run --job k9 --ttl 4s --instance A --db "$DB" -- sh -c "echo \$\$ >'$T/cmd.pid'; exec sleep 60"
A=$BG_PID
ok "A runs its COMMAND" wait_for 10 bash -c "grep -q CRON_RUN '$T/A.out' && [ -s '$T/cmd.pid' ]"
cmd=$(cat "$T/cmd.pid")
ok "the COMMAND is alive" alive "$cmd"
kill -9 "$A"
t_kill=$(now_ms)
ok "the COMMAND dies at once with its wrapper" wait_for 1 bash -c "! kill -0 $cmd 2>/dev/null || [ \"\$(ps -o stat= -p $cmd | cut -c1)\" = Z ]"
wait_rc "$A" 5
is "the wrapper died of SIGKILL" 137 "$RC"

cronlock run --job k9 --ttl 4s --instance B --db "$DB" --on-busy 9 --retries 0 -- true
if [ $(($(now_ms) - t_kill)) -lt 3500 ]; then
	is "a rival before the TTL runs out is busy" 9 "$CL_RC"
	has_line "... BUSY, held by A" "$CL_LOG" '\[CRON_SKIP\].*reason="?BUSY.*holder="?A'
else
	skip "a rival before the TTL runs out is busy" "too slow to check inside the TTL"
fi
ok "the lease expires" wait_for 8 bash -c "[ \"\$(psql -XAt -d '$DB' -c \"SELECT state FROM cron_lock.status WHERE job = 'k9'\")\" = expired ]"
le "... not before the TTL" 3000 "$(($(now_ms) - t_kill))"
cronlock run --job k9 --ttl 4s --instance B --db "$DB" -- sh -c 'echo $CRONLOCK_TOKEN'
is "the rival takes over after the TTL: exit 0" 0 "$CL_RC"
is "its COMMAND got token 2" 2 "$(cat "$CL_OUT")"
is "A's run is expired, taken over" "expired|t" \
	"$(q db "SELECT status, taken_over_by IS NOT NULL FROM cron_lock.job_runs WHERE job = 'k9' AND token = 1")"
is "the anomaly view records the stale takeover" 1 "$(q db "SELECT count(*) FROM cron_lock.anomalies WHERE job = 'k9' AND kind = 'stale_takeover'")"

# SIGTERM, SIGINT, SIGHUP, SIGQUIT to the wrapper are passed to COMMAND's group;
# the run is released as cancelled; the exit status is COMMAND's (128+N).  The
# wrapper is started with default signal dispositions: a background job of a
# non-interactive shell inherits SIGINT and SIGQUIT ignored, and cronlock keeps
# an inherited "ignore" (as nohup users expect for SIGHUP).
for sig in TERM INT HUP QUIT; do
	rm -f "$T/cmd.pid"
	bg s$sig env --default-signal=INT,QUIT,HUP "$CRONLOCK_BIN" run --log-to stderr --job sg$sig --ttl 4s --db "$DB" -- sh -c "echo \$\$ >'$T/cmd.pid'; exec sleep 60"
	w=$BG_PID
	ok "SIG$sig: the run starts" wait_for 10 bash -c "grep -q CRON_RUN '$T/s$sig.out' && [ -s '$T/cmd.pid' ]"
	c=$(cat "$T/cmd.pid")
	kill -$sig "$w"
	wait_rc "$w" 10
	is "SIG$sig to the wrapper: COMMAND's status (128+$(kill -l $sig))" $((128 + $(kill -l $sig))) "$RC"
	ok "SIG$sig: COMMAND is gone" bash -c "! kill -0 $c 2>/dev/null"
	is "SIG$sig: the run is released as cancelled" "cancelled|free" \
		"$(q db "SELECT r.status, s.state FROM cron_lock.job_runs r JOIN cron_lock.status s USING (job) WHERE r.job = 'sg$sig'")"
done
finish
