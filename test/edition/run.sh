#!/usr/bin/env bash
# test/edition/run.sh SUITE...: the shared test files against the plain-SQL
# edition (sql-edition/), installed by a non-superuser database owner, on a
# throwaway cluster of its own.  SUITE: lint, regress, isolation, storm,
# install, cli, migrate, upgrade.
#
# The cluster's superuser is "edition_super"; the owner that installs the
# edition and runs every test is a role named "postgres" with CREATEDB and
# CREATEROLE only (like a Neon or RDS database owner), so that outputs that
# name the owner (ACLs) read as they do for the extension.  Expected outputs
# are the extension's, overlaid by sql-edition/expected/ where the README
# documents a difference.  Each suite ends with pg_regress's summary or
# "N passed, N failed"; the script exits non-zero if any suite failed.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
source test/lib/cluster.sh

version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" extension/cron_lock.control)
pgxs=$(dirname "$(pg_config --pgxs)")/../..
super=edition_super

dir=$(mktemp -d /tmp/cronlock-edition.XXXXXX)
chmod 755 "$dir"
trap 'cluster_stop "$dir/pg" immediate; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
# Built here, not in the repository (test-versions mounts it read-only).
built=$dir/edition
sql-edition/build.sh "$built" "$version" || exit 1
edition=$built/cron_lock.sql
CLUSTER_SUPERUSER=$super cluster_create "$dir/pg" && cluster_start "$dir/pg" || exit 1
eval "$(cluster_env "$dir/pg")"
quiet='-c client_min_messages=warning'
psql -qX -U $super -d postgres -v ON_ERROR_STOP=1 \
	-c "CREATE ROLE postgres LOGIN CREATEDB CREATEROLE" || exit 1

# fresh_db NAME: a database the owner owns, set up as pg_regress sets up its
# own (pg_regress --use-existing skips that, and a non-superuser may not set
# lc_messages), with the edition installed by the owner.
fresh_db() {
	PGOPTIONS=$quiet psql -qX -U $super -d postgres -v ON_ERROR_STOP=1 \
		-c "DROP DATABASE IF EXISTS \"$1\"" \
		-c "CREATE DATABASE \"$1\" TEMPLATE template0 OWNER postgres" \
		-c "ALTER DATABASE \"$1\" SET lc_messages TO 'C'" \
		-c "ALTER DATABASE \"$1\" SET lc_monetary TO 'C'" \
		-c "ALTER DATABASE \"$1\" SET lc_numeric TO 'C'" \
		-c "ALTER DATABASE \"$1\" SET lc_time TO 'C'" \
		-c "ALTER DATABASE \"$1\" SET bytea_output TO 'hex'" \
		-c "ALTER DATABASE \"$1\" SET timezone_abbreviations TO 'Default'" || return 1
	PGOPTIONS=$quiet psql -qX -U postgres -d "$1" -v ON_ERROR_STOP=1 -1 -f "$edition" || return 1
}

# describe DB: an md5 of the edition's objects in DB, without OIDs; where the
# query fails, its error and a random number, so that no two failures match.
describe() {
	local out
	out=$(psql -qXAt -v ON_ERROR_STOP=1 -U postgres -d "$1" -c "SELECT md5(string_agg(d, E'\n' ORDER BY d)) FROM (
		SELECT pg_get_functiondef(p.oid) || coalesce(p.proacl::text, '') AS d FROM pg_proc p
		 WHERE p.pronamespace IN ('public'::regnamespace, 'cron_lock'::regnamespace)
		UNION ALL
		SELECT c.relname || ' ' || c.relkind::text || coalesce(c.relacl::text, '') || coalesce(array_to_string(c.reloptions, ','), '')
			   || coalesce(pg_get_viewdef(c.oid), '') FROM pg_class c
		 WHERE c.relnamespace = 'cron_lock'::regnamespace
		UNION ALL
		SELECT a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
		  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		 WHERE c.relnamespace = 'cron_lock'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped) s" 2>&1)
	if grep -qxE '[0-9a-f]{32}' <<<"$out"; then echo "$out"; else echo "describe failed ($RANDOM): $out"; fi
}

