#!/usr/bin/env bash
# test/versions/upgrade_dump.sh OLD NEW: a major upgrade by dump and restore.
# A cluster of major OLD (serve.sh, in OLD's root) gets cron_lock and a
# history; NEW's pg_dump reads it over loopback TCP from NEW's root and
# pg_restore loads it into a fresh NEW cluster: every run, lease, anomaly and
# contention row survives, tokens and run ids go on from where they were.
source "$(dirname "$0")/../server/lib.sh"
source "$REPO/test/versions/lib.sh"

if [ "$1" = --new ]; then # in NEW's root: OLD serves on port $2
	old=$2
	make_history "$old" src || summary
	canon "$old" src >"$ROOT/old.txt"
	tokens=$(last_tokens "$old" src)
	"$REPO/test/versions/build.sh" "$ROOT/build" >/dev/null || {
		fail "build for $(pg_config --version)"
		summary
	}
	new_cluster new "fsync = off" || exit 1
	new=$(port_of "$ROOT/new")
	pg_dumpall -h 127.0.0.1 -p "$old" -U postgres --roles-only | grep -v -E '^(CREATE|ALTER) ROLE postgres( |;)' |
		psql -X -q -h 127.0.0.1 -p "$new" -U postgres -v ON_ERROR_STOP=1 -d postgres >/dev/null 2>"$ROOT/roles.err" ||
		fail "roles copied" "$(cat "$ROOT/roles.err")"
	qt "$new" postgres "CREATE DATABASE src" >/dev/null
	if pg_dump -h 127.0.0.1 -p "$old" -U postgres -Fc src 2>"$ROOT/dump.err" |
		pg_restore --exit-on-error -h 127.0.0.1 -p "$new" -U postgres -d src 2>>"$ROOT/dump.err"; then
		ok "$(pg_dump --version) from PostgreSQL $(qt "$old" src "SHOW server_version"), restored"
	else
		fail "pg_dump | pg_restore" "$(cat "$ROOT/dump.err")"
		summary
	fi
	canon "$new" src >"$ROOT/new.txt"
	check_same "runs, leases, anomalies, contention, status and run id sequence equal the old" \
		"$ROOT/old.txt" "$ROOT/new.txt"
	check_tokens_go_on "after the upgrade" "$new" src "$tokens"
	summary
fi

old_major=$1 new_major=$2
echo "# dump/restore upgrade $old_major -> $new_major"
CHROOT_SHARE=$ROOT "$REPO/test/versions/major.sh" "$old_major" "$REPO/test/versions/serve.sh" "$ROOT/old" &
server=$!
stop_old() { [ -p "$ROOT/old/stop" ] && echo >"$ROOT/old/stop"; wait $server; }
trap 'stop_old; cleanup' EXIT
wait_for 1200 "PostgreSQL $old_major to serve" test -f "$ROOT/old/ready" || {
	fail "PostgreSQL $old_major serves"
	summary
}
CHROOT_SHARE=$ROOT "$REPO/test/versions/major.sh" "$new_major" "$REPO/test/versions/upgrade_dump.sh" --new "$(cat "$ROOT/old/port")"
