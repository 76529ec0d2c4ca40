#!/usr/bin/env bash
# test/versions/edition.sh: the plain-SQL edition's suites on $PG_CONFIG's
# major (make test-versions runs it on the newest, 18; make test runs them on
# 15): lint where plpgsql_check is installed for that major, regress,
# isolation and storm, through test/edition/run.sh.  Each suite prints its
# time; the last line is "N passed, N failed" over the suites.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
: "${PG_CONFIG:=pg_config}"
export PATH=$("$PG_CONFIG" --bindir):$PATH
echo "# plain-SQL edition on $("$PG_CONFIG" --version)"
suites="regress isolation storm"
if [ -f "$("$PG_CONFIG" --sharedir)/extension/plpgsql_check.control" ]; then
	suites="lint $suites"
else
	echo "--- edition lint: skipped (no plpgsql_check for this major)"
fi
start=$SECONDS
out=$(mktemp)
trap 'rm -f "$out"' EXIT
test/edition/run.sh $suites 2>&1 | tee "$out"
passed=$(grep -c '^--- edition [a-z]*: ok' "$out")
failed=$(grep -c '^--- edition [a-z]*: FAILED' "$out")
echo "# plain-SQL edition: $((SECONDS - start))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
