#!/usr/bin/env bash
# test/install/install_test.sh: `make install` honours PREFIX and DESTDIR, a
# C++ program builds against the result with pkg-config, and `make uninstall`
# removes every file again.  Ends with "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
stage=$(mktemp -d /tmp/cronlock-install.XXXXXX)
prefix=/opt/cronlock-test
trap 'rm -rf "$stage"' EXIT

passed=0
failed=0
check() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "ok   $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		failed=$((failed + 1))
	fi
}

make -s -C "$repo" install DESTDIR="$stage" PREFIX="$prefix" >"$stage.log" 2>&1
check "make install DESTDIR PREFIX" test $? = 0
root=$stage$prefix
pgext=$stage$(pg_config --sharedir)/extension
check "cronlock in PREFIX/bin" test -x "$root/bin/cronlock"
check "man page" test -f "$root/share/man/man1/cronlock.1"
check "headers" test -f "$root/include/cronlock/cronlock.hpp"
check "static and shared library" test -f "$root/lib/libcronlock.a" -a -e "$root/lib/libcronlock.so"
check "pkg-config file" test -f "$root/lib/pkgconfig/cronlock.pc"
check "extension control and script" test -f "$pgext/cron_lock.control" -a -f "$pgext/cron_lock--1.0.sql"
check "extension module" test -f "$stage$(pg_config --pkglibdir)/cron_lock.so"
check "plain-SQL edition files" test -f "$root/share/cronlock/cron_lock.sql" -a -f "$root/share/cronlock/cron_lock_uninstall.sql" -a -f "$root/share/cronlock/cron_lock_purge.sql" -a -f "$root/share/cronlock/cron_lock_move_out.sql" -a -f "$root/share/cronlock/cron_lock_move_in.sql"
check "nothing outside DESTDIR" test -z "$(find "$prefix" 2>/dev/null)"
check "installed cronlock runs" "$root/bin/cronlock" --version

# The staged .pc names PREFIX; the sysroot maps it into the stage.
flags=$(PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_PATH=$root/lib/pkgconfig pkg-config --cflags --libs cronlock)
check "pkg-config --cflags --libs cronlock" test -n "$flags"
# shellcheck disable=SC2086
check "a C++ program compiles and links with those flags" \
	g++ -o "$stage/consumer" "$repo/test/install/consumer.cpp" $flags
check "and runs" env LD_LIBRARY_PATH="$root/lib" "$stage/consumer"

make -s -C "$repo" uninstall DESTDIR="$stage" PREFIX="$prefix" >>"$stage.log" 2>&1
check "make uninstall" test $? = 0
left=$(find "$stage" \( -type f -o -type l \) ! -name consumer)
check "uninstall left no file behind" test -z "$left"
[ -n "$left" ] && echo "$left"
rm -f "$stage.log"

echo "$passed passed, $failed failed"
[ $failed = 0 ]
