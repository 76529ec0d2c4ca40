#!/usr/bin/env bash
# test/cron/cron_test.sh: `cronlock run` as Debian's cron runs it (CONTRACT 2.4, issue 16
# item 1). Two users stand for two hosts; cron mails each user what its jobs print,
# through the local MTA (exim4, local delivery) to /var/mail/USER; a small syslog
# receiver stands for /dev/log (CRONLOCK_SYSLOG_SOCKET). Two ticks, scenarios side by
# side:
#
#   tick 1  a: normal run              -> no mail (lines in syslog)
#           a+b: the same busy job     -> the winner runs, the other skips: no mail
#           a: lease lost (released by force while it runs) -> mail: CRON_LOST after
#              the run's earlier lines
#           b: COMMAND not found       -> mail
#           b: database unreachable, --alert-after 2 -> no mail (1st)
#   tick 2  b: the same                -> mail (2nd: the alert, exit 69)
#
# Needs root, cron, exim4 (test/install-deps.sh) and a cluster in PG* (run-tests.sh
# passes its own; else one is made here). Starts cron unless one runs, and stops it
# after. Prints its time and "N passed, N failed".
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
start=$SECONDS
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
check() { # check NAME CONDITION...
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}
finish() {
	echo "cron suite: $((SECONDS - start))s"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/cron ] || [ ! -x /usr/sbin/sendmail ]; then
	echo "needs root, /usr/sbin/cron and a local MTA (test/install-deps.sh)"
	bad "prerequisites"
	finish
fi

dir=$(mktemp -d /tmp/cronlock-cron.XXXXXX)
chmod 755 "$dir"
users=(clcron-a clcron-b)
cron_pid=
syslog_pid=
own_cluster=
cleanup() {
	for u in "${users[@]}"; do
		crontab -r -u "$u" 2>/dev/null
	done
	[ -n "$cron_pid" ] && kill "$cron_pid" 2>/dev/null && wait "$cron_pid" 2>/dev/null
	[ -n "$syslog_pid" ] && kill "$syslog_pid" 2>/dev/null && wait "$syslog_pid" 2>/dev/null
	for u in "${users[@]}"; do
		userdel -r "$u" >/dev/null 2>&1
		rm -f "/var/mail/$u"
	done
	[ -n "$own_cluster" ] && cluster_stop "$dir/pg" immediate
	rm -rf "$dir"
}
trap cleanup EXIT

source "$repo/test/lib/cluster.sh"
if [ -z "${PGPORT:-}" ]; then
	cluster_create "$dir/pg" >/dev/null && cluster_start "$dir/pg" >/dev/null || {
		bad "cluster"
		finish
	}
	own_cluster=1
	eval "$(cluster_env "$dir/pg")"
fi
db=cronlock_cron
psql -qX -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" &&
	psql -qX -d $db -c "CREATE EXTENSION cron_lock" || {
	bad "database"
	finish
}
conninfo="host=127.0.0.1 port=$PGPORT user=$PGUSER dbname=$db"

bin=$dir/cronlock
cp "${CRONLOCK_BIN:-$repo/build/client/cronlock}" "$bin" && chmod 755 "$bin"

for u in "${users[@]}"; do
	userdel -r "$u" >/dev/null 2>&1
	rm -f "/var/mail/$u"
	useradd -m -s /bin/sh "$u" || {
		bad "useradd $u"
		finish
	}
done

# The syslog socket: datagrams appended to $dir/syslog, one per line.
python3 - "$dir/log.sock" "$dir/syslog" <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "ab", 0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
EOF
syslog_pid=$!

wait_for() { # wait_for SECONDS CMD...: poll every 0.2s
	local until=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge "$until" ] && return 1
		sleep 0.2
	done
}
wait_for 10 test -S "$dir/log.sock" || {
	bad "syslog receiver"
	finish
}

if [ -s /run/crond.pid ] && kill -0 "$(cat /run/crond.pid)" 2>/dev/null; then
	echo "using the running cron daemon (pid $(cat /run/crond.pid))"
else
	/usr/sbin/cron -f &
	cron_pid=$!
fi

