#!/usr/bin/env bash
# test/server/durability.sh: a busy answer skips the WAL flush only when its
# contention row is all its transaction wrote; a caller's own write in the
# same transaction commits synchronously however the call is wrapped: a
# pipeline with one Sync, a DO block, CALL, a data-modifying WITH (CONTRACT
# 1.1, issue 13 item 6).
#
# How a commit is observed: synchronous_standby_names names a standby that
# never connects, so a commit with synchronous_commit = on waits (SyncRep)
# until cancelled, while one with synchronous_commit = off returns at once.
# Every case below is therefore decided, not timed.
# EDITION=1: the same cases against the plain-SQL edition (sql-edition/),
# which decides at commit through its deferred triggers; the three cases
# where it differs (docs/managed.md) say so.
source "$(dirname "$0")/lib.sh"

edition=${EDITION:-0}
echo "# durability$([ "$edition" = 1 ] && echo " (plain-SQL edition)")"
new_cluster d "fsync = off" || exit 1
S=$ROOT/d
DB=postgres

# lowered_after: how a lease commits when the caller lowers synchronous_commit
# after the edition's trigger ran (docs/managed.md); the extension decides later.
if [ "$edition" = 1 ]; then
	"$REPO/sql-edition/build.sh" "$ROOT/edition" \
		"$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$REPO/extension/cron_lock.control")" || exit 1
	# shellcheck disable=SC2046
	PGOPTIONS='-c client_min_messages=warning' psql $(psql_args "$S") -U postgres -d $DB -qX \
		-v ON_ERROR_STOP=1 -1 -f "$ROOT/edition/cron_lock.sql" >/dev/null || exit 1
	many=sync
	lowered_after=async
else
	q "$S" $DB "CREATE EXTENSION cron_lock" >/dev/null
	many=async
	lowered_after=sync
fi
q "$S" $DB "CREATE TABLE mine (x int)" >/dev/null
q "$S" $DB "CREATE PROCEDURE busy_then_write() LANGUAGE plpgsql AS \$\$
BEGIN
	PERFORM cron_lock_try('dur.x', 'host-2', '1 hour');
	INSERT INTO mine VALUES (5);
END \$\$" >/dev/null
# A caller's deferred trigger that lowers synchronous_commit at commit (below).
q "$S" $DB "CREATE TABLE lowers (x int);
	CREATE FUNCTION lower_sync() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM set_config('synchronous_commit', 'off', true); RETURN NULL; END \$\$;
	CREATE CONSTRAINT TRIGGER lower_sync AFTER INSERT ON lowers DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lower_sync()" >/dev/null
# A caller's operator that would answer commit_lazily's test (below).
q "$S" $DB "CREATE SCHEMA evil; CREATE FUNCTION evil.zero(bigint, bigint) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint';
	CREATE OPERATOR evil.+ (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.zero)" >/dev/null
check_eq "the lease is held (busy answers follow)" acquired \
	"$(q "$S" $DB "SELECT reason FROM cron_lock_try('dur.x', 'host-1', '1 hour')")"
q "$S" $DB "ALTER SYSTEM SET synchronous_standby_names = 'nobody'" >/dev/null
q "$S" $DB "SELECT pg_reload_conf()" >/dev/null

