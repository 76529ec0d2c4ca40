#!/usr/bin/env bash
# test/storm/storm.sh [SECONDS]: a storm of concurrent acquirers against the
# cluster in PGHOST/PGPORT, then a check of the whole history (issue 2).
# Ends with "N passed, N failed" over the checks.  CRONLOCK_STORM_INSTALL, when
# set, is the command that installs cron_lock into the database named last on
# its command line (test/edition/run.sh: the plain-SQL edition) instead of
# CREATE EXTENSION.
set -uo pipefail
export PGOPTIONS='-c client_min_messages=warning'
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-15}
db=cron_lock_storm

psql -qX -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" || exit 1
if [ -n "${CRONLOCK_STORM_INSTALL:-}" ]; then
	$CRONLOCK_STORM_INSTALL -d $db || exit 1
else
	psql -qX -d $db -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION cron_lock' || exit 1
fi
psql -qX -d $db -v ON_ERROR_STOP=1 -f "$here/setup.sql" || exit 1

echo "storm: 16 clients, 4 jobs, 100 ms leases, ${seconds}s"
pgbench -n -d $db -c 16 -j 2 -T "$seconds" -f "$here/runner.pgbench" 2>&1 |
	grep -E 'transactions actually processed|failed|aborted|tps' | head -5

passed=0
failed=0
while IFS='|' read -r name value; do
	case $name in
	coverage)
		IFS='|' read -r runs takeovers busy writes rejected <<<"$value"
		echo "coverage: runs=$runs takeovers=$takeovers busy=$busy writes=$writes rejected=$rejected"
		for n in "$runs" "$takeovers" "$busy" "$writes" "$rejected"; do
			if [ "${n:-0}" -gt 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
		done
		[ "${takeovers:-0}" -gt 0 ] && [ "${rejected:-0}" -gt 0 ] ||
			echo "FAIL: the storm did not exercise takeovers and rejected writes"
		;;
	*)
		if [ "$value" = 0 ]; then
			echo "ok   $name = 0"
			passed=$((passed + 1))
		else
			echo "FAIL $name = $value"
			failed=$((failed + 1))
		fi
		;;
	esac
done < <(psql -qXAt -F'|' -d $db -f "$here/check.sql")

psql -qX -d postgres -c "DROP DATABASE $db"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
