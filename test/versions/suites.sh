#!/usr/bin/env bash
# test/versions/suites.sh: build cron_lock against $PG_CONFIG (any major), install
# it there, and run the extension's suites on a throwaway cluster of that major:
# pg_regress files, isolation specs, the storm with its history checker and
# the non-HOT heartbeat test (build.sh builds in a scratch copy).  Each suite
# prints its time; the last line is "N passed, N failed" over the suites.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
: "${PG_CONFIG:=pg_config}"
bindir=$("$PG_CONFIG" --bindir) || exit 1
export PATH=$bindir:$PATH PG_BINDIR=$bindir
major=$("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
work=$(mktemp -d "/tmp/cron_lock_pg$major.XXXXXX")
chmod 755 "$work"
source "$repo/test/lib/cluster.sh"
trap 'cluster_stop "$work/pg" immediate; rm -rf "$work"' EXIT

echo "# PostgreSQL $major: $("$PG_CONFIG" --version), build in $work"
start=$SECONDS
"$repo/test/versions/build.sh" "$work" || {
	echo "=== build: FAILED ($((SECONDS - start))s)"
	echo "0 passed, 1 failed"
	exit 1
}
echo "=== build: ok ($((SECONDS - start))s)"
cd "$work"

cluster_create "$work/pg" && cluster_start "$work/pg" || exit 1
eval "$(cluster_env "$work/pg")"

passed=0
failed=0
suite() {
	local name=$1 t0=$SECONDS
	shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
		echo "=== $name: ok ($((SECONDS - t0))s)"
	else
		failed=$((failed + 1))
		echo "=== $name: FAILED ($((SECONDS - t0))s)"
		[ -f regression.diffs ] && head -n 200 regression.diffs && rm -f regression.diffs
	fi
}
suite regress make -s PG_CONFIG="$PG_CONFIG" installcheck ISOLATION=
suite isolation make -s PG_CONFIG="$PG_CONFIG" installcheck REGRESS=
suite storm test/storm/storm.sh "${STORM_SECONDS:-10}"
suite nonhot test/versions/nonhot.sh

echo "# PostgreSQL $major: $((SECONDS - start))s"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
