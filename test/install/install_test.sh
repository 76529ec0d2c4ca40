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
check "bash completion" test -f "$root/share/bash-completion/completions/cronlock"
check "headers" test -f "$root/include/cronlock/cronlock.hpp"
check "static and shared library" test -f "$root/lib/libcronlock.a" -a -e "$root/lib/libcronlock.so"
check "pkg-config file" test -f "$root/lib/pkgconfig/cronlock.pc"
check "extension control and script" test -f "$pgext/cron_lock.control" -a -f "$pgext/cron_lock--1.0.sql"
check "extension module" test -f "$stage$(pg_config --pkglibdir)/cron_lock.so"
check "plain-SQL edition files" test -f "$root/share/cronlock/cron_lock.sql" -a -f "$root/share/cronlock/cron_lock_uninstall.sql" -a -f "$root/share/cronlock/cron_lock_purge.sql" -a -f "$root/share/cronlock/cron_lock_move_out.sql" -a -f "$root/share/cronlock/cron_lock_move_in.sql"
check "nothing outside DESTDIR" test -z "$(find "$prefix" 2>/dev/null)"
check "installed cronlock runs" "$root/bin/cronlock" --version
# Built like a distribution package: PIE, full RELRO, BIND_NOW, stack protector,
# FORTIFY (hardening-check from devscripts fails on any missing line), and the
# shared libpq, so its security updates reach cronlock without a rebuild. Control
# flow integrity (CET) is compiled in (-fcf-protection) but cannot show on Debian 12:
# its C start files carry no IBT/SHSTK note, so no program linked there has one
# (/bin/ls and postgres fail that line too); where they do, it is checked.
if command -v hardening-check >/dev/null; then
	cf=--nocfprotection
	readelf -n "$(gcc -print-file-name=crt1.o)" 2>/dev/null | grep IBT >/dev/null && cf=
	hardening-check $cf "$root/bin/cronlock" | sed 's/^/     /'
	check "hardening-check passes every line" hardening-check $cf "$root/bin/cronlock"
else
	echo "FAIL hardening-check not installed (test/install-deps.sh installs devscripts)"
	failed=$((failed + 1))
fi
needed=$(readelf -d "$root/bin/cronlock" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
check "cronlock links the shared libpq" grep -qx 'libpq\.so\.5' <<<"$needed"

# The staged .pc names PREFIX; the sysroot maps it into the stage.
flags=$(PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_PATH=$root/lib/pkgconfig pkg-config --cflags --libs cronlock)
check "pkg-config --cflags --libs cronlock" test -n "$flags"
# shellcheck disable=SC2086
check "a C++ program compiles and links with those flags" \
	g++ -o "$stage/consumer" "$repo/test/install/consumer.cpp" $flags
check "and runs" env LD_LIBRARY_PATH="$root/lib" "$stage/consumer"
check "the shared library's SONAME is libcronlock.so.2" \
	grep -q 'SONAME.*\[libcronlock\.so\.2\]' <<<"$(readelf -d "$root/lib/libcronlock.so")"
# Internals stay hidden: only cronlock:: names (CRONLOCK_API) are exported.
exported=$(nm -D --defined-only "$root/lib/libcronlock.so" | awk '{print $3}' | c++filt)
echo "     $(wc -l <<<"$exported") exported symbols"
check "no standard-library or internal symbol exported" \
	test -z "$(grep -v -e '^cronlock::' -e ' for cronlock::' -e '^CRONLOCK_2$' <<<"$exported")"
check "resolve_host (internal) is not exported" test -z "$(grep resolve_host <<<"$exported")"
check "Session and Connection (internal) are not exported" \
	test -z "$(grep -e 'cronlock::Session' -e 'cronlock::Connection' <<<"$exported")"
check "the internal headers are not installed" \
	test ! -e "$root/include/cronlock/lease.hpp" -a ! -e "$root/include/cronlock/connection.hpp"

# The same program through find_package(cronlock) (the staged package config is
# relocatable: CMAKE_PREFIX_PATH points into the stage).
mkdir -p "$stage/cmake-consumer"
cp "$repo/test/install/consumer.cpp" "$stage/cmake-consumer/"
cat >"$stage/cmake-consumer/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(consumer CXX)
find_package(cronlock 2 REQUIRED)
add_executable(consumer consumer.cpp)
target_link_libraries(consumer PRIVATE cronlock::cronlock)
EOF
check "find_package(cronlock) configures and builds a consumer" \
	sh -c "cmake -S '$stage/cmake-consumer' -B '$stage/cmake-consumer/build' -DCMAKE_PREFIX_PATH='$root' >/dev/null && cmake --build '$stage/cmake-consumer/build' >/dev/null"
check "and it runs" env LD_LIBRARY_PATH="$root/lib" "$stage/cmake-consumer/build/consumer"
rm -rf "$stage/cmake-consumer"

make -s -C "$repo" uninstall DESTDIR="$stage" PREFIX="$prefix" >>"$stage.log" 2>&1
check "make uninstall" test $? = 0
left=$(find "$stage" \( -type f -o -type l \) ! -name consumer)
check "uninstall left no file behind" test -z "$left"
[ -n "$left" ] && echo "$left"
left=$(find "$root" -depth -mindepth 1 -type d -empty \( -name '*cronlock*' -o -name completions -o -name bash-completion \))
check "uninstall left no directory of its own behind" test -z "$left"
[ -n "$left" ] && echo "$left"
rm -f "$stage.log"

echo "$passed passed, $failed failed"
[ $failed = 0 ]
