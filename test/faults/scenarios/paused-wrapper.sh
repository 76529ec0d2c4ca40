#!/usr/bin/env bash
# The holder's wrapper is paused (SIGSTOP) past its TTL: a rival takes over;
# the paused holder's COMMAND (still running: only the wrapper was paused) has
# its guarded writes rejected with LK001; on SIGCONT the wrapper learns the
# lease is gone, stops its COMMAND and exits 75.
source "$(dirname "$0")/../lib.sh"
need_cronlock

pg_new db || exit 1
q db "CREATE TABLE hist (id bigserial PRIMARY KEY, job text, token bigint, who text, at timestamptz DEFAULT clock_timestamp())"
DB=$(pg_tcp db)
# writer.sh WHO [N]: N guarded writes (default many), one every 0.2s; each
# rejected write is counted in rejected.WHO, its error kept in writer.WHO.err
cat >"$T/writer.sh" <<WRITER
#!/bin/sh
echo \$\$ >"$T/cmd.\$1.pid"
i=0
while [ \$i -lt \${2:-1000} ]; do
	psql -XAtq -d "$DB" -v ON_ERROR_STOP=1 -c "BEGIN" \\
		-c "SELECT cron_lock_check('\$CRONLOCK_JOB', \$CRONLOCK_TOKEN)" \\
		-c "INSERT INTO hist (job, token, who) VALUES ('\$CRONLOCK_JOB', \$CRONLOCK_TOKEN, '\$1')" \\
		-c "COMMIT" 2>>"$T/writer.\$1.err" || echo x >>"$T/rejected.\$1"
	i=\$((i + 1))
	sleep 0.2
done
WRITER
chmod 755 "$T/writer.sh"

cronlock_bg A run --job pz --ttl 3s --grace 1s --instance A --db "$DB" -- "$T/writer.sh" A
A=$BG_PID
ok "A runs" wait_for 10 bash -c "grep -q CRON_RUN '$T/A.out' && [ -s '$T/cmd.A.pid' ]"
ok "A's guarded writes are accepted" wait_for 5 bash -c "[ \"\$(psql -XAt -d '$DB' -c \"SELECT count(*) FROM hist WHERE who = 'A'\")\" -ge 2 ]"
cmdA=$(cat "$T/cmd.A.pid")
kill -STOP "$A"
is "A's wrapper is paused" T "$(pstate "$A")"
ok "A's lease expires" wait_for 8 bash -c "[ \"\$(psql -XAt -d '$DB' -c \"SELECT state FROM cron_lock.status WHERE job = 'pz'\")\" = expired ]"
ok "A's COMMAND is still running (only the wrapper is paused)" alive "$cmdA"

cronlock run --job pz --ttl 3s --instance B --db "$DB" -- "$T/writer.sh" B 3
is "B takes over and runs: exit 0" 0 "$CL_RC"
has_line "B logs its run with token 2" "$CL_LOG" '\[CRON_RUN\].*token="?2'
is "B's three guarded writes were accepted" 3 "$(q db "SELECT count(*) FROM hist WHERE who = 'B'")"
ok "A's COMMAND had guarded writes rejected meanwhile" test -s "$T/rejected.A"
has_line "... with LK001 (lease not held)" "$T/writer.A.err" "not held with token 1"

t_cont=$(now_ms)
kill -CONT "$A"
wait_rc "$A" 15
is "A exits 75 (lease lost) after SIGCONT" 75 "$RC"
le "A exits within ttl of SIGCONT" "$(($(now_ms) - t_cont))" 4500
has_line "A logs [CRON_LOST]" "$T/A.out" '\[CRON_LOST\]'
ok "A's COMMAND is stopped" wait_for 3 bash -c "! kill -0 $cmdA"
is "no accepted write of token 1 after the first of token 2" 0 \
	"$(q db "SELECT count(*) FROM hist WHERE token = 1 AND id > (SELECT min(id) FROM hist WHERE token = 2)")"
is "accepted writes never go back in token order" 0 \
	"$(q db "SELECT count(*) FROM hist a JOIN hist b ON a.id < b.id AND a.token > b.token")"
is "A's run is expired, taken over by B's" "expired|2" \
	"$(q db "SELECT r.status, (SELECT token FROM cron_lock.job_runs WHERE run_id = r.taken_over_by) FROM cron_lock.job_runs r WHERE job = 'pz' AND token = 1")"
is "B's run succeeded, the lease is free" "succeeded|free" \
	"$(q db "SELECT status, (SELECT state FROM cron_lock.status WHERE job = 'pz') FROM cron_lock.job_runs WHERE job = 'pz' AND token = 2")"
finish