# Tick 1 is the next minute with at least 8 seconds to go (cron reads a changed spool
# at the start of each minute); tick 2 the one after.
now=$(date +%s)
t1=$(((now + 8) / 60 * 60 + 60))
m1=$(date -d "@$t1" +%M)
m2=$(date -d "@$((t1 + 60))" +%M)
m1=$((10#$m1))
m2=$((10#$m2))
env_lines="SHELL=/bin/sh
CRONLOCK_DB=$conninfo
CRONLOCK_SYSLOG_SOCKET=$dir/log.sock"
cat >"$dir/tab-a" <<EOF
$env_lines
CRONLOCK_INSTANCE=host-a
$m1 * * * * $bin run --job normal -- true
$m1 * * * * $bin run --job busy -- sleep 12
$m1 * * * * $bin run --job lost --ttl 3s -- sleep 30
EOF
cat >"$dir/tab-b" <<EOF
$env_lines
CRONLOCK_INSTANCE=host-b
$m1 * * * * $bin run --job busy -- sleep 12
$m1 * * * * $bin run --job missing -- /nonexistent/report.sh
$m1,$m2 * * * * $bin run --job unavail --db 'host=127.0.0.1 port=1' --retries 0 --alert-after 2 -- true
EOF
crontab -u clcron-a "$dir/tab-a" && crontab -u clcron-b "$dir/tab-b" || {
	bad "crontab install"
	finish
}
echo "crontabs installed; tick 1 at $(date -d "@$t1" +%T), tick 2 a minute later"

sys() { grep -c -- "$1" "$dir/syslog" 2>/dev/null | grep -qv '^0$'; }
held() { [ "$(psql -XtAq -d $db -c "SELECT count(*) FROM cron_lock.status WHERE job = 'lost' AND state = 'held' AND holder = 'host-a'")" = 1 ]; }
mails() { # the number of messages in USER's mailbox
	local n
	n=$(grep -c '^From ' "/var/mail/$1" 2>/dev/null)
	echo "${n:-0}"
}
mails_at_least() { [ "$(mails "$1")" -ge "$2" ]; }

# Tick 1: take job "lost" away from its runner while it runs.
if wait_for 100 held; then
	"$bin" release --db "$conninfo" --job lost --force >/dev/null
	ok "tick 1: job lost started on host-a"
else
	bad "tick 1: job lost never started (cron did not run the crontab?)"
fi
check "tick 1: normal run logged to syslog, ident cronlock" \
	wait_for 30 sys 'cronlock\[[0-9]*\]: \[CRON_DONE\] .*job=normal .*status=succeeded'
check "tick 1: one host skipped the busy job (syslog)" \
	wait_for 30 sys '\[CRON_SKIP\] .*job=busy .*reason=BUSY'
check "tick 1: the winner ran the busy job to the end (syslog)" \
	wait_for 30 sys '\[CRON_DONE\] .*job=busy .*status=succeeded'
check "tick 1: the lease was lost (syslog)" wait_for 30 sys '\[CRON_LOST\] .*job=lost'
check "tick 1: the unavailable skip stayed quiet (count 1)" \
	wait_for 30 sys '\[CRON_SKIP\] .*job=unavail .*reason=DB_UNAVAILABLE'

# Tick 2: the second unavailable skip is the alert; its mail ends the wait.
check "tick 2: the 2nd consecutive unavailable skip is an alert" \
	wait_for 100 sys '\[CRON_ALERT\] .*job=unavail .*event=db_unavailable .*consecutive=2'
check "mail for host-b's two alerts arrived" wait_for 30 mails_at_least clcron-b 2
check "mail for host-a's lost lease arrived" wait_for 10 mails_at_least clcron-a 1

box_a=$(cat /var/mail/clcron-a 2>/dev/null)
box_b=$(cat /var/mail/clcron-b 2>/dev/null)
# in_order TEXT PATTERN...: each pattern matches a line after the previous one's.
in_order() {
	local text=$1 from=1 n
	shift
	for p in "$@"; do
		n=$(printf '%s\n' "$text" | tail -n "+$from" | grep -n -m1 -- "$p" | cut -d: -f1)
		[ -n "$n" ] || return 1
		from=$((from + n))
	done
}
check "host-a got exactly one mail (the lost lease)" test "$(mails clcron-a)" = 1
check "host-b got exactly two mails (missing command, 2nd unavailable skip)" test "$(mails clcron-b)" = 2
check "no mail about the normal run or the busy skip" \
	bash -c '! printf "%s\n%s\n" "$1" "$2" | grep -q "job=normal\|job=busy"' _ "$box_a" "$box_b"
check "lost mail: CRON_LOST preceded by the run's earlier lines" \
	in_order "$box_a" '^\[CRON_BOOT\] .*job=lost' '^\[CRON_RUN\] .*job=lost' '^\[CRON_LOST\] .*job=lost' \
	'^\[CRON_DONE\] .*job=lost .*status=lost'
check "missing-command mail: the failed run, preceded by its earlier lines" \
	in_order "$box_b" '^\[CRON_BOOT\] .*job=missing' '^\[CRON_RUN\] .*job=missing' \
	'^\[CRON_DONE\] .*job=missing .*exit_code=127'
check "unavailable mail: the alert after the skip, once" \
	in_order "$box_b" '^\[CRON_BOOT\] .*job=unavail' '^\[CRON_SKIP\] .*job=unavail .*DB_UNAVAILABLE' \
	'^\[CRON_ALERT\] .*job=unavail .*consecutive=2'
check "the first unavailable skip sent nothing" \
	test "$(printf '%s\n' "$box_b" | grep -c '^\[CRON_SKIP\] .*job=unavail')" = 1
check "host-b's count lives in its default state dir" \
	grep -qx 'consecutive_unavailable 2' ~clcron-b/.local/state/cronlock/unavail.*.unavailable
if [ "$failed" -gt 0 ]; then
	for u in "${users[@]}"; do
		echo "--- /var/mail/$u"
		sed 's/^/    | /' "/var/mail/$u" 2>/dev/null
	done
	echo "--- syslog"
	sed 's/^/    | /' "$dir/syslog"
fi
finish
