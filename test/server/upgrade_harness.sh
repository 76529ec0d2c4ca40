#!/usr/bin/env bash
# test/server/upgrade_harness.sh: for every upgrade script
# extension/cron_lock--A--B.sql, "CREATE EXTENSION cron_lock VERSION 'A' +
# ALTER EXTENSION cron_lock UPDATE TO 'B'" must give exactly the objects of
# "CREATE EXTENSION cron_lock VERSION 'B'" (STYLE.md, SQL scripts), and every
# older version must reach the default version the same way.  The objects
# are compared through describe_extension.sql (members, function
# definitions, columns, constraints, indexes, views, sequences, grants,
# initial privileges, configuration tables).
#
# The harness checks itself: a fresh install must equal itself, and
# databases where one object was deliberately drifted must be reported as
# different.  It also checks that ALTER EXTENSION UPDATE on the current
# version is a no-op and that installing into schema cron_lock is refused.
#
# EXT_SRC (default: the repository's extension/) is where scripts are listed;
# they must be installed (make install) for PostgreSQL to run them.
source "$(dirname "$0")/lib.sh"

EXT_SRC=${EXT_SRC:-$REPO/extension}
EXT_SHARE=$(pg_config --sharedir)/extension
DESCRIBE=$SERVER_TEST_DIR/describe_extension.sql

echo "# upgrade_harness"
new_cluster u "fsync = off" || exit 1
U=$ROOT/u
DBN=0

# A fresh database, named in $NEWDB (no subshell: DBN must count).
new_db() {
	DBN=$((DBN + 1))
	NEWDB="u$DBN"
	q "$U" postgres "CREATE DATABASE $NEWDB" >/dev/null
}

describe() { # DB FILE
	q_script "$U" "$1" <"$DESCRIBE" >"$2" 2>"$2.err" || {
		echo "describe_extension.sql failed in $1: $(cat "$2.err")" >>"$2"
		return 1
	}
}

# compare NAME DB1 DB2: ok when the descriptions are equal.  Leaves the diff
# in $ROOT/NAME.diff and returns 1 when they differ.
compare() {
	local name=$1
	describe "$2" "$ROOT/$name.1" && describe "$3" "$ROOT/$name.2" || return 2
	diff -u --label "$2" --label "$3" "$ROOT/$name.1" "$ROOT/$name.2" >"$ROOT/$name.diff"
}

default_version=$(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "$EXT_SRC/cron_lock.control")
echo "# default version $default_version"

# The installed scripts must be the ones in the tree, or we test a stale build.
stale=""
for f in "$EXT_SRC"/cron_lock.control "$EXT_SRC"/cron_lock--*.sql; do
	cmp -s "$f" "$EXT_SHARE/$(basename "$f")" || stale+="$(basename "$f") "
done
check_eq "installed extension scripts match $EXT_SRC (run make install otherwise)" "" "$stale"

# --- self-check ------------------------------------------------------------------
new_db && fresh1=$NEWDB && q "$U" "$fresh1" "CREATE EXTENSION cron_lock" >/dev/null
new_db && fresh2=$NEWDB && q "$U" "$fresh2" "CREATE EXTENSION cron_lock" >/dev/null
compare self "$fresh1" "$fresh2"
case $? in
0) ok "self-check: two fresh installs are described identically" ;;
1) fail "self-check: two fresh installs are described identically" "$(head -n 60 "$ROOT/self.diff")" ;;
*)
	fail "self-check: describe_extension.sql runs" "$(cat "$ROOT"/self.*.err)"
	summary
	;;
esac

# The description must actually cover the objects (an empty one would
# compare equal to anything).
for want in \
	'^extension\|0\|cron_lock version=' \
	'^member table cron_lock\.job_runs\|' \
	'^member view cron_lock\.sightings\|' \
	'^member sequence cron_lock\.' \
	'^member schema cron_lock\|' \
	'^config cron_lock\.leases\|' \
	'^config cron_lock\.job_runs\|' \
	'^config cron_lock\.\S+_seq\|' \
	'^function public\.cron_lock_try\(.*SECURITY DEFINER' \
	'^function public\.cron_lock_prune\(interval\)\|1000\|owner=postgres acl=.*cron_lock_admin=X' \
	'^relation cron_lock\.leases\|[0-9]+\|column job text collate=pg_catalog\."C"' \
	'^relation cron_lock\.job_runs\|[0-9]+\|column token bigint collate= notnull=t' \
	'^relation cron_lock\.job_runs\|1000\|constraint \S+ type=p PRIMARY KEY \(run_id\)' \
	'^relation cron_lock\.job_runs\|2000\|index CREATE UNIQUE INDEX \S+ ON cron_lock\.job_runs USING btree' \
	'^relation cron_lock\.status\|6[0-9]{3}\|view .*backend_alive' \
	'^relation cron_lock\.\S+\|7000\|sequence type=bigint' \
	'^relation cron_lock\.status\|0\|.*acl=.*cron_lock_user=r' \
	'^schema cron_lock\|0\|owner=postgres acl=.*cron_lock_user=U' \
	'^initprivs function public\.cron_lock_try'; do
	if grep -Eq -- "$want" "$ROOT/self.1"; then
		ok "self-check: the description covers /$want/"
	else
		fail "self-check: the description covers /$want/" "$(head -n 20 "$ROOT/self.1")"
	fi
