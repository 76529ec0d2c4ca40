#!/usr/bin/env bash
# PgBouncer in transaction pooling mode in front of the cluster: session
# advisory locks silently break there (shown below); cron_lock leases, tokens
# and guarded writes keep working, under concurrency (pgbench, 8 clients over a
# pool of 2 server connections), and so does the cronlock command.
source "$(dirname "$0")/../lib.sh"

pg_new db || exit 1
q db "CREATE TABLE hist (id bigserial PRIMARY KEY, job text, token bigint, client int, at timestamptz DEFAULT clock_timestamp())"

ok "pgbouncer (pool_mode=transaction, pool size 1) starts" bouncer_start b1 "$(pg_port db)" transaction 1
B1="host=127.0.0.1 port=$(bouncer_port b1) user=postgres dbname=postgres"
is "queries pass through pgbouncer" "$(pg_port db)" "$(qc "$B1" "SHOW port")"

# The hazard: a session advisory lock taken in one pooled transaction stays on
# the server connection, which the next client gets: both "hold" the lock.
is "client 1 takes a session advisory lock through pgbouncer" t "$(qc "$B1" "SELECT pg_try_advisory_lock(42)")"
is "client 2 gets it too: advisory locks silently fail under transaction pooling" t \
	"$(qc "$B1" "SELECT pg_try_advisory_lock(42)")"
qc "$B1" "SELECT pg_advisory_unlock_all()" >/dev/null

# cron_lock through the same pool: the second client is refused.
r1=$(qc "$B1" "SELECT acquired, reason, token FROM cron_lock_try('pb', 'c1', '60s')")
is "client 1 acquires through pgbouncer" "t|acquired|1" "$r1"
is "client 2 is refused: held by c1" "f|held|c1" "$(qc "$B1" "SELECT acquired, reason, holder FROM cron_lock_try('pb', 'c2', '60s')")"
is "a guarded write through pgbouncer (explicit transaction)" "INSERT 0 1" \
	"$(psql -X -q -d "$B1" -v ON_ERROR_STOP=1 -c "BEGIN" -c "SELECT cron_lock_check('pb', 1)" -c "INSERT INTO hist (job, token) VALUES ('pb', 1)" -c "COMMIT" -c "SELECT 'INSERT 0 1'" -At | tail -1)"
is "a guarded write with a wrong token is rejected: LK001" LK001 "$(sqlstate "$B1" "SELECT cron_lock_check('pb', 7)")"
isnt "heartbeat through pgbouncer" "" "$(qc "$B1" "SELECT cron_lock_heartbeat('pb', 1, '60s')")"
is "release through pgbouncer" t "$(qc "$B1" "SELECT cron_lock_release('pb', 1)")"
q db "TRUNCATE hist"
bouncer_stop b1
ok "b1's server connection is gone" wait_for 10 bash -c "[ \"\$(psql -XAt -h '$T/db' -p $(pg_port db) -U postgres -d postgres -c \"SELECT count(*) FROM pg_stat_activity WHERE client_addr IS NOT NULL AND backend_type = 'client backend'\")\" = 0 ]"

