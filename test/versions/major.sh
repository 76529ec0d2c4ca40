#!/usr/bin/env bash
# test/versions/major.sh MAJOR CMD...: run CMD (a path in the repository or a
# command) with PG_CONFIG naming PostgreSQL MAJOR's pg_config and its bindir
# first in PATH: on this machine if it has that major (or $PG_CONFIG is of
# that major), else in the cached Debian root that ships it (chroot.sh):
#   15  bookworm (this machine), or trixie's root beside 17 (for pg_upgrade)
#   17  trixie     18  sid     19  sid, from experimental (a pre-release)
# Passes STORM_SECONDS, KEEP and CHROOT_SHARE through.  Exit 69: that major
# is not served by Debian's mirror.
set -euo pipefail
major=$1
shift
here=$(cd "$(dirname "$0")" && pwd)

run_with() { # PG_CONFIG CMD...
	local pgc=$1
	shift
	PG_CONFIG=$pgc PATH=$("$pgc" --bindir):$PATH "$@"
}
major_of() { "$1" --version 2>/dev/null | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p'; }

if [ -n "${PG_CONFIG:-}" ] && [ "$(major_of "$PG_CONFIG")" = "$major" ]; then
	run_with "$PG_CONFIG" "$@"
	exit
fi
if [ -x "/usr/lib/postgresql/$major/bin/pg_config" ] && [ -z "${IN_ROOT:-}" ]; then
	run_with "/usr/lib/postgresql/$major/bin/pg_config" "$@"
	exit
fi
case $major in
15) release=trixie suite=/bookworm ;;
17) release=trixie suite= ;;
18) release=sid suite= ;;
19) release=sid suite=/experimental ;;
*)
	echo "major.sh: no Debian release here ships PostgreSQL $major" >&2
	exit 69
	;;
esac
pgc=/usr/lib/postgresql/$major/bin/pg_config
exec "$here/chroot.sh" $release "postgresql-$major$suite" "postgresql-server-dev-$major$suite" -- \
	env PG_CONFIG=$pgc PATH=/usr/lib/postgresql/$major/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	STORM_SECONDS="${STORM_SECONDS:-}" KEEP="${KEEP:-}" CHROOT_SHARE="${CHROOT_SHARE:-}" "$@"
