#!/usr/bin/env bash
# test/faults/run-fast.sh [SCENARIO...]: the fault-injection scenarios that
# `make test` runs (all of test/faults/scenarios/ by default), one after the
# other, each in its own process with its own throwaway clusters, under a hard
# time limit.  Prints every assertion ("ok - ..." / "not ok - ...") and, last,
# exactly "N passed, N failed".  Exit status 0 only when nothing failed.
#
# Env: CRONLOCK_BIN (default build/client/cronlock), FAULTS_VERBOSE=1 (trace),
# FAULTS_KEEP_FAILED=1 (keep the temp dir of a failed scenario),
# FAULTS_SCENARIO_TIMEOUT (seconds per scenario, default 150).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export REPO
export CRONLOCK_BIN=${CRONLOCK_BIN:-$REPO/build/client/cronlock}
limit=${FAULTS_SCENARIO_TIMEOUT:-150}

"$HERE/build.sh" >/dev/null || {
	echo "not ok - faults: the fault proxy does not build"
	echo "0 passed, 1 failed"
	exit 1
}

if [ $# -gt 0 ]; then
	scenarios=()
	for s in "$@"; do scenarios+=("$HERE/scenarios/${s%.sh}.sh"); done
else
	scenarios=("$HERE"/scenarios/*.sh)
fi

passed=0
failed=0
t_all=$SECONDS
summary=()
for s in "${scenarios[@]}"; do
	name=$(basename "$s" .sh)
	t0=$SECONDS
	out=$(mktemp)
	SCENARIO=$name timeout -k 10 "$limit" bash "$s" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)
	p=0 f=0
	if [ -n "$last" ]; then
		p=${last%% passed*}
		f=${last#*, }
		f=${f%% failed}
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# Died, timed out or failed outside an assertion: that is a failure too.
		echo "not ok - $name: the scenario exited with status $rc$([ "$rc" = 124 ] && echo " (timed out after ${limit}s)")"
		f=$((f + 1))
	fi
	rm -f "$out"
	passed=$((passed + p))
	failed=$((failed + f))
	summary+=("$(printf '%-20s %3d passed %3d failed %4ds' "$name" "$p" "$f" $((SECONDS - t0)))")
done
echo
echo "fault scenarios (${CRONLOCK_BIN}):"
printf '  %s\n' "${summary[@]}"
echo "  total $((SECONDS - t_all))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
