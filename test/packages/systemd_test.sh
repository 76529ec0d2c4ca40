#!/usr/bin/env bash
# test/packages/systemd_test.sh CRONLOCK: contrib/systemd's units pass
# `systemd-analyze verify` (this machine boots no systemd: the check runs on
# the files, in a scratch root with the machine's own base units, CRONLOCK as
# /usr/bin/cronlock and an instance of each template), with no word of
# complaint; and a unit with a bad value does not pass (the check can fail).
# Ends with "N passed, N failed".
set -u
bin=${1:?usage: systemd_test.sh path/to/cronlock}
repo=$(cd "$(dirname "$0")/../.." && pwd)
start=$SECONDS
passed=0 failed=0
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/usr/lib/systemd" "$root/etc/systemd/system"
cp -r /lib/systemd/system "$root/usr/lib/systemd/"
cp "$bin" "$root/usr/bin/cronlock"
cp "$repo"/contrib/systemd/cronlock-job@.service "$repo"/contrib/systemd/cronlock-job@.timer \
	"$root/etc/systemd/system/"

# verify UNIT...: status 0 and not a word of output.
verify() {
	local out
	out=$(systemd-analyze verify --man=no --root="$root" "$@" 2>&1) && [ -z "$out" ] && return 0
	echo "$out" | sed 's/^/     /'
	return 1
}
check() { # NAME CMD...
	local name=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok   $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name"
	fi
}
not() { ! "$@" >/dev/null; }
both() { # CMD1... -- CMD2...
	local a=()
	while [ "$1" != -- ]; do a+=("$1"); shift; done
	shift
	"${a[@]}" && "$@"
}
timer=$repo/contrib/systemd/cronlock-job@.timer
service=$repo/contrib/systemd/cronlock-job@.service

check "systemd-analyze verify cronlock-job@nightly.service and .timer" \
	verify cronlock-job@nightly.service cronlock-job@nightly.timer
check "the timer has RandomizedDelaySec= and Persistent=true" \
	both grep -q '^RandomizedDelaySec=[1-9]' "$timer" -- grep -q '^Persistent=true$' "$timer"
check "the service runs the job through /usr/bin/cronlock run --job %i" \
	grep -q '^ExecStart=/usr/bin/cronlock run --job %i ' "$service"
check "the service reads the job from /etc/cronlock/%i.env" \
	grep -q '^EnvironmentFile=/etc/cronlock/%i.env$' "$service"
sed 's/^RandomizedDelaySec=.*/RandomizedDelaySec=soon/' "$timer" >"$root/etc/systemd/system/broken@.timer"
check "a timer with a bad value is refused" not verify broken@x.timer
rm -f "$root/usr/bin/cronlock"
check "a service whose command is missing is refused" not verify cronlock-job@nightly.service

echo "# systemd: $((SECONDS - start))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
