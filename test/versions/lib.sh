# test/versions/lib.sh: history on a cron_lock database and its canonical
# text, for the upgrade scenarios.  Source after test/server/lib.sh (checks,
# clusters, $ROOT).  Every connection is loopback TCP, so the server may run
# in another Debian root than the client.
#
#   qt PORT DB SQL               psql as postgres, unaligned tuples
#   make_history PORT DB         create DB with cron_lock and a history: held
#                                and released leases, takeovers, every anomaly
#                                kind, contention, 200 finished runs
#   canon PORT DB                the text of everything that must survive
#   last_tokens PORT DB          "job=token" of every lease
#   check_tokens_go_on LABEL PORT DB TOKENS
#                                each job's next token is above TOKENS' and
#                                every new run id above the old ones

qt() { psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "$2" -c "$3"; }

expired() { [ "$(qt "$1" "$2" "SELECT expires_at < clock_timestamp() FROM cron_lock.leases WHERE job = '$3'")" = t ]; }

make_history() {
	local p=$1 db=$2
	qt "$p" postgres "CREATE DATABASE $db" >/dev/null &&
		qt "$p" "$db" "CREATE EXTENSION cron_lock" >/dev/null || return 1
	qt "$p" "$db" "SELECT cron_lock_try('alpha', 'h1', '1h')" >/dev/null
	qt "$p" "$db" "SELECT cron_lock_release('alpha', 1)" >/dev/null
	qt "$p" "$db" "SELECT cron_lock_try('alpha', 'h2', '1h')" >/dev/null
	qt "$p" "$db" "SELECT cron_lock_try('alpha', 'h3', '1h')" >/dev/null # held
	# beta: a stale takeover, then the old holder's late release and heartbeat.
	qt "$p" "$db" "SELECT cron_lock_try('beta', 'h1', '10 milliseconds')" >/dev/null
	wait_for 10 "beta to expire" expired "$p" "$db" beta
	qt "$p" "$db" "SELECT cron_lock_try('beta', 'h2', '1h')" >/dev/null
	qt "$p" "$db" "SELECT cron_lock_release('beta', 1, 'failed', 'late')" >/dev/null
	qt "$p" "$db" "SELECT cron_lock_heartbeat('beta', 1, '1h')" >/dev/null
	# gamma: a late heartbeat nobody took over; then too soon for min_gap.
	qt "$p" "$db" "SELECT cron_lock_try('gamma', 'h1', '10 milliseconds', min_gap => '1h')" >/dev/null
	wait_for 10 "gamma to expire" expired "$p" "$db" gamma
	qt "$p" "$db" "SELECT cron_lock_heartbeat('gamma', 1, '1h')" >/dev/null
	qt "$p" "$db" "SELECT cron_lock_release('gamma', 1)" >/dev/null
	qt "$p" "$db" "SELECT cron_lock_try('gamma', 'h2', '1h', min_gap => '1h')" >/dev/null
	# bulk: 200 finished runs, one per transaction.
	for _ in $(seq 200); do
		echo "SELECT cron_lock_release('bulk', token) FROM cron_lock_try('bulk', 'h1', '1h');"
	done | psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$p" -U postgres -d "$db" >/dev/null
	qt "$p" postgres "DO \$\$ BEGIN CREATE ROLE app LOGIN IN ROLE cron_lock_user; EXCEPTION WHEN duplicate_object THEN END \$\$" >/dev/null
	check_eq "history on the old server: every anomaly kind" \
		"late_heartbeat,late_release,lost_heartbeat,stale_takeover" \
		"$(qt "$p" "$db" "SELECT string_agg(DISTINCT kind, ',' ORDER BY kind) FROM cron_lock.anomaly_log")"
	check_eq "history on the old server: runs" 205 "$(qt "$p" "$db" "SELECT count(*) FROM cron_lock.job_runs")"
}

canon() {
	local p=$1 db=$2 t
	for t in "job_runs ORDER BY run_id" "leases ORDER BY job" "contention c ORDER BY c::text" \
		"anomaly_log a ORDER BY a::text" "anomalies a WHERE kind <> 'overlong_run' ORDER BY a::text" \
		"sightings ORDER BY job, instance"; do
		echo "== $t"
		qt "$p" "$db" "COPY (SELECT * FROM cron_lock.$t) TO STDOUT"
	done
	echo "== status"
	qt "$p" "$db" "COPY (SELECT job, state, holder, token, run_id, acquired_at, expires_at FROM cron_lock.status ORDER BY job) TO STDOUT"
	echo "== run_id sequence"
	qt "$p" "$db" "SELECT last_value, is_called FROM cron_lock.job_runs_run_id_seq"
}

last_tokens() { qt "$1" "$2" "SELECT job || '=' || token FROM cron_lock.leases ORDER BY job"; }

check_tokens_go_on() {
	local label=$1 p=$2 db=$3 tokens=$4 j tok out max_run
	max_run=$(qt "$p" "$db" "SELECT max(run_id) FROM cron_lock.job_runs")
	while IFS='=' read -r j tok; do
		[ -n "$j" ] || continue
		qt "$p" "$db" "SELECT cron_lock_force_release('$j')" >/dev/null
		out=$(qt "$p" "$db" "SELECT acquired, token, run_id FROM cron_lock_try('$j', 'after', '1h')")
		IFS='|' read -r acq t run <<<"$out"
		if [ "$acq" = t ] && [ "$t" -gt "$tok" ] && [ "$run" -gt "$max_run" ]; then
			ok "$label: $j goes on at token $t (was $tok), run id $run"
		else
			fail "$label: $j goes on above token $tok and run id $max_run" "got: $out"
		fi
	done <<<"$tokens"
	check_eq "$label: a cron_lock_user member takes a lease" "t" \
		"$(psql -X -A -t -h 127.0.0.1 -p "$p" -U app -d "$db" -c "SELECT acquired FROM cron_lock_try('app_job', 'app', '1h')" 2>&1)"
}
