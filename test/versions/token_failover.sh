#!/usr/bin/env bash
# test/versions/token_failover.sh: the token sequence failover -> pg_upgrade ->
# asynchronous failover never reissues a token (issue 13, item 5).
#
# 15: a primary and its standby; the primary is lost, the standby promoted
# (timeline 2, tokens above 2^32).  pg_upgrade to 17 lands on timeline 1
# again.  17: an asynchronous standby misses the primary's last commit (a
# token), the primary is lost, the standby promoted: its next token must be
# above the lost one.  Runs in trixie's root, which has 15 and 17.
source "$(dirname "$0")/../server/lib.sh"
source "$REPO/test/versions/lib.sh"

if [ "${1:-}" != --in-root ]; then
	exec "$REPO/test/versions/chroot.sh" trixie postgresql-17 postgresql-server-dev-17 \
		postgresql-15/bookworm postgresql-server-dev-15/bookworm -- "$REPO/test/versions/token_failover.sh" --in-root
fi

echo "# tokens: failover, pg_upgrade, failover"
b15=/usr/lib/postgresql/15/bin b17=/usr/lib/postgresql/17/bin
for b in $b15 $b17; do
	PG_CONFIG=$b/pg_config "$REPO/test/versions/build.sh" "$ROOT/build$(basename "$(dirname "$b")")" >/dev/null ||
		{ fail "build for $b"; summary; }
done
export PATH=$b17:$PATH PG_BINDIR=$b17

try() { qt "$1" jobs "SELECT token FROM cron_lock_try('j', '$2', '1h')"; }
release() { qt "$1" jobs "SELECT cron_lock_release('j', $2)" >/dev/null; }
# The timeline new WAL goes to (the control file learns it only at a checkpoint).
timeline() { qt "$1" jobs "SELECT ('x' || left(pg_walfile_name(pg_current_wal_lsn()), 8))::bit(32)::int"; }
replayed() { # PRIMARY_PORT STANDBY_PORT: the standby has replayed all the primary wrote
	local lsn
	lsn=$(qt "$1" postgres "SELECT pg_current_wal_lsn()")
	wait_for 30 "the standby to replay $lsn" caught_up "$2" "$lsn"
}
caught_up() { [ "$(qt "$1" postgres "SELECT pg_last_wal_replay_lsn() >= '$2'")" = t ]; }
standby() { # NAME PRIMARY BINDIR: a started streaming standby
	PG_BINDIR=$3 cluster_standby "$ROOT/$1" "$ROOT/$2" && CLUSTERS+=("$ROOT/$1") &&
		PG_BINDIR=$3 cluster_start "$ROOT/$1"
}
promote() { as_pg "$1/pg_ctl" -D "$ROOT/$2/data" -w promote >/dev/null; }

# --- 15: primary p1, standby s1; p1 is lost, s1 promoted -------------------------
PG_BINDIR=$b15 new_cluster p1 || exit 1
p1=$(port_of "$ROOT/p1")
qt "$p1" postgres "CREATE DATABASE jobs" >/dev/null && qt "$p1" jobs "CREATE EXTENSION cron_lock" >/dev/null || summary
release "$p1" "$(try "$p1" p1)"
t=$(try "$p1" p1)
standby s1 p1 $b15 || exit 1
s1=$(port_of "$ROOT/s1")
replayed "$p1" "$s1"
PG_BINDIR=$b15 cluster_stop "$ROOT/p1" immediate
promote $b15 s1
release "$s1" "$t"
before=$t
t=$(try "$s1" s1)
check_eq "15: the promoted standby is on timeline 2" 2 "$(timeline "$s1")"
check_eq "15: its token $t is above the old primary's $before" t "$([ "$t" -gt "$before" ] && echo t)"

# --- pg_upgrade to 17: timeline 1 again -----------------------------------------------
PG_BINDIR=$b15 cluster_stop "$ROOT/s1"
PG_BINDIR=$b17 cluster_create "$ROOT/n" || exit 1
CLUSTERS+=("$ROOT/n")
mkdir -p "$ROOT/work" && chown postgres: "$ROOT/work"
(cd "$ROOT/work" && as_pg $b17/pg_upgrade -b $b15 -B $b17 -d "$ROOT/s1/data" -D "$ROOT/n/data" \
	-p "$(free_port)" -P "$(free_port)" -s "$ROOT/work" >"$ROOT/work/out.log" 2>&1) || {
	fail "pg_upgrade 15 -> 17" "$(tail -n 30 "$ROOT/work/out.log")"
	summary
}
cluster_start "$ROOT/n" || exit 1
n=$(port_of "$ROOT/n")
check_eq "17 after pg_upgrade: timeline 1" 1 "$(timeline "$n")"

# --- 17: standby sn misses n's last commit; n is lost, sn promoted ---------------
standby sn n $b17 || exit 1
sn=$(port_of "$ROOT/sn")
replayed "$n" "$sn"
cluster_stop "$ROOT/sn"
release "$n" "$t"
lost=$(try "$n" n)
cluster_stop "$ROOT/n" immediate
cluster_start "$ROOT/sn" && promote $b17 sn
check_eq "17: the promoted standby lacks the lost primary's last lease" "$t" \
	"$(qt "$sn" jobs "SELECT token FROM cron_lock.leases WHERE job = 'j'")"
release "$sn" "$t"
next=$(try "$sn" sn)
if [ -n "$next" ] && [ "$next" -gt "$lost" ]; then
	ok "17: the new primary's token $next is above $lost, committed on the lost primary"
else
	fail "17: the new primary never reissues token $lost, committed on the lost primary" "its next token: $next"
fi
summary
