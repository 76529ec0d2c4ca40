#!/usr/bin/env bash
# test/server/run.sh: the server-side suites (dump/restore, crash recovery,
# standby and failover, upgrade harness), each on its own throwaway clusters
# on free ports.  Run after `make install`, as root or as the postgres user.
# Prints every result and, last, "N passed, N failed"; exits 1 on any failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/cron_lock_srv_run.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
start=$SECONDS
for suite in dump_restore crash_recovery standby upgrade_harness durability token_epoch; do
	t0=$SECONDS
	timeout -k 10 150 "$here/$suite.sh" 2>&1 | tee "$tmp/$suite.out"
	rc=${PIPESTATUS[0]}
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/$suite.out" | tail -n 1)
	if [ -n "$last" ]; then
		p=${last%% passed*}
		f=${last#*, }
		f=${f%% failed}
		passed=$((passed + p))
		failed=$((failed + f))
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			echo "FAIL $suite: exited with status $rc"
			failed=$((failed + 1))
		fi
	else
		if [ "$rc" -eq 124 ]; then
			echo "FAIL $suite: timed out"
		else
			echo "FAIL $suite: ended without a summary (status $rc)"
		fi
		failed=$((failed + 1))
	fi
	echo "# $suite: $((SECONDS - t0))s"
done
echo "# total: $((SECONDS - start))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
