#!/usr/bin/env bash
# test/edition/run.sh SUITE...: the shared test files against the plain-SQL
# edition (sql-edition/), installed by a non-superuser database owner, on a
# throwaway cluster of its own.  SUITE: lint, regress, isolation, storm.
#
# The cluster's superuser is "cron_lock_super"; the owner that installs the
# edition and runs every test is a role named "postgres" with CREATEDB and
# CREATEROLE only (like a Neon or RDS database owner), so that outputs that
# name the owner (ACLs) read as they do for the extension.  Expected outputs
# are the extension's, overlaid by sql-edition/expected/ where the README
# documents a difference.  Each suite ends with pg_regress's summary or
# "N passed, N failed"; the script exits non-zero if any suite failed.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
source test/lib/cluster.sh

version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" extension/cron_lock.control)
sql-edition/build.sh build/sql-edition "$version" || exit 1
edition=$repo/build/sql-edition/cron_lock.sql
pgxs=$(dirname "$(pg_config --pgxs)")/../..
super=cron_lock_super

dir=$(mktemp -d /tmp/cronlock-edition.XXXXXX)
chmod 755 "$dir"
trap 'cluster_stop "$dir/pg" immediate; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
CLUSTER_SUPERUSER=$super cluster_create "$dir/pg" && cluster_start "$dir/pg" || exit 1
eval "$(cluster_env "$dir/pg")"
quiet='-c client_min_messages=warning'
psql -qX -U $super -d postgres -v ON_ERROR_STOP=1 \
	-c "CREATE ROLE postgres LOGIN CREATEDB CREATEROLE" || exit 1

# fresh_db NAME: a database the owner owns, set up as pg_regress sets up its
# own (pg_regress --use-existing skips that, and a non-superuser may not set
# lc_messages), with the edition installed by the owner.
fresh_db() {
	PGOPTIONS=$quiet psql -qX -U $super -d postgres -v ON_ERROR_STOP=1 \
		-c "DROP DATABASE IF EXISTS \"$1\"" \
		-c "CREATE DATABASE \"$1\" TEMPLATE template0 OWNER postgres" \
		-c "ALTER DATABASE \"$1\" SET lc_messages TO 'C'" \
		-c "ALTER DATABASE \"$1\" SET lc_monetary TO 'C'" \
		-c "ALTER DATABASE \"$1\" SET lc_numeric TO 'C'" \
		-c "ALTER DATABASE \"$1\" SET lc_time TO 'C'" \
		-c "ALTER DATABASE \"$1\" SET bytea_output TO 'hex'" \
		-c "ALTER DATABASE \"$1\" SET timezone_abbreviations TO 'Default'" || return 1
	PGOPTIONS=$quiet psql -qX -U postgres -d "$1" -v ON_ERROR_STOP=1 -1 -f "$edition" || return 1
}

# overlay OUT BASE EDITION: expected outputs, the edition's replacing the extension's.
overlay() {
	mkdir -p "$1"
	cp "$2"/*.out "$1"/
	ls "$3"/*.out >/dev/null 2>&1 && cp "$3"/*.out "$1"/
	return 0
}

# The regression files, minus those about the C extension's own installation
# (README, section on the plain-SQL edition, says which and why).
regress_tests() {
	local skip=" install tables "
	sed -n 's/^REGRESS = //p' Makefile | tr ' ' '\n' | while read -r t; do
		[ -n "$t" ] && [[ $skip != *" $t "* ]] && echo "$t"
	done
}

suite_regress() {
	local in=$dir/regress
	rm -rf "$in" "$dir/$(basename "$in")-out" && mkdir -p "$in"
	ln -s "$repo/sql" "$in/sql"
	overlay "$in/expected" expected sql-edition/expected
	fresh_db edition_regression || return 1
	"$pgxs/src/test/regress/pg_regress" --use-existing --dbname=edition_regression \
		--user=postgres --inputdir="$in" --outputdir="$dir/regress-out" \
		$(regress_tests) || { cat "$dir/regress-out/regression.diffs"; return 1; }
}

suite_isolation() {
	local in=$dir/isolation
	rm -rf "$in" "$dir/$(basename "$in")-out" && mkdir -p "$in"
	ln -s "$repo/test/isolation/specs" "$in/specs"
	overlay "$in/expected" test/isolation/expected sql-edition/expected/isolation
	fresh_db edition_isolation || return 1
	"$pgxs/src/test/isolation/pg_isolation_regress" --use-existing --dbname=edition_isolation \
		--user=postgres --inputdir="$in" --outputdir="$dir/isolation-out" \
		$(cd test/isolation/specs && ls *.spec | sed 's/\.spec$//') ||
		{ cat "$dir/isolation-out/regression.diffs"; return 1; }
}

suite_storm() {
	CRONLOCK_STORM_INSTALL="psql -qX -v ON_ERROR_STOP=1 -1 -f $edition" test/storm/storm.sh 15
}

# plpgsql_check on every PL/pgSQL function of the edition: zero warnings.
suite_lint() {
	fresh_db edition_lint || return 1
	psql -qXAt -U $super -d edition_lint -v ON_ERROR_STOP=1 >"$dir/lint.out" <<'SQL' || return 1
CREATE EXTENSION plpgsql_check;
SELECT p.oid::regprocedure || ': ' || c
  FROM pg_proc p
  JOIN pg_language l ON l.oid = p.prolang AND l.lanname = 'plpgsql'
  CROSS JOIN LATERAL plpgsql_check_function(p.oid, fatal_errors => false,
		extra_warnings => true, performance_warnings => false, security_warnings => true) AS c
 WHERE p.pronamespace IN ('public'::regnamespace, 'cron_lock'::regnamespace)
   AND p.prorettype <> 'trigger'::regtype;
SELECT 'checked ' || count(*) || ' functions' FROM pg_proc p
  JOIN pg_language l ON l.oid = p.prolang AND l.lanname = 'plpgsql'
 WHERE p.pronamespace IN ('public'::regnamespace, 'cron_lock'::regnamespace);
SQL
	local n
	n=$(grep -vc '^checked ' "$dir/lint.out")
	grep -v '^checked ' "$dir/lint.out"
	grep '^checked ' "$dir/lint.out"
	if [ "$n" -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed ($n findings)"; return 1; fi
}

rc=0
for s in "$@"; do
	echo "--- edition $s"
	start=$SECONDS
	if "suite_$s"; then
		echo "--- edition $s: ok ($((SECONDS - start))s)"
	else
		echo "--- edition $s: FAILED ($((SECONDS - start))s)"
		rc=1
	fi
done
exit $rc
