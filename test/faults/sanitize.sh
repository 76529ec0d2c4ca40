#!/usr/bin/env bash
# test/faults/sanitize.sh [SCENARIO...]: build the client and its tests once with
# AddressSanitizer + UndefinedBehaviorSanitizer (cmake -DCRONLOCK_SANITIZE=ON, into
# build/asan), run the unit tests, then run fault scenarios with the sanitized
# cronlock (default: the ones that stress the run loop, the child and the
# reconnects).  Any sanitizer report in any cronlock log fails the scenario (lib.sh
# checks every log).  Prints "N passed, N failed" last; exit 0 only if none failed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
B=$REPO/build/asan
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
passed=0
failed=0

say() { echo "$1 - sanitize: $2"; }

if cmake -S "$REPO/client" -B "$B" -DCRONLOCK_SANITIZE=ON -DCRONLOCK_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >"$B.configure.log" 2>&1 &&
	cmake --build "$B" -j2 >"$B.build.log" 2>&1; then
	say ok "client and tests build with -DCRONLOCK_SANITIZE=ON"
	passed=$((passed + 1))
else
	say "not ok" "client and tests build with -DCRONLOCK_SANITIZE=ON (see $B.build.log)"
	tail -n 30 "$B.build.log" "$B.configure.log" 2>/dev/null
	echo "$passed passed, $((failed + 1)) failed"
	exit 1
fi

if ctest --test-dir "$B" --output-on-failure >"$B.ctest.log" 2>&1; then
	say ok "unit tests pass under ASan/UBSan ($(grep -oE '[0-9]+ tests? passed|100% tests passed, 0 tests failed out of [0-9]+' "$B.ctest.log" | tail -1))"
	passed=$((passed + 1))
else
	say "not ok" "unit tests under ASan/UBSan"
	tail -n 40 "$B.ctest.log"
	failed=$((failed + 1))
fi
if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$B.ctest.log"; then
	say "not ok" "sanitizer reports in the unit tests"
	grep -E -A5 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$B.ctest.log" | head -40
	failed=$((failed + 1))
else
	say ok "no sanitizer report in the unit tests"
	passed=$((passed + 1))
fi

if [ ! -x "$B/cronlock" ]; then
	say "not ok" "no sanitized cronlock at $B/cronlock"
	echo "$passed passed, $((failed + 1)) failed"
	exit 1
fi
[ $# -gt 0 ] || set -- paused-wrapper kill9-wrapper db-dies restart-midrun frozen-backend
out=$(mktemp)
CRONLOCK_BIN=$B/cronlock "$HERE/run-fast.sh" "$@" | tee "$out"
last=$(tail -1 "$out")
rm -f "$out"
if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
	passed=$((passed + BASH_REMATCH[1]))
	failed=$((failed + BASH_REMATCH[2]))
else
	failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