done
grep 'compared by name only' "$ROOT/self.1" | sed 's/^/# note: /'

# Each drift must be reported.
drift() { # WHAT SQL
	local db
	new_db
	db=$NEWDB
	q "$U" "$db" "CREATE EXTENSION cron_lock" >/dev/null
	if ! q "$U" "$db" "$2" >/dev/null 2>"$ROOT/drift.err"; then
		fail "self-check: drift ($1) could be applied" "$(cat "$ROOT/drift.err")"
		return
	fi
	compare drift$DBN "$fresh1" "$db"
	case $? in
	1)
		ok "self-check: drift is reported ($1)"
		grep '^[-+][^-+]' "$ROOT/drift$DBN.diff" | head -n 2 | sed 's/^/#   /'
		;;
	0) fail "self-check: drift is reported ($1)" "the harness found no difference" ;;
	*) fail "self-check: drift is reported ($1)" "$(cat "$ROOT/drift$DBN".*.err)" ;;
	esac
}
drift "view dropped from the extension" "ALTER EXTENSION cron_lock DROP VIEW cron_lock.sightings"
drift "table no longer a member (nor dumped)" "ALTER EXTENSION cron_lock DROP TABLE cron_lock.leases"
drift "function grant" "GRANT EXECUTE ON FUNCTION cron_lock_prune(interval) TO cron_lock_user"
drift "table grant" "GRANT SELECT ON cron_lock.job_runs TO cron_lock_user"
drift "column default" "ALTER TABLE cron_lock.job_runs ALTER COLUMN status SET DEFAULT 'running'"
drift "column collation" "ALTER TABLE cron_lock.job_runs ALTER COLUMN message TYPE text COLLATE \"C\""
drift "function setting" "ALTER FUNCTION cron_lock_release(text, bigint, text, text) SET work_mem = '1MB'"
drift "function volatility" "ALTER FUNCTION cron_lock_duplicates(interval) VOLATILE"
drift "index added" "CREATE INDEX drift_idx ON cron_lock.job_runs (instance)"
drift "view definition" "CREATE OR REPLACE VIEW cron_lock.status AS SELECT * FROM cron_lock.status WHERE true"
drift "check constraint" "ALTER TABLE cron_lock.job_runs ADD CONSTRAINT drift_check CHECK (token > 0) NOT VALID"
drift "comment" "COMMENT ON TABLE cron_lock.leases IS 'drift'"
drift "sequence option" "DO \$\$ BEGIN EXECUTE (SELECT format('ALTER SEQUENCE %s CACHE 10', c.oid::regclass) FROM pg_class c WHERE c.relnamespace = 'cron_lock'::regnamespace AND c.relkind = 'S' LIMIT 1); END \$\$"

# --- ALTER EXTENSION UPDATE on the current version is a no-op ------------------------
new_db
noop=$NEWDB
q "$U" "$noop" "CREATE EXTENSION cron_lock" >/dev/null
q "$U" "$noop" "SELECT cron_lock_try('j', 'h', '1h')" >/dev/null
if out=$(q "$U" "$noop" "ALTER EXTENSION cron_lock UPDATE" 2>&1); then
	ok "ALTER EXTENSION cron_lock UPDATE on $default_version succeeds"
	[ -n "$out" ] && echo "#   $out"
else
	fail "ALTER EXTENSION cron_lock UPDATE on $default_version succeeds" "$out"
fi
if out=$(q "$U" "$noop" "ALTER EXTENSION cron_lock UPDATE TO '$default_version'" 2>&1); then
	ok "ALTER EXTENSION cron_lock UPDATE TO '$default_version' succeeds"
else
	fail "ALTER EXTENSION cron_lock UPDATE TO '$default_version' succeeds" "$out"
fi
if compare noop "$fresh1" "$noop"; then
	ok "the no-op update changed no object"
else
	fail "the no-op update changed no object" "$(cat "$ROOT"/noop.*.err; head -n 60 "$ROOT/noop.diff")"
fi
check_eq "the no-op update kept the data (next token 2)" "t|2" \
	"$(q "$U" "$noop" "SELECT cron_lock_release('j', 1); SELECT acquired, token FROM cron_lock_try('j', 'h', '1h')" | tail -n 1)"