# overlay OUT BASE EDITION: expected outputs, the edition's replacing the extension's.
overlay() {
	mkdir -p "$1"
	cp "$2"/*.out "$1"/
	ls "$3"/*.out >/dev/null 2>&1 && cp "$3"/*.out "$1"/
	return 0
}

# expected_dir IN: where the overlaid expected outputs are, for a pg_regress
# that looks for them in the current directory unless told (16 and later).
expected_dir() {
	"$pgxs/src/test/regress/pg_regress" --help 2>/dev/null | grep -- --expecteddir >/dev/null &&
		echo "--expecteddir=$1"
}

# The regression files, minus those about the C extension's own installation
# (README, section on the plain-SQL edition, says which and why).
regress_tests() {
	local skip=" install tables upgrade "
	sed -n 's/^REGRESS = //p' Makefile | tr ' ' '\n' | while read -r t; do
		[ -n "$t" ] && [[ $skip != *" $t "* ]] && echo "$t"
	done
}

suite_regress() {
	local in=$dir/regress
	rm -rf "$in" "$dir/$(basename "$in")-out" && mkdir -p "$in"
	ln -s "$repo/sql" "$in/sql"
	overlay "$in/expected" expected sql-edition/expected
	fresh_db edition_regression || return 1
	"$pgxs/src/test/regress/pg_regress" --use-existing --dbname=edition_regression \
		--user=postgres --inputdir="$in" $(expected_dir "$in") --outputdir="$dir/regress-out" \
		$(regress_tests) || { cat "$dir/regress-out/regression.diffs"; return 1; }
}

suite_isolation() {
	local in=$dir/isolation
	rm -rf "$in" "$dir/$(basename "$in")-out" && mkdir -p "$in"
	ln -s "$repo/test/isolation/specs" "$in/specs"
	overlay "$in/expected" test/isolation/expected sql-edition/expected/isolation
	fresh_db edition_isolation || return 1
	"$pgxs/src/test/isolation/pg_isolation_regress" --use-existing --dbname=edition_isolation \
		--user=postgres --inputdir="$in" $(expected_dir "$in") --outputdir="$dir/isolation-out" \
		$(cd test/isolation/specs && ls *.spec | sed 's/\.spec$//') ||
		{ cat "$dir/isolation-out/regression.diffs"; return 1; }
}

suite_storm() {
	CRONLOCK_STORM_INSTALL="psql -qX -v ON_ERROR_STOP=1 -1 -f $edition" test/storm/storm.sh 15
}

# plpgsql_check on every PL/pgSQL function of the edition: zero warnings.
suite_lint() {
	fresh_db edition_lint || return 1
	psql -qXAt -U $super -d edition_lint -v ON_ERROR_STOP=1 >"$dir/lint.out" <<'SQL' || return 1
CREATE EXTENSION plpgsql_check;
SELECT p.oid::regprocedure || ': ' || c
  FROM pg_proc p
  JOIN pg_language l ON l.oid = p.prolang AND l.lanname = 'plpgsql'
  CROSS JOIN LATERAL plpgsql_check_function(p.oid, fatal_errors => false,
		extra_warnings => true, performance_warnings => false, security_warnings => true) AS c
 WHERE p.pronamespace IN ('public'::regnamespace, 'cron_lock'::regnamespace)
   AND p.prorettype <> 'trigger'::regtype
   -- IMMUTABLE on purpose: folded when a plan is made (20-internal.sql).
   AND p.oid <> 'cron_lock.tables_checked(regclass[])'::regprocedure
   -- The extension's own definition (cron_lock--1.0.sql, STABLE with
   -- clock_timestamp()), which plpgsql_check 2.8+ flags; kept identical.
   AND p.proname <> 'cron_lock_duplicates';
-- Trigger functions, checked against the table they are attached to.
SELECT t.tgfoid::regprocedure || ': ' || c
  FROM pg_trigger t
  CROSS JOIN LATERAL plpgsql_check_function(t.tgfoid, t.tgrelid, fatal_errors => false,
		extra_warnings => true, performance_warnings => false, security_warnings => true) AS c
 WHERE t.tgrelid IN (SELECT r.oid FROM pg_class r WHERE r.relnamespace = 'cron_lock'::regnamespace);
SELECT 'checked ' || count(*) || ' functions' FROM pg_proc p
  JOIN pg_language l ON l.oid = p.prolang AND l.lanname = 'plpgsql'
 WHERE p.pronamespace IN ('public'::regnamespace, 'cron_lock'::regnamespace);
SQL
	local n
	n=$(grep -vc '^checked ' "$dir/lint.out")
	grep -v '^checked ' "$dir/lint.out"
	grep '^checked ' "$dir/lint.out"
	if [ "$n" -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed ($n findings)"; return 1; fi
}

# Facts only the edition has: installing without superuser (and what it says
# when it may not create the roles), reinstall as a no-op, uninstall keeping
# history and a reinstall continuing the tokens, purge leaving nothing, the
# refusal of triggers and the rest on the tables, backend_alive NULL for a
# backend the owner may not see, and refusal where the extension is installed.
suite_install() {
	local passed=0 failed=0 db=edition_install out before after pid secret
	check() {	# check NAME EXPECTED ACTUAL
		if [ "$2" = "$3" ]; then
			passed=$((passed + 1)); echo "ok   $1"
		else
			failed=$((failed + 1)); echo "FAIL $1: expected [$2], got [$3]"
		fi
	}
	q() { psql -qXAt -v ON_ERROR_STOP=1 -d $db "$@" 2>&1; }
	sqlstate() {	# the SQLSTATE a statement raises, or ok
		q -c "DO \$\$ BEGIN EXECUTE \$s\$$1\$s\$; RAISE NOTICE 'ok'; EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%', SQLSTATE; END \$\$" |
			sed -n 's/^psql:.*NOTICE:  //p; s/^NOTICE:  //p'
	}

	# A database owner that may not create roles, while the roles are missing
	# (the other suites' databases, which use them, go first).
	for d in $(psql -qXAt -U $super -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'edition_%' OR datname = 'cron_lock_storm'"); do
		psql -qX -U $super -d postgres -c "DROP DATABASE \"$d\"" || return 1
	done
	PGOPTIONS=$quiet psql -qX -U $super -d postgres -v ON_ERROR_STOP=1 \
		-c "DROP ROLE IF EXISTS cron_lock_user, cron_lock_admin" \
		-c "DROP ROLE IF EXISTS plain_owner" -c "CREATE ROLE plain_owner LOGIN CREATEDB" \
		-c "CREATE DATABASE $db OWNER plain_owner" || return 1
	out=$(psql -qX -U plain_owner -d $db -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -1 -f "$edition" 2>&1)
	check "no CREATEROLE: 42501" 1 "$(grep -c 'ERROR:  42501: role "cron_lock_user" does not exist and "plain_owner" may not create it' <<<"$out")"
	check "no CREATEROLE: says what to grant" 1 "$(grep -c 'HINT:  Ask an administrator to run: CREATE ROLE cron_lock_user NOLOGIN; CREATE ROLE cron_lock_admin NOLOGIN; GRANT cron_lock_user, cron_lock_admin TO plain_owner WITH ADMIN OPTION' <<<"$out")"
	check "no CREATEROLE: nothing created" 0 "$(q -U plain_owner -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'cron_lock'")"
	PGOPTIONS=$quiet psql -qX -U $super -d postgres -v ON_ERROR_STOP=1 \
		-c "DROP DATABASE $db" -c "DROP ROLE plain_owner" || return 1

	# The Neon-like owner (CREATEDB CREATEROLE) creates the roles; a reinstall changes nothing.
	fresh_db $db || return 1
	check "roles created NOLOGIN" "cron_lock_admin|f|f cron_lock_user|f|f" \
		"$(q -c "SELECT rolname, rolcanlogin, rolsuper FROM pg_roles WHERE rolname LIKE 'cron_lock_%' ORDER BY 1" | tr '\n' ' ' | sed 's/ $//')"
	q -c "SELECT token FROM cron_lock_try('inst.a', 'h', '1 hour')" >/dev/null
	before=$(describe $db)
	q -1 -f "$edition" >/dev/null
	after=$(describe $db)
	check "reinstall is a no-op" "$before" "$after"
	check "the lock rows: the chores', the epoch's, 16384 gates" "16386|-2|16383" \
		"$(q -c "SELECT count(*), min(id), max(id) FROM cron_lock.edition_locks")"
	check "edition() names the edition" "sql|$version|public" "$(q -c 'SELECT * FROM cron_lock.edition()')"

	# Triggers, rules, CHECK and exclusion constraints, foreign keys, generated
	# columns, row security and inheritance children of the tables are
	# refused with 55000.
	for obj in \
		"CREATE FUNCTION t() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'; CREATE TRIGGER t BEFORE INSERT ON cron_lock.contention FOR EACH ROW EXECUTE FUNCTION t()|DROP FUNCTION t() CASCADE" \
		"CREATE RULE r AS ON INSERT TO cron_lock.anomaly_log DO ALSO NOTIFY x|DROP RULE r ON cron_lock.anomaly_log" \
		"ALTER TABLE cron_lock.job_runs ADD CONSTRAINT c CHECK (instance <> 'x')|ALTER TABLE cron_lock.job_runs DROP CONSTRAINT c" \
		"ALTER TABLE cron_lock.leases ADD CONSTRAINT x EXCLUDE (token WITH =)|ALTER TABLE cron_lock.leases DROP CONSTRAINT x" \
		"CREATE TABLE fk_target (id bigint PRIMARY KEY); ALTER TABLE cron_lock.job_runs ADD CONSTRAINT f FOREIGN KEY (taken_over_by) REFERENCES fk_target|DROP TABLE fk_target CASCADE" \
		"ALTER TABLE cron_lock.leases ADD COLUMN g bigint GENERATED ALWAYS AS (token * 2) STORED|ALTER TABLE cron_lock.leases DROP COLUMN g" \
		"ALTER TABLE cron_lock.contention ENABLE ROW LEVEL SECURITY|ALTER TABLE cron_lock.contention DISABLE ROW LEVEL SECURITY" \
		"CREATE RULE r2 AS ON INSERT TO cron_lock.contention_hourly DO ALSO NOTIFY x|DROP RULE r2 ON cron_lock.contention_hourly" \
		"ALTER TABLE cron_lock.expected_instances ADD CONSTRAINT c2 CHECK (instance <> 'x')|ALTER TABLE cron_lock.expected_instances DROP CONSTRAINT c2" \
		"ALTER TABLE cron_lock.settings ENABLE ROW LEVEL SECURITY|ALTER TABLE cron_lock.settings DISABLE ROW LEVEL SECURITY" \
		"CREATE FUNCTION te() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'; CREATE TRIGGER te BEFORE UPDATE ON cron_lock.token_epoch FOR EACH ROW EXECUTE FUNCTION te()|DROP FUNCTION te() CASCADE" \
		"ALTER TABLE cron_lock.token_epoch DROP CONSTRAINT token_epoch_id_check, ADD CONSTRAINT token_epoch_id_check CHECK (id AND epoch >= 0)|ALTER TABLE cron_lock.token_epoch DROP CONSTRAINT token_epoch_id_check, ADD CONSTRAINT token_epoch_id_check CHECK (id)" \
		"CREATE TABLE kid () INHERITS (cron_lock.leases)|DROP TABLE kid" \
		"CREATE TABLE kid2 (LIKE cron_lock.job_runs); ALTER TABLE kid2 INHERIT cron_lock.job_runs|DROP TABLE kid2"; do
		q -c "${obj%%|*}" >/dev/null
		check "refused: ${obj%%|*}" 55000 "$(sqlstate "SELECT cron_lock_try('inst.a', 'h2', '1 hour')")"
		q -c "${obj#*|}" >/dev/null
		check "accepted again after: ${obj#*|}" ok "$(sqlstate "SELECT cron_lock_try('inst.a', 'h2', '1 hour')")"
	done
	# A child attached in the session that checked the tables already (the
	# check is cached per session): the change invalidates it, also when the
	# table had a child before (relhassubclass stays set).
	check "refused in the same session: an inheritance child attached later" 1 \
		"$(q -c "SELECT cron_lock_try('inst.a', 'h2', '1 hour')" -c "CREATE TABLE kid3 (LIKE cron_lock.leases)" \
			-c "ALTER TABLE kid3 INHERIT cron_lock.leases" -c "SELECT cron_lock_try('inst.a', 'h2', '1 hour')" |
			grep -c 'ERROR:  inheritance child public.kid3 on table cron_lock.leases is not supported')"
	q -c "DROP TABLE kid3" >/dev/null
	q -c "CREATE UNIQUE INDEX regress_u ON cron_lock.leases (token)" >/dev/null
	check "refused: an extra unique index" 55000 "$(sqlstate "SELECT cron_lock_try('inst.a', 'h2', '1 hour')")"
	q -c "DROP INDEX cron_lock.regress_u" >/dev/null
	q -c "CREATE POLICY regress_p ON cron_lock.leases USING (true)" >/dev/null
	check "refused: a policy, even without row security" 55000 "$(sqlstate "SELECT cron_lock_try('inst.a', 'h2', '1 hour')")"
	q -c "DROP POLICY regress_p ON cron_lock.leases" >/dev/null
	check "a plain index is fine" ok "$(sqlstate "CREATE INDEX regress_idx ON cron_lock.leases (expires_at); SELECT cron_lock_try('inst.a', 'h2', '1 hour')")"
	q -c "DROP INDEX cron_lock.regress_idx" >/dev/null

	# The token epoch: recorded with the real system identifier and timeline;
	# a row from another system (a copy of this cluster) starts a new epoch.
	check "token epoch recorded" "t|1|0" \
		"$(q -c "SELECT system_identifier = (SELECT system_identifier FROM pg_control_system()), timeline, epoch FROM cron_lock.token_epoch")"
	q -c "UPDATE cron_lock.token_epoch SET system_identifier = system_identifier + 1" -c "SELECT cron_lock_release('inst.a', 1)" >/dev/null
	check "a copy of the cluster starts a new epoch" "acquired|$(((1 << 32) + 1))" \
		"$(q -c "SELECT reason, token FROM cron_lock_try('inst.a', 'h', '1 hour')")"
	check "and records it" "t|1|1" \
		"$(q -c "SELECT system_identifier = (SELECT system_identifier FROM pg_control_system()), timeline, epoch FROM cron_lock.token_epoch")"

	# A busy answer followed by a write in the same statement commits durably.
	check "a busy answer and a write in one statement keep the flush" on \
		"$(q -c "SET synchronous_commit = on" -c "CREATE TABLE mine (x int)" -c "WITH t AS (SELECT * FROM cron_lock_try('inst.a', 'h3', '1 hour')) INSERT INTO mine SELECT 1 FROM t RETURNING current_setting('synchronous_commit')")"

	# The chores of one call in 8 (maybe_sweep) still run when they have work:
	# raw busy answers folded, a counter past the contention retention deleted.
	check "maybe_sweep folds the raw busy answers" "0|t" \
		"$(q -c "SELECT cron_lock_try('inst.a', 'h9', '1 hour')" -c "SELECT cron_lock.maybe_sweep()" \
			-c "SELECT (SELECT count(*) FROM cron_lock.contention), (SELECT sum(busy) > 0 FROM cron_lock.contention_hourly WHERE instance = 'h9')" | tail -1)"
	q -c "INSERT INTO cron_lock.contention_hourly (job, instance, reason, hour, busy, first_seen, last_seen)
		  VALUES ('inst.old', 'h', 'held', now() - interval '40 days', 1, now() - interval '40 days', now() - interval '40 days')" >/dev/null
	check "maybe_sweep applies the contention retention" 0 \
		"$(q -c "SELECT cron_lock.maybe_sweep()" -c "SELECT count(*) FROM cron_lock.contention_hourly WHERE job = 'inst.old'" | tail -1)"

	# backend_alive: NULL for a live backend of another role (the owner may not
	# see its start time), false once that backend is gone.
	q -c "CREATE ROLE edition_runner LOGIN IN ROLE cron_lock_user" >/dev/null
	psql -qXAt -U edition_runner -d $db -c "SELECT token FROM cron_lock_try('inst.other', 'h', '1 hour')" \
		-c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		[ "$(q -c "SELECT count(*) FROM cron_lock.leases WHERE job = 'inst.other'")" = 1 ] && break
		sleep 0.1
	done
	check "backend_alive NULL for another role's backend" "held|" \
		"$(q -c "SELECT state, backend_alive FROM cron_lock.status WHERE job = 'inst.other'")"
	psql -qX -U $super -d $db -c "SELECT pg_terminate_backend(backend_pid) FROM cron_lock.leases WHERE job = 'inst.other'" >/dev/null
	wait $pid
	check "backend_alive false once it is gone" "f" \
		"$(q -c "SELECT backend_alive FROM cron_lock.status WHERE job = 'inst.other'")"
	check "authority: force_release records the SET ROLE role" "t|edition_runner" \
		"$(q -c "GRANT cron_lock_admin TO edition_runner; GRANT edition_runner TO CURRENT_USER; SET ROLE edition_runner; SELECT cron_lock_force_release('inst.other'); RESET ROLE; SELECT forced_by FROM cron_lock.job_runs WHERE job = 'inst.other'" | tr '\n' '|' | sed 's/|$//')"

	check "the lock rows: an admin may not lock one" 1 \
		"$(psql -qXAt -U edition_runner -d $db -c "SELECT FROM cron_lock.edition_locks WHERE id = -2 FOR UPDATE SKIP LOCKED" 2>&1 | grep -c 'permission denied for table edition_locks')"

	# The backend's start time is read at every acquisition, not kept for the
	# session: granted pg_read_all_stats meanwhile, the owner sees it (a role
	# the owner is not a member of).
	q -c "CREATE ROLE edition_other LOGIN IN ROLE cron_lock_user" >/dev/null
	psql -qXAt -U edition_other -d $db -c "SELECT 1 FROM cron_lock_try('inst.start1', 'h', '1 hour')" \
		-c "\\! psql -qX -U $super -d $db -c 'GRANT pg_read_all_stats TO postgres'" \
		-c "SELECT 1 FROM cron_lock_try('inst.start2', 'h', '1 hour')" >/dev/null 2>&1
	check "backend start read anew in the same session" "false|true" \
		"$(q -c "SELECT string_agg((backend_start IS NOT NULL)::text, '|' ORDER BY job) FROM cron_lock.leases WHERE job IN ('inst.start1', 'inst.start2')")"
	psql -qX -U $super -d $db -c "REVOKE pg_read_all_stats FROM postgres" -c "DROP ROLE edition_other" >/dev/null

	# Uninstall keeps the history; a reinstall continues the tokens.
	q -f "$built/cron_lock_uninstall.sql" >/dev/null
	check "uninstall: functions gone" 0 "$(q -c "SELECT count(*) FROM pg_proc WHERE proname LIKE 'cron_lock%' OR pronamespace = 'cron_lock'::regnamespace")"
	check "uninstall: history kept" 2 "$(q -c "SELECT count(*) FROM cron_lock.job_runs WHERE job = 'inst.a'")"
	q -1 -f "$edition" >/dev/null
	check "reinstall continues the tokens" "acquired|$(((1 << 32) + 2))" \
		"$(q -c "SELECT cron_lock_release('inst.a', $(((1 << 32) + 1)))" -c "SELECT reason, token FROM cron_lock_try('inst.a', 'h', '1 hour')" | tail -1)"
	# A missing lock row refuses what needs it (55000), never runs without it.
	q -c "DELETE FROM cron_lock.edition_locks WHERE id IN (-2, cron_lock.gate('inst.nokey'))" >/dev/null
	check "no gate row: a first acquisition is refused, not left unlocked" 55000 "$(sqlstate "SELECT cron_lock_try('inst.nokey', 'h', '1 hour')")"
	check "no chores row: the sweep is refused" 55000 "$(sqlstate "SELECT cron_lock.sweep()")"
	q -1 -f "$edition" >/dev/null
	check "a reinstall adds them again" ok "$(sqlstate "SELECT cron_lock_try('inst.nokey', 'h', '1 hour')")"

	# Refused where the C extension is installed (when it is available here),
	# and the same catalog layout of schema cron_lock as the extension's, both
	# freshly created and updated from 1.0 (one description, schema/, builds
	# both): tables, sequences and views, their columns (types, collations,
	# NOT NULL, defaults), constraints and indexes (the edition's own trigger,
	# commit_lazily, is not part of the layout: its constraint row is left out;
	# nor is its table of lock rows, edition_locks).
	if [ "$(q -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'cron_lock'")" = 1 ]; then
		psql -qX -U $super -d postgres -c "CREATE DATABASE edition_ext" -c "CREATE DATABASE edition_ext_upd" >/dev/null &&
			psql -qX -U $super -d edition_ext -c "CREATE EXTENSION cron_lock" >/dev/null &&
			PGOPTIONS=$quiet psql -qX -U $super -d edition_ext_upd -c "CREATE EXTENSION cron_lock VERSION '1.0'" \
				-c "ALTER EXTENSION cron_lock UPDATE" >/dev/null
		local layout="SELECT c.relname, c.relkind, c.relreplident, coalesce(array_to_string(c.reloptions, ','), ''),
				coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
						|| coalesce(' collate ' || nullif(a.attcollation, 0)::regcollation::text, '')
						|| CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
						|| coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''), ', ' ORDER BY a.attnum)
					FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
				   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), ''),
				coalesce((SELECT string_agg(pg_get_constraintdef(k.oid), ', ' ORDER BY k.conname)
					FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype <> 't'), ''),
				coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY i.indexrelid::regclass::text)
					FROM pg_index i WHERE i.indrelid = c.oid), '')
			  FROM pg_class c WHERE c.relnamespace = 'cron_lock'::regnamespace AND c.relkind IN ('r', 'S', 'v')
			 ORDER BY 1"
		local mine
		mine=$(q -c "$layout" | sed '/regress_/d; /^edition_locks|/d')
		check "layout: at least 8 tables and 4 views compared" t \
			"$([ "$(grep -c '|r|' <<<"$mine")" -ge 8 ] && [ "$(grep -c '|v|' <<<"$mine")" -ge 4 ] && echo t)"
		check "same layout as the extension (CREATE EXTENSION)" \
			"$(psql -qXAt -U $super -d edition_ext -c "$layout")" "$mine"
		check "same layout as the extension (1.0, then ALTER EXTENSION UPDATE)" \
			"$(psql -qXAt -U $super -d edition_ext_upd -c "$layout")" "$mine"
		check "refused where the extension is installed" 1 \
			"$(psql -qX -U $super -d edition_ext -v VERBOSITY=verbose -1 -f "$edition" 2>&1 | grep -c 'ERROR:  55000: the cron_lock extension is installed in this database')"
		psql -qX -U $super -d postgres -c "DROP DATABASE edition_ext" -c "DROP DATABASE edition_ext_upd" >/dev/null
	fi

	# Purge leaves nothing.
	q -c "DROP ROLE edition_runner" >/dev/null
	q -f "$built/cron_lock_purge.sql" >/dev/null
	check "purge: nothing left" "0|0|0" \
		"$(q -c "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'cron_lock'), (SELECT count(*) FROM pg_proc WHERE proname LIKE 'cron_lock%'), (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'cron_lock_%')")"

	echo "$passed passed, $failed failed"
	[ $failed -eq 0 ]
}

# `cronlock install` / `uninstall` / `doctor` against the edition, as the
# Neon-like owner: install, a job run and a busy skip through it, reinstall as a
# no-op, --schema, the refusal where the C extension is installed, uninstall
# keeping the history (a reinstall continues the tokens), purge leaving nothing
# of cron_lock but roles another database still uses.  $CRONLOCK_BIN, default
# build/client/cronlock.
suite_cli() {
	local passed=0 failed=0 db=edition_cli bin=${CRONLOCK_BIN:-$repo/build/client/cronlock} out rc x bg
	check() {	# check NAME EXPECTED ACTUAL
		if [ "$2" = "$3" ]; then
			passed=$((passed + 1)); echo "ok   $1"
		else
			failed=$((failed + 1)); echo "FAIL $1: expected [$2], got [$3]"
		fi
	}
	own() { PGOPTIONS=$quiet psql -qXAt -v ON_ERROR_STOP=1 -U postgres -d "$1" -c "$2" 2>&1; }
	sup() { PGOPTIONS=$quiet psql -qXAt -v ON_ERROR_STOP=1 -U $super -d postgres "$@" 2>&1; }
	cl() {	# cl ARGS...: run cronlock, out = stdout+stderr, rc = its exit status
		out=$("$bin" "$@" 2>&1); rc=$?
	}
	if [ ! -x "$bin" ]; then
		echo "no cronlock binary at $bin (cmake --build build/client, or set CRONLOCK_BIN)"
		echo "0 passed, 1 failed"
		return 1
	fi
	for d in $db ${db}_schema ${db}_ext; do
		sup -c "DROP DATABASE IF EXISTS $d" -c "CREATE DATABASE $d OWNER postgres" >/dev/null || return 1
	done
	sup -c "DROP ROLE IF EXISTS cli_runner" -c "CREATE ROLE cli_runner LOGIN" >/dev/null || return 1
	local url="dbname=$db user=postgres" run="dbname=$db user=cli_runner"

	cl install --db "$url"
	check "install: exit 0" 0 "$rc"
	check "install: says what it did" 1 "$(grep -c "^installed the cron_lock plain-SQL edition $version (functions in schema public" <<<"$out")"
	check "install: functions in the current schema, as the owner" "public|sql|$version" \
		"$(own $db "SELECT p.pronamespace::regnamespace, e.edition, e.version FROM pg_proc p, cron_lock.edition() e WHERE p.proname = 'cron_lock_try'")"
	sup -c "GRANT cron_lock_user TO cli_runner" >/dev/null
	cl run --db "$run" --job cli.a -- true
	check "run through the edition: exit 0" 0 "$rc"
	check "run through the edition: recorded" "1|succeeded" "$(own $db "SELECT token, status FROM cron_lock.job_runs WHERE job = 'cli.a'")"
	"$bin" run --db "$run" --job cli.busy -- sleep 30 >/dev/null 2>&1 &
	bg=$!
	for _ in $(seq 100); do
		[ "$(own $db "SELECT count(*) FROM cron_lock.leases WHERE job = 'cli.busy'")" = 1 ] && break
		sleep 0.1
	done
	rm -f "$dir/busy-ran"
	cl run --db "$run" --job cli.busy --on-busy 3 -- touch "$dir/busy-ran"
	check "busy skip: --on-busy status" 3 "$rc"
	check "busy skip: the command did not run" no "$([ -e "$dir/busy-ran" ] && echo yes || echo no)"
	kill -TERM $bg 2>/dev/null; wait $bg 2>/dev/null

	x=$(own $db "SELECT xmin FROM pg_proc WHERE proname = 'cron_lock_try'")
	cl install --db "$url"
	check "reinstall: exit 0" 0 "$rc"
	check "reinstall: says nothing to do" 1 "$(grep -c "already installed (functions in schema public): nothing to do" <<<"$out")"
	check "reinstall: no catalog row rewritten" "$x" "$(own $db "SELECT xmin FROM pg_proc WHERE proname = 'cron_lock_try'")"
	cl install --db "$url" --schema elsewhere
	check "reinstall into another schema: 78" 78 "$rc"

	cl doctor --db "$run"
	check "doctor: exit 0 on the edition" 0 "$rc"
	check "doctor: names the edition and version" 1 "$(grep -c "^edition  *plain-SQL edition $version (functions in schema public)" <<<"$out")"
	check "doctor: privileges checked in the edition's schema" 1 "$(grep -c '^privileges  *ok' <<<"$out")"
	cl doctor --db "$run" --json
	check "doctor --json: edition" 1 "$(grep -c "\"edition\": {\"edition\": \"sql\", \"version\": \"$version\"}" <<<"$out")"

	# An older edition is upgraded, a newer one refused (edition() rewritten to
	# pretend); a lock wait is capped by --timeout.
	fake() { own $db "CREATE OR REPLACE FUNCTION cron_lock.edition(OUT edition text, OUT version text, OUT functions_schema name) LANGUAGE sql IMMUTABLE AS \$\$SELECT 'sql'::text, '$1'::text, 'public'::name\$\$" >/dev/null; }
	fake 1.0
	cl install --db "$url"
	check "upgrade from an older version: exit 0" 0 "$rc"
	check "upgrade from an older version: says so" 1 "$(grep -c "^upgraded the cron_lock plain-SQL edition from 1.0 to $version" <<<"$out")"
	check "upgrade from an older version: edition() updated" "$version" "$(own $db "SELECT version FROM cron_lock.edition()")"
	fake 99.0
	cl install --db "$url"
	check "downgrade: 78" 78 "$rc"
	check "downgrade: says so" 1 "$(grep -c "cron_lock 99.0 is installed; this file is version $version" <<<"$out")"
	fake 1.0
	PGOPTIONS=$quiet psql -qX -U $super -d $db -c "BEGIN" -c "LOCK TABLE cron_lock.leases" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
	bg=$!
	for _ in $(seq 100); do
		[ "$(own $db "SELECT count(*) FROM pg_locks WHERE relation = 'cron_lock.leases'::regclass AND mode = 'AccessExclusiveLock' AND granted")" = 1 ] && break
		sleep 0.1
	done
	x=$SECONDS
	cl install --db "$url" --timeout 1s
	check "a held table lock: install gives up (55P03), 69" "1|69" "$(grep -c 'SQLSTATE 55P03' <<<"$out")|$rc"
	check "a held table lock: within --timeout, not after it is released" t "$([ $((SECONDS - x)) -lt 30 ] && echo t)"
	check "a held table lock: nothing changed" 1.0 "$(own $db "SELECT version FROM cron_lock.edition()")"
	sup -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'" >/dev/null
	wait $bg 2>/dev/null
	cl install --db "$url"
	check "after the lock: upgraded" "0|$version" "$rc|$(own $db "SELECT version FROM cron_lock.edition()")"

	# Through PgBouncer in transaction mode: install, a run, a no-op reinstall.
	own postgres "SELECT 1" >/dev/null
	sup -c "DROP DATABASE IF EXISTS ${db}_pool" -c "CREATE DATABASE ${db}_pool OWNER postgres" >/dev/null
	if pgbouncer_start "$dir/bouncer" "${db}_pool = host=127.0.0.1 port=$(cat "$dir/pg/port") dbname=${db}_pool"; then
		local pool="host=127.0.0.1 port=$(cat "$dir/bouncer/port") dbname=${db}_pool user=postgres"
		cl install --db "$pool"
		check "PgBouncer (transaction): install" "0|1" "$rc|$(grep -c '^installed' <<<"$out")"
		cl run --db "$pool" --job cli.pool -- true
		check "PgBouncer (transaction): run" "0|1" "$rc|$(own ${db}_pool "SELECT count(*) FROM cron_lock.job_runs WHERE job = 'cli.pool' AND status = 'succeeded'")"
		cl install --db "$pool"
		check "PgBouncer (transaction): reinstall is a no-op" "0|1" "$rc|$(grep -c 'nothing to do' <<<"$out")"
		cl uninstall --db "$pool" --purge
		check "PgBouncer (transaction): purge" "0|0" "$rc|$(own ${db}_pool "SELECT count(*) FROM pg_namespace WHERE nspname = 'cron_lock'")"
		pgbouncer_stop "$dir/bouncer"
	else
		failed=$((failed + 1)); echo "FAIL PgBouncer did not start"
	fi
	sup -c "DROP DATABASE ${db}_pool" >/dev/null

	# --schema S: the functions go there.
	own ${db}_schema "CREATE SCHEMA jobs" >/dev/null
	cl install --db "dbname=${db}_schema user=postgres" --schema nope
	check "--schema of a missing schema: 78" 78 "$rc"
	check "--schema of a missing schema: says so" 1 "$(grep -c 'schema "nope" does not exist' <<<"$out")"
	cl install --db "dbname=${db}_schema user=postgres" --schema jobs
	check "--schema jobs: exit 0" 0 "$rc"
	check "--schema jobs: functions there, none in public" "jobs|jobs" \
		"$(own ${db}_schema "SELECT string_agg(DISTINCT pronamespace::regnamespace::text, ','), (SELECT functions_schema FROM cron_lock.edition()) FROM pg_proc WHERE proname LIKE 'cron_lock_%'")"
	cl doctor --db "dbname=${db}_schema user=postgres"
	check "--schema jobs: doctor names it" 1 "$(grep -c "^edition  *plain-SQL edition $version (functions in schema jobs)" <<<"$out")"

	# Where the C extension is installed: refused, 78, one clear line.
	if [ "$(sup -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'cron_lock'")" = 1 ]; then
		local extv
		PGOPTIONS=$quiet psql -qX -U $super -d ${db}_ext -c "CREATE EXTENSION cron_lock" >/dev/null
		extv=$(sup -d ${db}_ext -c "SELECT extversion FROM pg_extension WHERE extname = 'cron_lock'")
		cl install --db "dbname=${db}_ext user=postgres"
		check "C extension installed: install exits 78" 78 "$rc"
		check "C extension installed: says so" 1 "$(grep -c "^cronlock: the cron_lock C extension $extv is installed in this database" <<<"$out")"
		check "C extension installed: nothing added" 0 "$(own ${db}_ext "SELECT count(*) FROM pg_proc WHERE proname = 'edition'")"
		cl uninstall --db "dbname=${db}_ext user=postgres" --purge
		check "C extension installed: uninstall --purge exits 78" 78 "$rc"
		check "C extension installed: extension untouched" "$extv" "$(sup -d ${db}_ext -c "SELECT extversion FROM pg_extension WHERE extname = 'cron_lock'")"
		cl doctor --db "dbname=${db}_ext user=$super"
		check "doctor names the C extension" 1 "$(grep -c "^edition  *C extension $extv" <<<"$out")"
	else
		failed=$((failed + 1)); echo "FAIL the cron_lock C extension is not installed on this server"
	fi

	# Uninstall keeps the history; a reinstall continues the tokens.
	cl uninstall --db "$url"
	check "uninstall: exit 0" 0 "$rc"
	check "uninstall: says the history stays" 1 "$(grep -c 'its history stays in schema cron_lock' <<<"$out")"
	check "uninstall: no functions left, history kept" "0|1" \
		"$(own $db "SELECT (SELECT count(*) FROM pg_proc WHERE proname LIKE 'cron_lock%' OR pronamespace = 'cron_lock'::regnamespace), (SELECT count(*) FROM cron_lock.job_runs WHERE job = 'cli.a')")"
	cl doctor --db "$url"
	check "doctor without an edition: 78" 78 "$rc"
	cl install --db "$url"
	check "reinstall over the history: exit 0" 0 "$rc"
	check "reinstall over the history: says so" 1 "$(grep -c 'history kept from before' <<<"$out")"
	cl run --db "$run" --job cli.a -- true
	check "reinstall over the history: the tokens continue" "1 2" "$(own $db "SELECT string_agg(token::text, ' ' ORDER BY token) FROM cron_lock.job_runs WHERE job = 'cli.a'")"

	# Purge: nothing of cron_lock left in the database; the roles stay while
	# the other database still grants to them, and the output says so.
	cl uninstall --db "$url" --purge
	check "purge: exit 0" 0 "$rc"
	check "purge: says the roles are kept" 1 "$(grep -c 'roles cron_lock_admin, cron_lock_user kept' <<<"$out")"
	check "purge: no schema, no functions, no types" "0|0|0" \
		"$(own $db "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'cron_lock%'), (SELECT count(*) FROM pg_proc WHERE proname LIKE 'cron_lock%' OR proname = 'edition'), (SELECT count(*) FROM pg_type WHERE typname LIKE 'try_result%')")"
	cl uninstall --db "$url" --purge
	check "purge again: nothing to do" "0|1" "$rc|$(grep -c 'not installed in this database: nothing to do' <<<"$out")"
	sup -c "DROP DATABASE ${db}_ext" >/dev/null
	cl uninstall --db "dbname=${db}_schema user=postgres" --purge
	check "purge of the last database: the roles go too" "0|0" "$rc|$(sup -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'cron_lock_%'")"

	# Usage and reachability.
	cl install --db "$url" --purge
	check "install --purge: usage 64" 64 "$rc"
	cl uninstall --db "$url" --schema x
	check "uninstall --schema: usage 64" 64 "$rc"
	cl install --db "host=127.0.0.1 port=1 dbname=x" --connect-timeout 1s
	check "unreachable: 69" 69 "$rc"

	sup -c "DROP DATABASE $db" -c "DROP DATABASE ${db}_schema" -c "DROP ROLE cli_runner" >/dev/null
	echo "$passed passed, $failed failed"
	[ $failed -eq 0 ]
}

# The tested way between the edition and the C extension, both directions,
# with history kept: cron_lock_move_out.sql, remove the old one, install the
# other, cron_lock_move_in.sql.  Run ids, a held lease and each job's tokens
# continue; tokens never go back.  Needs the extension on this server.
suite_migrate() {
	local passed=0 failed=0 db=edition_migrate b=$built
	check() {	# check NAME EXPECTED ACTUAL
		if [ "$2" = "$3" ]; then
			passed=$((passed + 1)); echo "ok   $1"
		else
			failed=$((failed + 1)); echo "FAIL $1: expected [$2], got [$3]"
		fi
	}
	own() { PGOPTIONS=$quiet psql -qXAt -v ON_ERROR_STOP=1 -U postgres -d $db "$@" 2>&1; }
	sup() { PGOPTIONS=$quiet psql -qXAt -v ON_ERROR_STOP=1 -U $super -d $db "$@" 2>&1; }
	tick() {	# tick JOB: take and release JOB once, print the token
		sup -c "SELECT token FROM cron_lock_try('$1', 'm', '1 hour')" -c "SELECT cron_lock_release('$1', (SELECT token FROM cron_lock.leases WHERE job = '$1'))" | head -1
	}
	if [ "$(psql -qXAt -U $super -d postgres -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'cron_lock'")" != 1 ]; then
		echo "the cron_lock extension is not installed on this server"
		echo "0 passed, 1 failed"
		return 1
	fi
	fresh_db $db || return 1
	tick mv >/dev/null; tick mv >/dev/null
	check "edition: third token" 3 "$(tick mv)"
	check "edition: a lease held for an hour" 1 "$(sup -c "SELECT token FROM cron_lock_try('held', 'h', '1 hour')")"
	local runs maxid
	runs=$(sup -c "SELECT count(*) FROM cron_lock.job_runs")
	maxid=$(sup -c "SELECT max(run_id) FROM cron_lock.job_runs")

	# Edition -> extension: the owner sets the history aside and removes the
	# edition; a superuser creates the extension and copies the history in.
	check "edition -> extension: move out" "" "$(own -1 -f $b/cron_lock_move_out.sql)"
	own -f $b/cron_lock_uninstall.sql >/dev/null
	check "edition -> extension: edition removed" "" "$(own -c "DROP SCHEMA cron_lock CASCADE")"
	check "edition -> extension: CREATE EXTENSION" "" "$(sup -c "CREATE EXTENSION cron_lock")"
	check "edition -> extension: move in" "" "$(sup -1 -f $b/cron_lock_move_in.sql | grep -v '^[0-9]*$')"
	check "extension: history kept" "$runs" "$(sup -c "SELECT count(*) FROM cron_lock.job_runs")"
	check "extension: the held lease is still held" "held|h" \
		"$(sup -c "SELECT reason, holder FROM cron_lock_try('held', 'x', '1 hour')")"
	check "extension: tokens continue" 4 "$(tick mv)"
	check "extension: run ids continue" t "$(sup -c "SELECT min(run_id) > $maxid FROM cron_lock.job_runs WHERE token = 4")"
	check "extension: the anomaly view is clean" 0 "$(sup -c "SELECT count(*) FROM cron_lock.anomalies")"
	runs=$(sup -c "SELECT count(*) FROM cron_lock.job_runs")
	maxid=$(sup -c "SELECT max(run_id) FROM cron_lock.job_runs")

	# Extension -> edition: a superuser sets the history aside and drops the
	# extension; the owner installs the edition; the history is copied in.
	check "extension -> edition: move out" "" "$(sup -1 -f $b/cron_lock_move_out.sql)"
	check "extension -> edition: DROP EXTENSION" "" "$(sup -c "DROP EXTENSION cron_lock")"
	check "extension -> edition: the owner installs the edition" "" "$(own -1 -f "$edition")"
	check "extension -> edition: move in" "" "$(sup -1 -f $b/cron_lock_move_in.sql | grep -v '^[0-9]*$')"
	check "edition again: history kept" "$runs" "$(sup -c "SELECT count(*) FROM cron_lock.job_runs")"
	check "edition again: the held lease is still held" "held|h" \
		"$(sup -c "SELECT reason, holder FROM cron_lock_try('held', 'x', '1 hour')")"
	check "edition again: tokens continue" 5 "$(tick mv)"
	check "edition again: run ids continue" t "$(sup -c "SELECT min(run_id) > $maxid FROM cron_lock.job_runs WHERE token = 5")"
	check "edition again: the holder releases its lease" t "$(sup -c "SELECT cron_lock_release('held', 1)")"
	check "edition again: per job, tokens 1..N, never reissued" 0 \
		"$(sup -c "SELECT count(*) FROM (SELECT job, count(*) n, max(token) m, count(DISTINCT token) d FROM cron_lock.job_runs GROUP BY job) s WHERE n <> m OR n <> d")"
	check "edition again: nothing left aside" 0 "$(sup -c "SELECT count(*) FROM pg_namespace WHERE nspname = 'cron_lock_moved'")"

	echo "$passed passed, $failed failed"
	[ $failed -eq 0 ]
}

# From the 1.1 edition (built from the last commit that shipped it) to this
# one, with a lease held: the same objects as a fresh install, the lease and
# the history kept, and 1.2's pause, health and expectations at work.
suite_upgrade() {
	local passed=0 failed=0 db=edition_upgrade old=$dir/edition-1.1 ref fresh
	check() {	# check NAME EXPECTED ACTUAL
		if [ "$2" = "$3" ]; then
			passed=$((passed + 1)); echo "ok   $1"
		else
			failed=$((failed + 1)); echo "FAIL $1: expected [$2], got [$3]"
		fi
	}
	q() { psql -qXAt -v ON_ERROR_STOP=1 -U postgres -d $db "$@" 2>&1; }
	ref=$(git log --format=%H -S"default_version = '1.1'" -- extension/cron_lock.control | head -1)
	rm -rf "$old" && mkdir -p "$old" &&
		git archive "$ref^" sql-edition | tar -x -C "$old" &&
		"$old/sql-edition/build.sh" "$old/out" 1.1 >/dev/null || return 1
	fresh_db $db || return 1
	fresh=$(describe $db)
	PGOPTIONS=$quiet psql -qX -U $super -d postgres -c "DROP DATABASE $db" -c "CREATE DATABASE $db TEMPLATE template0 OWNER postgres" || return 1
	PGOPTIONS=$quiet psql -qX -U postgres -d $db -v ON_ERROR_STOP=1 -1 -f "$old/out/cron_lock.sql" || return 1
	check "1.1 installed" 1.1 "$(q -c "SELECT version FROM cron_lock.edition()")"
	q -c "SELECT cron_lock_try('up.held', 'host-1', '1 hour')" -c "SELECT cron_lock_release('up.done', token) FROM cron_lock_try('up.done', 'host-1', '1 hour')" >/dev/null
	PGOPTIONS=$quiet psql -qX -U postgres -d $db -v ON_ERROR_STOP=1 -1 -f "$edition" >/dev/null || return 1
	check "upgraded to $version" "$version" "$(q -c "SELECT version FROM cron_lock.edition()")"
	check "the same objects as a fresh install" "$fresh" "$(describe $db)"
	check "the held lease is kept" "held|host-1|" "$(q -c "SELECT state, holder, paused_until FROM cron_lock.status WHERE job = 'up.held'")"
	check "a busy answer on it" held "$(q -c "SELECT reason FROM cron_lock_try('up.held', 'host-2', '1 hour')")"
	q -c "SELECT cron_lock_pause('up.held')" >/dev/null
	check "paused after the upgrade" "paused|host-1" "$(q -c "SELECT reason, holder FROM cron_lock_try('up.held', 'host-2', '1 hour')")"
	check "its holder releases it" t "$(q -c "SELECT cron_lock_release('up.held', 1)")"
	check "resumed" t "$(q -c "SELECT cron_lock_resume('up.held')")"
	check "tokens continue" "acquired|2" "$(q -c "SELECT reason, token FROM cron_lock_try('up.done', 'host-2', '1 hour')")"
	q -c "SELECT cron_lock_expect('up.done', every => '1 hour')" >/dev/null
	check "health of the old history" "up.done|running|succeeded|0
up.held|unknown|succeeded|0" "$(q -c "SELECT job, state, last_status, consecutive_failures FROM cron_lock.health ORDER BY job")"
	# An earlier build of this version (first acquisitions keyed by a secret
	# in cron_lock.edition_private, landed before 9ad4fb9): its objects go.
	ref=$(git log --format=%H -S"edition_private" -- sql-edition/src/10-tables.sql | head -1)
	rm -rf "$old" && mkdir -p "$old" &&
		git archive "$ref^" sql-edition schema | tar -x -C "$old" &&
		"$old/sql-edition/build.sh" "$old/out" "$version" >/dev/null || return 1
	PGOPTIONS=$quiet psql -qX -U $super -d postgres -c "DROP DATABASE $db" -c "CREATE DATABASE $db TEMPLATE template0 OWNER postgres" || return 1
	PGOPTIONS=$quiet psql -qX -U postgres -d $db -v ON_ERROR_STOP=1 -1 -f "$old/out/cron_lock.sql" || return 1
	q -c "SELECT cron_lock_release('up.done', token) FROM cron_lock_try('up.done', 'host-1', '1 hour')" >/dev/null
	check "the secret's build has it" 1 "$(q -c "SELECT count(*) FROM cron_lock.edition_private")"
	PGOPTIONS=$quiet psql -qX -U postgres -d $db -v ON_ERROR_STOP=1 -1 -f "$edition" >/dev/null || return 1
	check "over the secret's build: the same objects as a fresh install" "$fresh" "$(describe $db)"
	check "over the secret's build: tokens continue" "acquired|2" "$(q -c "SELECT reason, token FROM cron_lock_try('up.done', 'host-2', '1 hour')")"
	echo "$passed passed, $failed failed"
	[ $failed -eq 0 ]
}

rc=0
for s in "$@"; do
	echo "--- edition $s"
	start=$SECONDS
	if "suite_$s"; then
		echo "--- edition $s: ok ($((SECONDS - start))s)"
	else
		echo "--- edition $s: FAILED ($((SECONDS - start))s)"
		rc=1
	fi
done
exit $rc
