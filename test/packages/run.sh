#!/usr/bin/env bash
# test/packages/run.sh: the Debian packages for PostgreSQL 15, tested from the
# installed files (make test's "packages" suite; root, or sudo).
#   1. build them (deb.sh 15: dpkg-buildpackage, then lintian)
#   2. take away what `make install` put into the system, check nothing is left
#   3. apt-get install ./build/deb/15/*.deb; hardening-check and the libraries
#      of /usr/bin/cronlock against the Depends dpkg-shlibdeps wrote
#   4. debian/tests with autopkgtest (null testbed: this machine) on a copy of
#      the tree's files: pg_regress via pg_buildext installcheck, and
#      /usr/bin/cronlock run
#   5. reinstall (dpkg --verify), purge, and no file of the packages (dpkg -L)
#      and no new *cron_lock*/*cronlock* file under /usr /etc /var/lib is left
#   6. `make install` again, as the other suites expect the system
# Ends with "N passed, N failed".
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
start=$SECONDS
passed=0 failed=0
tmp=$(mktemp -d /tmp/cronlock-packages.XXXXXX)
chmod 755 "$tmp"
debs=$repo/build/deb/15
packages=(postgresql-15-cron-lock cronlock libcronlock2 libcronlock-dev cronlock-sql)
export DEBIAN_FRONTEND=noninteractive
# make test's own cluster is in PG*: pg_virtualenv would start on its port.
unset PGHOST PGPORT PGUSER PGDATABASE

check() { # NAME CMD...: CMD's output is shown only when it fails
	local name=$1 t0=$SECONDS
	shift
	if "$@" >"$tmp/out" 2>&1; then
		passed=$((passed + 1))
		echo "ok   $name ($((SECONDS - t0))s)"
	else
		failed=$((failed + 1))
		echo "FAIL $name ($((SECONDS - t0))s)"
		tail -n 80 "$tmp/out" | sed 's/^/     /'
	fi
}
finish() {
	echo "# packages: $((SECONDS - start))s"
	echo "$passed passed, $failed failed"
	rm -rf "$tmp"
	[ "$failed" -eq 0 ]
}
# Whatever happens: the packages go, the system install comes back.
restore() {
	"${sudo[@]}" apt-get purge -y -qq "${packages[@]}" >/dev/null 2>&1 || true
	"${sudo[@]}" make -s install >/dev/null
	[ ! -f "$tmp/stale.tar" ] || "${sudo[@]}" tar -xPf "$tmp/stale.tar"
}

# scan DIR...: files of cron_lock under DIR (not in the repository).
scan() {	# as root: a user's find cannot read every directory, and fails
	"${sudo[@]}" find "$@" -xdev \( -iname '*cron_lock*' -o -iname '*cronlock*' \) \
		-not -path "$repo/*" -print 2>/dev/null | sort
}
# Nothing new under /usr, /etc or /var/lib since before the packages came.
# /etc and /var/lib are compared, never cleared: they hold the machine's own
# configuration, cronlock's state and maybe a cluster named after it.
nothing_left() {
	scan /usr /etc /var/lib | comm -23 - "$tmp/baseline" >"$tmp/left"
	[ ! -s "$tmp/left" ] || { echo "left behind:"; cat "$tmp/left"; return 1; }
}

# REUSE=1 (by hand, while working on the tests): the packages already in build/deb/15.
if [ -z "${REUSE:-}" ] || [ ! -d "$debs" ]; then
	check "build the packages for PostgreSQL 15, lintian clean" test/packages/deb.sh 15
fi
if [ ! -f "$debs/cronlock_"*.deb ]; then
	finish
	exit
fi
trap restore EXIT
files=() # the packages' .deb files (not the -dbgsym ones)
for p in "${packages[@]}"; do files+=("$debs/${p}_"*.deb); done

# Files an older `make install` wrote that the current one does not (a header
# made internal since) are kept aside and put back at the end.
uninstall_system() {
	local installed
	# A run cut short may have left the packages installed.
	installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null |
		awk '/ installed$/ {print $1}')
	[ -z "$installed" ] || "${sudo[@]}" apt-get purge -y -qq $installed || return 1
	"${sudo[@]}" make -s uninstall || return 1
	# Only under /usr, where make install writes.
	scan /usr >"$tmp/stale"
	if [ -s "$tmp/stale" ]; then
		echo "kept aside, from an older make install:"
		cat "$tmp/stale"
		"${sudo[@]}" tar -cPf "$tmp/stale.tar" -T "$tmp/stale" &&
			xargs -d '\n' "${sudo[@]}" rm -rf <"$tmp/stale" || return 1
	fi
	scan /usr /etc /var/lib >"$tmp/baseline"
}
check "make uninstall (and older installs' files kept aside)" uninstall_system

