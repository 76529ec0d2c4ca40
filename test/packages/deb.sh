#!/usr/bin/env bash
# test/packages/deb.sh [MAJOR...]: build the Debian packages (debian/) for each
# PostgreSQL MAJOR (default: every major of the test matrix, 15 17 18) into
# build/deb/MAJOR/, then lintian them (errors fail, warnings must be overridden
# in debian/*.lintian-overrides).  15 builds on this machine, 17 and 18 in the
# cached Debian roots of test/versions/major.sh (trixie, sid): each major's
# packages are built on the release that ships that major.  The build runs in a
# scratch copy of the tree's files (git ls-files): nothing is generated in the
# source tree.  Needs root for the roots (make deb asks sudo).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(15 17 18)
out=$repo/build/deb
build_deps=(debhelper cmake libpq-dev pkg-config postgresql-server-dev-all)

# copy_tree DIR: the repository's files (tracked and new, not ignored) into DIR.
copy_tree() {
	rm -rf "$1"
	mkdir -p "$1"
	if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
			tar --null -T - -cf -) | tar -xf - -C "$1"
	else
		(cd "$repo" && tar --exclude=./build --exclude=./results -cf - .) | tar -xf - -C "$1"
	fi
}

# The commands that build in DIR/src for MAJOR: debian/control names that
# major only (pg_buildext updatecontrol), then a binary-only build.
build_cmds() {
	echo "set -e; cd '$1/src'; export PG_SUPPORTED_VERSIONS=$2 DEB_BUILD_OPTIONS='parallel=2 nocheck';" \
		"pg_buildext updatecontrol >/dev/null; dpkg-buildpackage -b -us -uc >'$1/build.log' 2>&1" \
		"|| { tail -n 60 '$1/build.log'; exit 1; }"
}

for major in "${majors[@]}"; do
	start=$SECONDS
	dir=$out/$major
	rm -rf "$dir"
	copy_tree "$dir/src"
	extra=()
	case $major in
	15) release= ;;
	17) release=trixie ;;
	# sid's root has experimental's libpq-dev (for 19), whose libpq.pc requires
	# libcurl without depending on its -dev package: pkg-config needs it.
	18) release=sid extra=(libcurl4-openssl-dev) ;;
	*)
		echo "deb.sh: no Debian release here ships PostgreSQL $major" >&2
		exit 69
		;;
	esac
	if [ -z "$release" ]; then
		[ -x /usr/lib/postgresql/$major/bin/pg_config ] || {
			echo "deb.sh: PostgreSQL $major's server-dev package is missing (make deps)" >&2
			exit 69
		}
		bash -c "$(build_cmds "$dir" "$major")"
	else
		(cd "$dir" && CHROOT_SHARE=$dir "$repo/test/versions/chroot.sh" $release \
			"${build_deps[@]}" "${extra[@]}" "postgresql-$major" "postgresql-server-dev-$major" -- \
			bash -c "$(build_cmds "$dir" "$major")")
	fi
	rm -rf "$dir/src"
	echo "deb.sh: PostgreSQL $major: $(cd "$dir" && ls *.deb | tr '\n' ' ')($((SECONDS - start))s)"
	# Errors and warnings fail; a warning that stays has an override with its reason.
	lintian --fail-on error,warning "$dir"/*.changes
done
