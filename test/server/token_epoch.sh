#!/usr/bin/env bash
# test/server/token_epoch.sh: fencing tokens are never issued twice along
# failover -> dump/restore -> failover (CONTRACT 1.7, issue 13 item 5).
#
#   a (timeline 1) issues tokens; its standby b misses the last ones; b is
#   promoted (timeline 2) and issues tokens above 2^32; b is dumped and
#   restored into a fresh cluster r (new system identifier, timeline 1); r
#   issues tokens, its standby r2 misses the last ones; r2 is promoted
#   (timeline 2).  Every token answered anywhere goes into a ledger, and
#   every new token of a job must be above every token of it there.  Tokens never go back
#   and stay below 2^53; on a cluster that never failed over the first
#   token is 1 and each acquisition adds 1.
source "$(dirname "$0")/lib.sh"

echo "# token_epoch"
DB=postgres
LEDGER=$ROOT/ledger # "cluster job token" for every acquisition answered
touch "$LEDGER"

acquire() { # DIR JOB -> token (also released, and written to the ledger)
	local t
	t=$(q "$1" $DB "SELECT token FROM cron_lock_try('$2', 'h', '1h') WHERE acquired")
	if [ -n "$t" ]; then
		echo "$(basename "$1") $2 $t" >>"$LEDGER"
		q "$1" $DB "SELECT cron_lock_release('$2', $t)" >/dev/null
	fi
	echo "$t"
}
ledger_max() { awk -v j="$1" '$2 == j { print $3 }' "$LEDGER" | sort -n | tail -n 1; }

# above_all NAME DIR JOB: the next token of JOB on DIR is above every token
# of JOB answered so far, anywhere.
above_all() {
	local max tok
	max=$(ledger_max "$3")
	max=${max:-0}
	tok=$(acquire "$2" "$3")
	if [ -n "$tok" ] && [ "$tok" -gt "$max" ] && [ "$tok" -lt $((1 << 53)) ]; then
		ok "$1: token $tok is above every token of the job issued before ($max)"
	else
		fail "$1: a token above every token of the job issued before" "got '$tok', ledger max $max"
	fi
	LAST=$tok
}

in_recovery() { [ "$(q "$1" $DB "SELECT pg_is_in_recovery()")" = t ]; }
not_in_recovery() { [ "$(q "$1" $DB "SELECT pg_is_in_recovery()")" = f ]; }
has_token() { [ "$(q "$1" $DB "SELECT token FROM cron_lock.leases WHERE job = '$2'")" = "$3" ]; }
epoch_row() { q "$1" $DB "SELECT timeline, epoch, system_identifier = (SELECT system_identifier FROM pg_control_system()) FROM cron_lock.token_epoch"; }

# standby NAME OF: a started streaming standby of OF, in $ROOT/NAME.
standby() {
	CLUSTERS+=("$ROOT/$1")
	cluster_standby "$ROOT/$1" "$2" >"$ROOT/$1.log" 2>&1 && cluster_start "$ROOT/$1" &&
		wait_for 30 "$1 in recovery" in_recovery "$ROOT/$1" ||
		{ fail "$1: a standby" "$(cat "$ROOT/$1.log")"; summary; }
}
# failover OLD NEW: OLD stops, NEW (a stopped standby) starts and is promoted.
failover() {
	cluster_stop "$1" immediate
	cluster_start "$2" && wait_for 30 "$(basename "$2") in recovery" in_recovery "$2" &&
		as_pg "$PG_BINDIR/pg_ctl" -D "$2/data" -w -t 60 promote >"$ROOT/promote.log" 2>&1 &&
		wait_for 30 "$(basename "$2") promoted" not_in_recovery "$2" &&
		ok "$(basename "$2") promoted" || { fail "$(basename "$2") promoted" "$(cat "$ROOT/promote.log")"; summary; }
}