# Concurrency: 8 pgbench clients over 2 server connections, each transaction
# tries 3 jobs, writes guarded by the token, releases.
ok "pgbouncer b2 (transaction, pool size 2) starts" bouncer_start b2 "$(pg_port db)" transaction 2
cat >"$T/bench.sql" <<'SQL'
\set j random(1, 3)
SELECT coalesce((SELECT token FROM cron_lock_try('bench' || :j, 'c' || :client_id, '30s')), 0) AS tok \gset
\if :tok > 0
BEGIN;
SELECT cron_lock_check('bench' || :j, :tok);
INSERT INTO hist (job, token, client) VALUES ('bench' || :j, :tok, :client_id);
SELECT pg_sleep(0.01);
INSERT INTO hist (job, token, client) VALUES ('bench' || :j, :tok, :client_id);
COMMIT;
SELECT cron_lock_release('bench' || :j, :tok);
\endif
SQL
chmod 644 "$T/bench.sql"
pgbench -n -h 127.0.0.1 -p "$(bouncer_port b2)" -U postgres -c 8 -j 2 -T 8 -f "$T/bench.sql" postgres >"$T/pgbench.out" 2>&1
is "pgbench through pgbouncer: no client aborted" 0 $?
has_line "pgbench reports no failed transaction" "$T/pgbench.out" "number of failed transactions: 0|^number of transactions actually processed"
no_line "pgbench: no error" "$T/pgbench.out" "ERROR|aborted"
runs=$(q db "SELECT count(*) FROM cron_lock.job_runs WHERE job LIKE 'bench%'")
le "many runs happened" 30 "$runs"
is "every run succeeded" 0 "$(q db "SELECT count(*) FROM cron_lock.job_runs WHERE job LIKE 'bench%' AND status <> 'succeeded'")"
is "each run has its two guarded writes" "$((runs * 2))" "$(q db "SELECT count(*) FROM hist")"
is "per job, tokens are 1..N with no gap and no repeat" 0 \
	"$(q db "SELECT count(*) FROM (SELECT job, count(*) n, max(token) m, count(DISTINCT token) d FROM cron_lock.job_runs WHERE job LIKE 'bench%' GROUP BY job) s WHERE n <> m OR n <> d")"
is "accepted writes never go back in token order" 0 \
	"$(q db "SELECT count(*) FROM hist a JOIN hist b ON a.job = b.job AND a.id < b.id AND a.token > b.token")"
is "no two runs of a job overlap in time" 0 \
	"$(q db "SELECT count(*) FROM cron_lock.job_runs a JOIN cron_lock.job_runs b ON a.job = b.job AND a.run_id < b.run_id AND tstzrange(a.started_at, a.finished_at) && tstzrange(b.started_at, b.finished_at) WHERE a.job LIKE 'bench%'")"
le "pgbouncer used at most 2 server connections" "$(q db "SELECT count(*) FROM pg_stat_activity WHERE client_addr IS NOT NULL AND usename = 'postgres' AND backend_type = 'client backend' AND pid <> pg_backend_pid()")" 2
le "contention was recorded (held/locked answers)" 1 "$(q db "SELECT (SELECT count(*) FROM cron_lock.contention WHERE job LIKE 'bench%') + (SELECT count(*) FROM cron_lock.contention_hourly WHERE job LIKE 'bench%')")"

# The cronlock command through pgbouncer: two at once, one runs, one is busy;
# the runner's heartbeats (ttl 3s, command 4s) go through the pool.
if [ -x "$CRONLOCK_BIN" ]; then
	BD="host=127.0.0.1 port=$(bouncer_port b2) user=postgres dbname=postgres"
	cronlock_bg w1 run --job cb --ttl 3s --instance w1 --db "$BD" -- sh -c 'sleep 4; echo ran-w1'
	w1=$BG_PID
	ok "w1 runs" wait_for 10 bash -c "grep -q 'CRON_RUN' '$T/w1.out'"
	cronlock --timeout 30 run --job cb --ttl 3s --instance w2 --db "$BD" --on-busy 9 -- sh -c 'echo ran-w2'
	is "w2 is busy (exit --on-busy)" 9 "$CL_RC"
	has_line "w2 logs a BUSY skip" "$CL_LOG" "\[CRON_SKIP\].*reason=\"?BUSY"
	no_line "w2's command did not run" "$CL_OUT" "ran-w2"
	wait_rc "$w1" 30
	is "w1 completes through pgbouncer (heartbeats renewed)" 0 "$RC"
	has_line "w1 logs CRON_DONE" "$T/w1.out" "\[CRON_DONE\]"
	no_line "w1 never lost its lease" "$T/w1.out" "\[CRON_LOST\]"
	is "the run is succeeded, heartbeats were recorded" "succeeded|t" \
		"$(q db "SELECT status, heartbeat_at > started_at FROM cron_lock.job_runs WHERE job = 'cb'")"
else
	need_cronlock
fi
finish