install_debs() {
	"${sudo[@]}" apt-get install -y -qq "${files[@]}" &&
		for p in "${packages[@]}"; do dpkg -L "$p"; done | sort -u >"$tmp/files" &&
		[ -x /usr/bin/cronlock ] && [ -f /usr/share/postgresql/15/extension/cron_lock.control ]
}
check "apt-get install ./build/deb/15/*.deb" install_debs

# CET cannot show where the C start files carry no IBT note (Debian 12): as
# test/install/install_test.sh, that line is checked only where they do.
cf=--nocfprotection
readelf -n "$(gcc -print-file-name=crt1.o)" 2>/dev/null | grep IBT >/dev/null && cf=
check "hardening-check $cf /usr/bin/cronlock" hardening-check $cf /usr/bin/cronlock
# owner FILE: the package of FILE, under whichever name dpkg has it (merged
# /usr: /lib/x86_64-linux-gnu/libm.so.6 may be /usr/lib/... on disk).
owner() {
	local f p out
	for f in "$1" "$(readlink -f "$1")"; do
		for p in "$f" "${f#/usr}" "/usr$f"; do
			out=$(dpkg -S "$p" 2>/dev/null) && { echo "${out%%:*}"; return 0; }
		done
	done
}
# Every library the command loads comes from a package its Depends names.
shlibs() {
	local depends lib path pkg ok=0
	depends=$(dpkg-query -W -f='${Depends}' cronlock)
	echo "Depends: $depends"
	for lib in $(objdump -p /usr/bin/cronlock | awk '/NEEDED/ {print $2}'); do
		path=$(ldd /usr/bin/cronlock | awk -v l="$lib" '$1 == l {print $3}')
		pkg=$(owner "$path")
		if [[ ", $depends" == *", ${pkg%%:*}"* ]] || [[ ", $depends" == *"| ${pkg%%:*}"* ]]; then
			echo "$lib: $pkg"
		else
			echo "$lib ($path): package ${pkg:-?} missing from Depends"
			ok=1
		fi
	done
	# libpq shared, no OpenSSL linked in statically. (grep reads all its input:
	# grep -q under pipefail failed when objdump got SIGPIPE.)
	objdump -p /usr/bin/cronlock | grep 'NEEDED.*libpq\.so\.5' >/dev/null || { echo "libpq not shared"; ok=1; }
	! nm -D --defined-only /usr/bin/cronlock 2>/dev/null | grep ' SSL_new$' >/dev/null || { echo "OpenSSL inside"; ok=1; }
	return $ok
}
check "dpkg-shlibdeps named every library of /usr/bin/cronlock" shlibs

# The tests run from a copy of the tree's files (no build output in it), so
# nothing but the installed packages can be used.
(git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar --null -T - -cf -) | (mkdir -p "$tmp/src" && tar -xf - -C "$tmp/src")
chmod -R a+rX "$tmp/src"
check "autopkgtest (null testbed): pg_buildext installcheck, cronlock run" \
	"${sudo[@]}" autopkgtest -B "$tmp/src" -- null

reinstall() {
	"${sudo[@]}" apt-get install --reinstall -y -qq "${files[@]}" && "${sudo[@]}" dpkg --verify "${packages[@]}"
}
check "reinstall" reinstall

purge() {
	local f left=0
	"${sudo[@]}" apt-get purge -y -qq "${packages[@]}" || return 1
	while read -r f; do
		# Directories shared with other packages (/usr/lib/x86_64-linux-gnu, ...) stay.
		if [ -e "$f" ] && { [ ! -d "$f" ] || [[ $f == *cron[-_]lock* || $f == *cronlock* ]]; }; then
			echo "left behind: $f"
			left=1
		fi
	done <"$tmp/files"
	[ $left = 0 ] && nothing_left
}
check "purge leaves no file behind (dpkg -L before, a scan after)" purge

trap - EXIT
reinstall_system() {
	"${sudo[@]}" make -s install >/dev/null &&
		{ [ ! -f "$tmp/stale.tar" ] || "${sudo[@]}" tar -xPf "$tmp/stale.tar"; } &&
		[ -f "$(pg_config --sharedir)/extension/cron_lock.control" ] && [ -x /usr/local/bin/cronlock ]
}
check "make install again (the system as the other suites expect it)" reinstall_system
finish
