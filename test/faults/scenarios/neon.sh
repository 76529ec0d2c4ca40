#!/usr/bin/env bash
# A Neon-like database: the plain-SQL edition installed by a non-superuser
# database owner, reached only through PgBouncer in transaction mode over TLS
# (sslmode=require), behind the fault proxy that plays Neon's front end.
# While three runners tick the same two jobs: a "compute suspend" (every
# backend terminated with 57P01, the server down for a few seconds) and
# "cold starts" (each new connection held 0.5-3 s by the proxy).  No crash,
# no double run, tokens only go up, a tick that cannot reach the database is
# skipped as DB_UNAVAILABLE, and the default retry budget rides out a 3 s
# cold start.
source "$(dirname "$0")/../lib.sh"
need_cronlock
t_start=$SECONDS

version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$REPO/extension/cron_lock.control")
"$REPO/sql-edition/build.sh" "$T/edition" "$version" >/dev/null || { echo "not ok - $SCENARIO: edition build"; exit 1; }
chmod -R a+rX "$T/edition"

# A self-signed certificate for PgBouncer's client side.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
	-keyout "$T/tls.key" -out "$T/tls.crt" 2>/dev/null
chmod 600 "$T/tls.key"
[ "$(id -u)" = 0 ] && chown postgres: "$T/tls.key" "$T/tls.crt"

# The compute: a cluster without the extension; the owner "jobs" has CREATEDB
# CREATEROLE only, owns neondb and installs the edition there.
cluster_create "$T/db" || exit 1
echo "$T/db" >>"$T/.clusters"
pg_conf db "log_error_verbosity = verbose"
cluster_start "$T/db" || exit 1
# qn SQL: as the owner, in neondb, on the server's socket (not the pooled endpoint)
qn() { psql -XAtq -v ON_ERROR_STOP=1 -h "$T/db" -p "$(pg_port db)" -U jobs -d neondb -c "$1"; }

q db "CREATE ROLE jobs LOGIN CREATEDB CREATEROLE" >/dev/null
q db "CREATE DATABASE neondb OWNER jobs" >/dev/null
psql -qX -v ON_ERROR_STOP=1 -h "$T/db" -p "$(pg_port db)" -U jobs -d neondb -1 \
	-f "$T/edition/cron_lock.sql" >"$T/install.log" 2>&1
is "the edition installs as the non-superuser owner" 0 $?
is "the owner is no superuser and has no REPLICATION" "f|f|t|t" \
	"$(q db "SELECT rolsuper, rolreplication, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = 'jobs'")"
is "no C extension in neondb" 0 \
	"$(qn "SELECT count(*) FROM pg_extension WHERE extname = 'cron_lock'")"

# The pooled endpoint: PgBouncer, transaction pooling, TLS required of clients,
# and the proxy in front of it.
echo "$T/bouncer/pgbouncer.pid" >>"$T/.bouncers"
PGBOUNCER_EXTRA="client_tls_sslmode = require
client_tls_key_file = $T/tls.key
client_tls_cert_file = $T/tls.crt" \
	pgbouncer_start "$T/bouncer" "neondb = host=127.0.0.1 port=$(pg_port db) dbname=neondb" transaction 2
is "pgbouncer (transaction pooling, TLS) starts" 0 $?
proxy_start front "$(cat "$T/bouncer/port")"
NEON="host=127.0.0.1 port=$(proxy_port front) user=jobs dbname=neondb sslmode=require"
is "plain text is refused by the pooled endpoint" "" \
	"$(psql -XAt -d "host=127.0.0.1 port=$(proxy_port front) user=jobs dbname=neondb sslmode=disable" -c "SELECT 1" 2>/dev/null)"
is "TLS through the proxy and PgBouncer reaches the edition" "sql" \
	"$(qc "$NEON" "SELECT edition FROM cron_lock.edition()")"

# The runners: each ticks jobs n1 and n2 in turn until told to stop.  The job
# writes its start and end (ms) with its token to a shared history.
cat >"$T/job.sh" <<EOF
#!/bin/sh
echo "\$CRONLOCK_JOB \$CRONLOCK_TOKEN start \$(date +%s%3N) \$CRONLOCK_INSTANCE" >>"$T/history"
sleep 1.5
echo "\$CRONLOCK_JOB \$CRONLOCK_TOKEN end \$(date +%s%3N) \$CRONLOCK_INSTANCE" >>"$T/history"
EOF
chmod 755 "$T/job.sh"
: >"$T/history"
cat >"$T/runner.sh" <<EOF
#!/bin/bash
i=0
while [ ! -e "$T/stop" ]; do
	i=\$((i + 1))
	timeout -k 5 60 "$CRONLOCK_BIN" run --log-to stderr --job n\$((i % 2 + 1)) --ttl 9s --instance \$1 --db "$NEON" -- "$T/job.sh" 2>>"$T/\$1.log"
	echo \$? >>"$T/\$1.rcs"
	sleep 0.\$((RANDOM % 5))
