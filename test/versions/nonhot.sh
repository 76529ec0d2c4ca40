#!/usr/bin/env bash
# test/versions/nonhot.sh: heartbeats that must write new index entries (issue
# 13, item 3), against the cluster in PGHOST/PGPORT.  One open transaction holds
# back the xmin horizon, so no version of the lease and run rows can be pruned;
# once their pages are full, updates move to other pages and are not HOT.  On
# 16+ the direct path once failed there with XX000 "invalid perminfoindex 0".
# Ends with "N passed, N failed".
set -uo pipefail
export PGOPTIONS='-c client_min_messages=warning'
db=cron_lock_nonhot
beats=600
passed=0
failed=0
check() { # NAME WANT GOT
	if [ "$2" = "$3" ]; then
		echo "ok   $1"
		passed=$((passed + 1))
	else
		echo "FAIL $1: want $2, got $3"
		failed=$((failed + 1))
	fi
}
sql() { psql -qXAt -v ON_ERROR_STOP=1 -d $db "$@"; }

psql -qX -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" || exit 1
sql -c 'CREATE EXTENSION cron_lock' || exit 1
token=$(sql -c "SELECT token FROM cron_lock_try('nonhot', 'h1', '1h')")

# The holder: an xid assigned, then idle in its transaction until terminated.
PGAPPNAME=nonhot_holder psql -qX -d $db \
	-c "BEGIN; SELECT txid_current(); SELECT pg_sleep(600)" >/dev/null 2>&1 &
holder=$!
trap 'kill $holder 2>/dev/null' EXIT
for _ in $(seq 100); do
	[ "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'nonhot_holder' AND backend_xid IS NOT NULL")" = 1 ] && break
	sleep 0.1
done

# Every heartbeat its own transaction; psql stops at the first error.
err=$(for _ in $(seq $beats); do
	echo "SELECT cron_lock_heartbeat('nonhot', $token, '1h') IS NOT NULL;"
done | sql 2>&1 >/dev/null)
check "$beats heartbeats with xmin held back: no error" "" "$err"

# Each heartbeat session flushes its statistics when it ends.
upd() {
	sql -c "SELECT coalesce(sum(n_tup_upd - n_tup_hot_upd), 0) > 0 FROM pg_stat_user_tables
		WHERE relid = 'cron_lock.$1'::regclass"
}
for t in leases job_runs; do
	for _ in $(seq 50); do [ "$(upd $t)" = t ] && break; sleep 0.1; done
	check "non-HOT updates of cron_lock.$t happened" t "$(upd $t)"
done
check "the lease is still held with the same token" "t|$token" \
	"$(sql -c "SELECT held, token FROM cron_lock.leases WHERE job = 'nonhot'")"
check "one run row, still running" "1|running" \
	"$(sql -c "SELECT count(*), min(status) FROM cron_lock.job_runs WHERE job = 'nonhot'")"
check "an index scan finds the lease" "1" \
	"$(sql -c "SET enable_seqscan = off; SELECT count(*) FROM cron_lock.leases WHERE job = 'nonhot'")"

sql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'nonhot_holder'" >/dev/null
wait $holder 2>/dev/null
psql -qX -d postgres -c "DROP DATABASE $db"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