# --- installing into schema cron_lock is refused ----------------------------------
new_db
bad=$NEWDB
q "$U" "$bad" "CREATE SCHEMA cron_lock" >/dev/null
sql_error "$U" "$bad" "CREATE EXTENSION cron_lock SCHEMA cron_lock"
check_state "CREATE EXTENSION cron_lock SCHEMA cron_lock is refused" 0A000 'cannot be installed into schema cron_lock'
grep -q '^HINT:' <<<"$ERR_TEXT" && ok "the refusal has a hint" || fail "the refusal has a hint" "$ERR_TEXT"
sql_error "$U" "$bad" "SET search_path = cron_lock, public; CREATE EXTENSION cron_lock"
check_state "CREATE EXTENSION cron_lock with search_path = cron_lock is refused" 0A000 'cannot be installed into schema cron_lock'
check_eq "the refused installs left no extension and no objects behind" "0|0" \
	"$(q "$U" "$bad" "SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'cron_lock'), (SELECT count(*) FROM pg_class WHERE relnamespace = 'cron_lock'::regnamespace)")"
new_db
bad2=$NEWDB
sql_error "$U" "$bad2" "CREATE EXTENSION cron_lock SCHEMA cron_lock"
if [ "$ERR_STATE" != 00000 ] && grep -q 'cron_lock' <<<"$ERR_TEXT" &&
	[ "$(q "$U" "$bad2" "SELECT count(*) FROM pg_extension WHERE extname = 'cron_lock'")" = 0 ]; then
	ok "CREATE EXTENSION cron_lock SCHEMA cron_lock (schema absent) is refused ($ERR_STATE)"
else
	fail "CREATE EXTENSION cron_lock SCHEMA cron_lock (schema absent) is refused" "SQLSTATE $ERR_STATE" "$ERR_TEXT"
fi

# --- every upgrade script --------------------------------------------------------
# upgrade_path LABEL FROM TO: install FROM with some history, update to TO
# (empty: the default version), compare with a fresh install of TO.
upgrade_path() {
	local label=$1 from=$2 to=$3 old new to_clause="" before after
	[ -n "$to" ] && to_clause=" TO '$to'"
	new_db
	old=$NEWDB
	new_db
	new=$NEWDB
	if ! out=$(q "$U" "$old" "CREATE EXTENSION cron_lock VERSION '$from'" 2>&1); then
		fail "$label: install $from" "$out"
		return
	fi
	# History made by the old version must survive the update.
	q "$U" "$old" "SELECT cron_lock_try('upg', 'h', '1h'); SELECT cron_lock_release('upg', 1); SELECT cron_lock_try('upg', 'h', '1h'); SELECT cron_lock_try('upg', 'rival', '1h')" >/dev/null 2>&1 ||
		echo "# note: $label: could not make history with version $from"
	before=$(q "$U" "$old" "COPY (SELECT run_id, job, instance, token, status FROM cron_lock.job_runs ORDER BY run_id) TO STDOUT" 2>&1)
	if ! out=$(q "$U" "$old" "ALTER EXTENSION cron_lock UPDATE$to_clause" 2>&1); then
		fail "$label: ALTER EXTENSION cron_lock UPDATE$to_clause" "$out"
		return
	fi
	ok "$label: ALTER EXTENSION cron_lock UPDATE$to_clause"
	if ! out=$(q "$U" "$new" "CREATE EXTENSION cron_lock${to:+ VERSION '$to'}" 2>&1); then
		fail "$label: fresh install of ${to:-$default_version}" "$out"
		return
	fi
	if compare "path$DBN" "$new" "$old"; then
		ok "$label: install $from + update gives the same objects as a fresh install"
	else
		fail "$label: install $from + update gives the same objects as a fresh install" \
			"(- fresh install, + updated)" "$(cat "$ROOT/path$DBN".*.err; head -n 80 "$ROOT/path$DBN.diff")"
	fi
	after=$(q "$U" "$old" "COPY (SELECT run_id, job, instance, token, status FROM cron_lock.job_runs ORDER BY run_id) TO STDOUT" 2>&1)
	check_eq "$label: run history survived the update" "$before" "$after"
	check_eq "$label: tokens continue after the update" "t|3" \
		"$(q "$U" "$old" "SELECT cron_lock_release('upg', 2); SELECT acquired, token FROM cron_lock_try('upg', 'h', '1h')" 2>&1 | tail -n 1)"
}

shopt -s nullglob
scripts=("$EXT_SRC"/cron_lock--*--*.sql)
shopt -u nullglob
echo "# ${#scripts[@]} upgrade paths"
for f in "${scripts[@]}"; do
	base=$(basename "$f" .sql)
	pair=${base#cron_lock--}
	from=${pair%%--*}
	to=${pair#*--}
	[ -f "$EXT_SRC/cron_lock--$to.sql" ] ||
		echo "# note: no cron_lock--$to.sql: the fresh install of $to is itself built through an update chain"
	upgrade_path "$from -> $to" "$from" "$to"
done

# Multi-step chains to the default version (single steps were done above).
chains=$(q "$U" postgres "SELECT 1" >/dev/null && q "$U" "$fresh1" \
	"SELECT source FROM pg_extension_update_paths('cron_lock') WHERE target = '$default_version' AND path LIKE '%--%--%' ORDER BY 1")
n_chains=$(grep -c . <<<"$chains")
echo "# $n_chains multi-step update chains to $default_version"
for from in $chains; do
	upgrade_path "$from -> $default_version (chain)" "$from" ""
done

summary
