#!/usr/bin/env bash
# test/run-tests.sh: every test suite, against throwaway clusters, after
# `make install` (make test runs this).  Each suite prints its own details;
# the last line counts suites as "N passed, N failed".
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
source test/lib/cluster.sh

export CRONLOCK_BIN=${CRONLOCK_BIN:-$repo/build/client/cronlock}
dir=$(mktemp -d /tmp/cronlock-test.XXXXXX)
chmod 755 "$dir"
trap 'cluster_stop "$dir/pg" immediate; cluster_stop "$dir/own" immediate; rm -rf "$dir"' EXIT

cluster_create "$dir/pg" && cluster_start "$dir/pg" || exit 1
eval "$(cluster_env "$dir/pg")"

passed=0
failed=0
failed_names=()

suite() {
	local name=$1
	shift
	echo
	echo "=== $name"
	local start=$SECONDS
	if "$@"; then
		passed=$((passed + 1))
		echo "=== $name: ok ($((SECONDS - start))s)"
	else
		failed=$((failed + 1))
		failed_names+=("$name")
		echo "=== $name: FAILED ($((SECONDS - start))s)"
		[ -f regression.diffs ] && [ "$name" != client ] && head -n 200 regression.diffs
	fi
}

# Regression and isolation tests need each other's database dropped first.
suite regress make -s installcheck ISOLATION=
suite isolation make -s installcheck REGRESS=

suite storm test/storm/storm.sh 15
# The plain-SQL edition: the same regress files, isolation specs and storm,
# plus plpgsql_check, on a cluster of its own (test/edition/run.sh).
suite edition-lint test/edition/run.sh lint
suite edition-regress test/edition/run.sh regress
suite edition-isolation test/edition/run.sh isolation
suite edition-storm test/edition/run.sh storm
suite edition-durability env EDITION=1 test/server/durability.sh
suite edition-install test/edition/run.sh install
suite edition-cli test/edition/run.sh cli
suite edition-migrate test/edition/run.sh migrate
suite edition-upgrade test/edition/run.sh upgrade
suite client-unit build/client/test/cronlock_unit_tests
suite cli sh test/client/cli_test.sh "$CRONLOCK_BIN"
suite completion test/packages/completion_test.sh "$CRONLOCK_BIN"
suite systemd-units test/packages/systemd_test.sh "$CRONLOCK_BIN"
suite pgxn-meta test/packages/meta_test.py
# Crontabs of other users and a cron daemon need root: a sudo user's run
# asks sudo for these two (-n: an error, never a prompt).
as_root=()
[ "$(id -u)" = 0 ] || as_root=(sudo -n env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER="$PGUSER"
	PGDATABASE="$PGDATABASE" CRONLOCK_BIN="$CRONLOCK_BIN")
suite crontab-examples "${as_root[@]}" test/client/crontab_test.sh
suite ops-subcommands test/client/ops_test.sh "$CRONLOCK_BIN"
suite install test/install/install_test.sh
# Debian's cron with mail to local mailboxes: what a cron host sees (about 2 minutes).
suite cron "${as_root[@]}" test/cron/cron_test.sh
# The application recipes (Node with pg and Neon's driver, Python, Java)
# against both editions, on a cluster of their own.
suite recipes test/recipes/run.sh
# The client's integration tests restart and SIGSTOP their server: each run
# that includes them gets a cluster of its own.
own_cluster() {
	local d=$dir/own rc
	rm -rf "$d"
	cluster_create "$d" && cluster_start "$d" || return 1
	(eval "$(cluster_env "$d")" && "$@")
	rc=$?
	cluster_stop "$d" immediate
	return $rc
}
suite client-integration own_cluster build/client/test/cronlock_integration_tests
[ -x test/server/run.sh ] && suite server test/server/run.sh
[ -x test/faults/run-fast.sh ] && suite faults test/faults/run-fast.sh
[ -x test/faults/sanitize.sh ] && suite sanitizers own_cluster test/faults/sanitize.sh
# Last: the Debian packages for 15 replace `make install`'s files for a while
# (built, installed, tested, purged), then make install puts them back.
suite packages test/packages/run.sh

echo
[ $failed -gt 0 ] && echo "failed suites: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