# commit_kind NAME CMD...: run CMD (a client with application_name NAME);
# print "sync" if its commit waits for the standby (it is then cancelled and
# commits locally), "async" if it ends without waiting, else what went wrong.
commit_kind() {
	local name=$1 pid deadline
	shift
	PGAPPNAME=$name "$@" >"$ROOT/$name.out" 2>&1 &
	pid=$!
	BG_PIDS+=("$pid")
	deadline=$((SECONDS + 30))
	while :; do
		if [ "$(q "$S" $DB "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$name' AND wait_event = 'SyncRep'")" = 1 ]; then
			q "$S" $DB "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = '$name'" >/dev/null
			wait "$pid"
			echo sync
			return
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			if wait "$pid"; then echo async; else echo "failed: $(tr '\n' ' ' <"$ROOT/$name.out")"; fi
			return
		fi
		if [ $SECONDS -ge $deadline ]; then
			echo "timed out"
			return
		fi
		sleep 0.05
	done
}

sql() { # SQL: one simple-protocol query string
	# shellcheck disable=SC2046
	psql $(psql_args "$S") -U postgres -d $DB -c "$1"
}

# pgbench sends a pipeline of extended-protocol statements with one Sync.
cat >"$ROOT/pipeline.sql" <<'SQL'
\startpipeline
SELECT reason FROM cron_lock_try('dur.x', 'host-2', '1 hour');
INSERT INTO mine VALUES (1);
\endpipeline
SQL
cat >"$ROOT/pipeline_busy.sql" <<'SQL'
\startpipeline
SELECT reason FROM cron_lock_try('dur.x', 'host-2', '1 hour');
SELECT reason FROM cron_lock_try('dur.x', 'host-3', '1 hour');
\endpipeline
SQL
cat >"$ROOT/pipeline_immediate.sql" <<'SQL'
\startpipeline
SET CONSTRAINTS ALL IMMEDIATE;
SELECT reason FROM cron_lock_try('dur.x', 'host-2', '1 hour');
INSERT INTO mine VALUES (7);
\endpipeline
SQL
cat >"$ROOT/extended_busy.sql" <<'SQL'
SELECT reason FROM cron_lock_try('dur.x', 'host-2', '1 hour');
SQL
pipeline() { # SCRIPT [MODE]
	pgbench -h "$S" -p "$(port_of "$S")" -U postgres -n -t 1 -M "${2:-extended}" -f "$1" $DB
}

# The harness itself: a plain write waits, once every process has read the
# new setting (the checkpointer publishes it).
for i in $(seq 1 50); do
	got=$(commit_kind "plain$i" sql "INSERT INTO mine VALUES (0)")
	[ "$got" = sync ] && break
done
check_eq "a plain write commits synchronously (the harness sees it)" sync "$got"

check_eq "a busy answer alone skips the flush" async \
	"$(commit_kind alone sql "SELECT reason FROM cron_lock_try('dur.x', 'host-2', '1 hour')")"
check_eq "a busy answer alone, extended protocol, skips the flush" async \
	"$(commit_kind ext_busy pipeline "$ROOT/extended_busy.sql")"
check_eq "a busy answer alone, prepared statement, skips the flush" async \
	"$(commit_kind prep_busy pipeline "$ROOT/extended_busy.sql" prepared)"
check_eq "two busy answers alone in a pipeline: $many" $many \
	"$(commit_kind pipe_busy pipeline "$ROOT/pipeline_busy.sql")"
check_eq "two busy answers alone in a DO block: $many" $many \
	"$(commit_kind do_busy sql "DO \$\$ BEGIN PERFORM cron_lock_try('dur.x', 'h2', '1 hour'); PERFORM cron_lock_try('dur.x', 'h3', '1 hour'); END \$\$")"

check_eq "pipeline, one Sync: busy answer then the caller's write commits synchronously" sync \
	"$(commit_kind pipe pipeline "$ROOT/pipeline.sql")"
check_eq "DO block: busy answer then the caller's write commits synchronously" sync \
	"$(commit_kind do_write sql "DO \$\$ BEGIN PERFORM cron_lock_try('dur.x', 'host-2', '1 hour'); INSERT INTO mine VALUES (2); END \$\$")"
check_eq "CALL: busy answer then the caller's write commits synchronously" sync \
	"$(commit_kind call sql "CALL busy_then_write()")"
check_eq "WITH t AS (SELECT * FROM cron_lock_try(...)) INSERT commits synchronously" sync \
	"$(commit_kind with_insert sql "WITH t AS (SELECT * FROM cron_lock_try('dur.x', 'host-2', '1 hour')) INSERT INTO mine SELECT 3 FROM t")"
check_eq "busy, the caller's write, busy again: still synchronous" sync \
	"$(commit_kind busy_write_busy sql "DO \$\$ BEGIN PERFORM cron_lock_try('dur.x', 'h2', '1 hour'); INSERT INTO mine VALUES (4); PERFORM cron_lock_try('dur.x', 'h3', '1 hour'); END \$\$")"
check_eq "the caller's write, then a busy answer: synchronous" sync \
	"$(commit_kind write_busy sql "DO \$\$ BEGIN INSERT INTO mine VALUES (6); PERFORM cron_lock_try('dur.x', 'h2', '1 hour'); END \$\$")"
check_eq "a busy answer, then nextval (WAL without a table write): synchronous" sync \
	"$(commit_kind busy_nextval sql "CREATE SEQUENCE IF NOT EXISTS s; DO \$\$ BEGIN PERFORM cron_lock_try('dur.x', 'h2', '1 hour'); PERFORM nextval('s'); END \$\$")"
check_eq "pipeline: SET CONSTRAINTS ALL IMMEDIATE, a busy answer, the caller's write: synchronous" sync \
	"$(commit_kind immediate pipeline "$ROOT/pipeline_immediate.sql")"
check_eq "a busy answer with the session at synchronous_commit = off stays off" async \
	"$(commit_kind off env PGOPTIONS='-c synchronous_commit=off' psql $(psql_args "$S") -U postgres -d $DB -c "SELECT cron_lock_try('dur.x', 'h2', '1 hour')")"

# A lease change commits durably whatever the caller sets after the call in
# the same transaction (the flush is decided at commit).
check_eq "a lease taken, then SET LOCAL synchronous_commit = off: synchronous" sync \
	"$(commit_kind late_off sql "BEGIN; SELECT reason FROM cron_lock_try('dur.late', 'h', '1 hour'); SET LOCAL synchronous_commit = off; COMMIT")"
check_eq "a lease released, then SET LOCAL synchronous_commit = off: synchronous" sync \
	"$(commit_kind late_off_release sql "BEGIN; SELECT cron_lock_release('dur.late', token) FROM cron_lock.leases WHERE job = 'dur.late'; SET LOCAL synchronous_commit = off; COMMIT")"
# The edition's decision is a deferred trigger: made immediate by the caller,
# it fires before the caller's SET LOCAL (docs/managed.md).
check_eq "SET CONSTRAINTS ALL IMMEDIATE, a lease taken, then SET LOCAL synchronous_commit = off: $lowered_after" $lowered_after \
	"$(commit_kind late_off_immediate sql "BEGIN; SET CONSTRAINTS ALL IMMEDIATE; SELECT reason FROM cron_lock_try('dur.late2', 'h', '1 hour'); SET LOCAL synchronous_commit = off; COMMIT")"
# ... and so does a caller's own deferred trigger queued after it (docs/managed.md).
check_eq "a lease taken, then a write whose deferred trigger lowers synchronous_commit: $lowered_after" $lowered_after \
	"$(commit_kind late_trigger sql "BEGIN; SELECT reason FROM cron_lock_try('dur.late3', 'h', '1 hour'); INSERT INTO lowers VALUES (1); COMMIT")"

# The edition's commit_lazily is armed by a setting any session may write: a
# lease taken in the same transaction must commit durably all the same.
check_eq "a lease and a busy answer in one statement, lazy setting forged: synchronous" sync \
	"$(commit_kind forged sql "SELECT m.reason, b.reason, set_config('cron_lock_edition.lazy_commit', statement_timestamp()::text, true) IS NOT NULL FROM cron_lock_try('dur.forged', 'h2', '1 hour') m, cron_lock_try('dur.x', 'h2', '1 hour') b")"
check_eq "an expectation (no lease) and a busy answer in one statement, lazy setting forged: synchronous" sync \
	"$(commit_kind forged_jobs sql "SELECT cron_lock_expect('dur.expected', every => '1 hour') IS NULL, b.reason, set_config('cron_lock_edition.lazy_commit', statement_timestamp()::text, true) IS NOT NULL FROM cron_lock_try('dur.x', 'h2', '1 hour') b")"

# ... and under a caller's search_path that puts its own + operator first
# (the edition's trigger runs as the caller, at commit: its search_path is
# pinned; schema evil is made before the harness's setting).
check_eq "a lease and a busy answer, lazy setting forged, the caller's + first in search_path: synchronous" sync \
	"$(commit_kind hijack env PGOPTIONS='-c search_path=evil,pg_catalog,public' psql $(psql_args "$S") -U postgres -d $DB -c "SELECT m.reason, b.reason, set_config('cron_lock_edition.lazy_commit', statement_timestamp()::text, true) IS NOT NULL FROM cron_lock_try('dur.hijack', 'h2', '1 hour') m, cron_lock_try('dur.x', 'h2', '1 hour') b")"

# Raw rows or folded into counters: an acquisition may sweep (one in 8).
check_eq "every busy answer was recorded" 20 \
	"$(q "$S" $DB "SELECT (SELECT count(*) FROM cron_lock.contention WHERE job = 'dur.x')
		+ coalesce((SELECT sum(busy) FROM cron_lock.contention_hourly WHERE job = 'dur.x'), 0)")"
summary