# --- a: never failed over --------------------------------------------------
new_cluster a "fsync = off" || exit 1
A=$ROOT/a
q "$A" $DB "CREATE EXTENSION cron_lock" >/dev/null
check_eq "a: first tokens are 1, 2, 3" "1 2 3" "$(acquire "$A" j) $(acquire "$A" j) $(acquire "$A" j)"
check_eq "a: epoch 0 recorded for timeline 1 of this system" "1|0|t" "$(epoch_row "$A")"

# --- b: a standby that misses the last commits, then promoted ---------------
standby b "$A"
B=$ROOT/b
wait_for 30 "b to replay token 3" has_token "$B" j 3 || fail "b replayed token 3"
cluster_stop "$B" fast
acquire "$A" j >/dev/null
acquire "$A" k >/dev/null
check_eq "a issued j up to 4 and k 1 after b stopped" "4|1" \
	"$(q "$A" $DB "SELECT (SELECT token FROM cron_lock.leases WHERE job = 'j'), (SELECT token FROM cron_lock.leases WHERE job = 'k')")"
failover "$A" "$B"
check_eq "b: missed a's last commits" "3|0" \
	"$(q "$B" $DB "SELECT (SELECT token FROM cron_lock.leases WHERE job = 'j'), (SELECT count(*) FROM cron_lock.leases WHERE job = 'k')")"
above_all "b (timeline 2), job j" "$B" j
check_eq "b: j's token is 2^32 + 1" $(((1 << 32) + 1)) "$LAST"
above_all "b (timeline 2), job k (lost with a)" "$B" k
above_all "b, job j again" "$B" j
check_eq "b: then tokens go up by one" $(((1 << 32) + 2)) "$LAST"
check_eq "b: epoch 1 recorded for timeline 2" "2|1|t" "$(epoch_row "$B")"

# --- r: dump of b restored into a fresh cluster (timeline 1) ------------------
new_cluster r "fsync = off" || exit 1
R=$ROOT/r
if pg_dump -h "$B" -p "$(port_of "$B")" -U postgres -Fc -f "$ROOT/b.dump" $DB 2>"$ROOT/dump.err" &&
	pg_restore --exit-on-error -h "$R" -p "$(port_of "$R")" -U postgres -d $DB "$ROOT/b.dump" 2>"$ROOT/restore.err"; then
	ok "b dumped and restored into r"
else
	fail "b dumped and restored into r" "$(cat "$ROOT/dump.err" "$ROOT/restore.err")"
	summary
fi
check_eq "r: on timeline 1" 1 "$(q "$R" $DB "SELECT timeline_id FROM pg_control_checkpoint()")"
check_eq "r: the restored epoch row is b's" "2|1|f" "$(epoch_row "$R")"
above_all "r (restored), job j" "$R" j
check_eq "r: a new system starts a new epoch: 2 * 2^32 + 1" $(((2 << 32) + 1)) "$LAST"
check_eq "r: epoch 2 recorded for timeline 1 of r's system" "1|2|t" "$(epoch_row "$R")"

# --- r2: r's standby misses the last commits, then promoted (timeline 2) ------
standby r2 "$R"
R2=$ROOT/r2
wait_for 30 "r2 to replay r's token" has_token "$R2" j "$LAST" || fail "r2 replayed r's token"
cluster_stop "$R2" fast
acquire "$R" j >/dev/null
acquire "$R" j >/dev/null
acquire "$R" n >/dev/null
failover "$R" "$R2"
above_all "r2 (timeline 2), job j" "$R2" j
above_all "r2, job n (lost with r)" "$R2" n
above_all "r2, a job never seen" "$R2" fresh
check_eq "r2: epoch 3 recorded for timeline 2" "2|3|t" "$(epoch_row "$R2")"

# No token was answered twice for a job, anywhere.
check_eq "no job got the same token twice" "" \
	"$(awk '{ print $2, $3 }' "$LEDGER" | sort | uniq -d)"
summary
