#!/usr/bin/env bash
# test/versions/run.sh (make test-versions): the extension's suites on every
# PostgreSQL major Debian ships (suites.sh via major.sh: 15 here, 17 and 18 in
# cached Debian roots), then real clusters across majors: dump/restore
# upgrades 15 -> 17 and 17 -> 18, pg_upgrade 15 -> 17, and the token sequence
# failover -> upgrade -> failover; the plain-SQL edition's suites on 18
# (edition.sh).  19 runs too when Debian serves it; it is a
# pre-release, so its result is reported but not counted.  Needs root
# (debootstrap, chroot).  Each part prints its time; the last line is
# "N passed, N failed" over the parts.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
[ "$(id -u)" = 0 ] || {
	echo "test-versions: needs root (debootstrap, chroot, mount)" >&2
	exit 1
}

passed=0
failed=0
failed_names=()
start=$SECONDS
part() { # NAME CMD...
	local name=$1 t0=$SECONDS rc
	shift
	echo
	echo "##### $name"
	timeout -k 10 900 "$@"
	rc=$?
	if [ $rc = 0 ]; then
		passed=$((passed + 1))
		echo "##### $name: ok ($((SECONDS - t0))s)"
	else
		failed=$((failed + 1))
		failed_names+=("$name")
		echo "##### $name: FAILED, status $rc ($((SECONDS - t0))s)"
	fi
}

# The Debian roots are made (once) with every package they need while 15's
# suites run here; chroot.sh's lock makes the later users wait for them.
prepare() { test/versions/chroot.sh "$@" -- true 2>&1 | sed 's/^/# /'; }
prepare trixie postgresql-17 postgresql-server-dev-17 postgresql-15/bookworm postgresql-server-dev-15/bookworm &
{
	prepare sid postgresql-18 postgresql-server-dev-18 postgresql-18-plpgsql-check
	prepare sid postgresql-19/experimental postgresql-server-dev-19/experimental
} &

for m in 15 17 18; do
	part "PostgreSQL $m" test/versions/major.sh $m test/versions/suites.sh
done
# The plain-SQL edition on the newest major (15's run in make test).
part "plain-SQL edition on PostgreSQL 18" test/versions/major.sh 18 test/versions/edition.sh
part "dump/restore 15 -> 17" test/versions/upgrade_dump.sh 15 17
part "dump/restore 17 -> 18" test/versions/upgrade_dump.sh 17 18
part "pg_upgrade 15 -> 17" test/versions/pg_upgrade.sh
part "tokens: failover, pg_upgrade, failover" test/versions/token_failover.sh

echo
echo "##### PostgreSQL 19 (pre-release: reported, not counted)"
t0=$SECONDS
timeout -k 10 900 test/versions/major.sh 19 test/versions/suites.sh
case $? in
0) echo "##### PostgreSQL 19: ok ($((SECONDS - t0))s)" ;;
69) echo "##### PostgreSQL 19: not served by Debian's mirror ($((SECONDS - t0))s)" ;;
*) echo "##### PostgreSQL 19: FAILED, not counted ($((SECONDS - t0))s)" ;;
esac

wait
echo
echo "# test-versions: $((SECONDS - start))s"
[ $failed -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