done
EOF
chmod 755 "$T/runner.sh"
for r in r1 r2 r3; do
	bg "$r" "$T/runner.sh" "$r"
	eval "pid_$r=\$BG_PID"
done
ok "the runners tick" wait_for 20 bash -c "[ \$(grep -c ' end ' '$T/history') -ge 4 ]"

# Compute suspend: every backend terminated (57P01), the server down 4 s.
is "suspend: every client backend is terminated" t \
	"$(q db "SELECT bool_and(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")"
pg_ctl_ db -w -t 30 -m fast stop >/dev/null
down_ms=$(now_ms)
cronlock run --job skip --retries 1 --backoff 200ms --preflight-timeout 1s --db "$NEON" -- touch "$T/skip-ran"
is "a tick while suspended exits 0 (the default --on-unavailable)" 0 "$CL_RC"
has_line "and is logged as a DB_UNAVAILABLE skip" "$CL_LOG" "^\[CRON_SKIP\].*reason=\"?DB_UNAVAILABLE"
ok "its command did not run" test ! -e "$T/skip-ran"

# Cold start: every new connection held 3 s; a run with the default retry
# options starts while the compute is still down and completes.
proxy front connect-delay 3000
cronlock_bg cold run --job cold --db "$NEON" -- touch "$T/cold-ran"
cold_pid=$BG_PID
cold_t0=$(now_ms)
wait_for 10 bash -c "[ \$(( \$(date +%s%3N) - $down_ms )) -ge 4000 ]"
pg_ctl_ db -w -t 60 start >/dev/null
wait_rc "$cold_pid" 40
is "a run with the default retry budget rides out a 3 s cold start" 0 "$RC"
le "the cold start did delay it (>= 3000 ms)" 3000 "$(($(now_ms) - cold_t0))"
ok "the cold-start run's command ran" test -e "$T/cold-ran"
has_line "the cold-start run is logged CRON_DONE" "$T/cold.out" "^\[CRON_DONE\]"

# Cold starts of 0.5-3 s on every new connection while the runners tick on.
proxy front connect-delay 500 3000
n_end=$(grep -c ' end ' "$T/history")
ok "the runners tick through random cold starts" wait_for 40 bash -c "[ \$(grep -c ' end ' '$T/history') -ge $((n_end + 4)) ]"
proxy front connect-delay 0
touch "$T/stop"
for r in r1 r2 r3; do
	eval "wait_rc \$pid_$r 60"
	is "runner $r stopped" 0 "$RC"
done

# Verdicts.
has_line "the server log shows 57P01 terminations" "$T/db/server.log" "FATAL:  57P01"
is "every cronlock exit is 0 (ran, busy or skipped) or 75 (lease lost): no crash, no hang" "" \
	"$(cat "$T"/r?.rcs | grep -vxE '0|75' | sort | uniq -c | tr '\n' ' ')"
runs=$(grep -c ' start ' "$T/history")
le "jobs ran" 6 "$runs"
is "every started job ended" "$runs" "$(grep -c ' end ' "$T/history")"
# No double run: per job, each start is after the previous end, and tokens go up.
is "no two runs of a job overlap, tokens strictly increase" "" "$(sort -k1,1 -k4,4n "$T/history" | awk '
	$3 == "start" { if ($1 in last_end && (open[$1] || $4 < last_end[$1])) print "overlap", $0
		if ($1 in last_tok && $2 <= last_tok[$1]) print "token", $0
		open[$1] = 1; last_tok[$1] = $2 }
	$3 == "end" { open[$1] = 0; last_end[$1] = $4 }')"
is "the database agrees: no two runs of a job overlap" 0 \
	"$(qn "SELECT count(*) FROM cron_lock.job_runs a JOIN cron_lock.job_runs b ON a.job = b.job AND a.run_id < b.run_id AND tstzrange(a.started_at, a.finished_at) && tstzrange(b.started_at, b.finished_at)")"
is "every token a job saw is a recorded run of that job" "$runs" \
	"$(qn "SELECT count(*) FROM cron_lock.job_runs r JOIN (VALUES $(awk '$3 == "start" { printf "%s(\x27%s\x27, %s)", sep, $1, $2; sep = ", " }' "$T/history")) h(job, token) USING (job, token)")"
cat "$T"/r?.log >"$T/runners.log"
no_line "no runner crashed (no abort, segfault or assertion)" "$T/runners.log" "Segmentation|Aborted|Assertion|terminate called"
echo "# $SCENARIO: $((SECONDS - t_start))s"
finish
