/* sql-edition/src/20-internal.sql: the helpers behind the SQL API, in schema
 * cron_lock.  Only the owner may execute them (see 90-privileges.sql); they
 * carry no SET clause (a GUC save and restore on every call) because they
 * run inside the API functions, under their pinned search_path.  Each one
 * mirrors a part of the extension's C code and raises the same errors. */

-- arg_name: a job or instance argument, checked as the extension's ArgName
-- does.  Names are compared byte for byte, so anything that would make two
-- names look alike (padding, control characters) is refused.
CREATE OR REPLACE FUNCTION cron_lock.arg_name(name text, what text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
	len integer;
	pos integer;
	n integer;
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION '% must not be null', what USING ERRCODE = '22004';
	END IF;
	len := pg_catalog.octet_length(name);
	IF len = 0 THEN
		RAISE EXCEPTION '% must not be empty', what USING ERRCODE = '22023';
	END IF;
	IF len > 200 THEN
		-- The first 40 bytes, whole characters only.
		n := 40;
		WHILE pg_catalog.octet_length(pg_catalog.left(name, n)) > 40 LOOP
			n := n - 1;
		END LOOP;
		RAISE EXCEPTION '% "%..." is too long', what, pg_catalog.left(name, n)
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('It is %s bytes; the limit is %s bytes.', len, 200);
	END IF;
	pos := pg_catalog.regexp_instr(name, '[\x01-\x1f\x7f]');
	IF pos > 0 THEN
		RAISE EXCEPTION '% "%" contains a control character', what, name
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('Byte %s is 0x%s.',
					pg_catalog.octet_length(pg_catalog.left(name, pos - 1)) + 1,
					pg_catalog.lpad(pg_catalog.to_hex(pg_catalog.ascii(pg_catalog.substr(name, pos, 1))), 2, '0'));
	END IF;
	IF pg_catalog.left(name, 1) = ' ' OR pg_catalog.right(name, 1) = ' ' THEN
		RAISE EXCEPTION '% "%" has leading or trailing spaces', what, name
			USING ERRCODE = '22023', HINT = 'Names are compared byte for byte; trim them.';
	END IF;
END
$$;

-- arg_span: an interval as microseconds.  A month has no fixed length, so an
-- interval with a month part is refused; so is one too large for bigint
-- microseconds.  Days count 24 hours, whatever the time zone.
CREATE OR REPLACE FUNCTION cron_lock.arg_span(span interval, what text, job text)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
	usec numeric;
BEGIN
	IF pg_catalog.date_part('year', span) <> 0 OR pg_catalog.date_part('month', span) <> 0 THEN
		RAISE EXCEPTION '% for job "%" must not have a month part', what, job
			USING ERRCODE = '22023',
				  HINT = 'Give it in days, hours, minutes or seconds: a month has no fixed length.';
	END IF;
	usec := pg_catalog.extract('epoch', span) * 1000000;
	IF usec < -9223372036854775808 OR usec > 9223372036854775807 THEN
		RAISE EXCEPTION '% for job "%" is out of range', what, job USING ERRCODE = '22023';
	END IF;
	RETURN usec::bigint;
END
$$;

-- arg_ttl: a lease length, more than zero and at most 31 days, in microseconds.
CREATE OR REPLACE FUNCTION cron_lock.arg_ttl(ttl interval, job text)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
	usec bigint;
BEGIN
	IF ttl IS NULL THEN
		RAISE EXCEPTION 'ttl for job "%" must not be null', job USING ERRCODE = '22004';
	END IF;
	usec := cron_lock.arg_span(ttl, 'ttl', job);
	IF usec <= 0 THEN
		RAISE EXCEPTION 'ttl for job "%" must be greater than zero', job USING ERRCODE = '22023';
	END IF;
	IF usec > 31 * 86400000000::bigint THEN
		RAISE EXCEPTION 'ttl for job "%" must be at most 31 days', job
			USING ERRCODE = '22023',
				  HINT = 'A runner that holds a job longer should renew a shorter lease with cron_lock_heartbeat.';
	END IF;
	RETURN usec;
END
$$;

-- arg_min_gap: the optional min_gap in microseconds; NULL when none is wanted.
CREATE OR REPLACE FUNCTION cron_lock.arg_min_gap(min_gap interval, job text)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
	usec bigint;
BEGIN
	IF min_gap IS NULL THEN
		RETURN NULL;
	END IF;
	usec := cron_lock.arg_span(min_gap, 'min_gap', job);
	IF usec <= 0 THEN
		RAISE EXCEPTION 'min_gap for job "%" must be greater than zero', job
			USING ERRCODE = '22023', HINT = 'Pass NULL for no minimum gap.';
	END IF;
	RETURN usec;
END
$$;

-- arg_status: how a run ended, as reported by its holder.
CREATE OR REPLACE FUNCTION cron_lock.arg_status(status text, job text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
	IF status IS NULL THEN
		RAISE EXCEPTION 'status for job "%" must not be null', job USING ERRCODE = '22004';
	END IF;
	IF status NOT IN ('succeeded', 'failed', 'cancelled') THEN
		RAISE EXCEPTION 'invalid status "%" for job "%"', status, job
			USING ERRCODE = '22023', HINT = 'Use succeeded, failed or cancelled.';
	END IF;
END
$$;

-- arg_token: a fencing token argument; any non-NULL value is accepted.
CREATE OR REPLACE FUNCTION cron_lock.arg_token(token bigint)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
	IF token IS NULL THEN
		RAISE EXCEPTION 'token must not be null' USING ERRCODE = '22004';
	END IF;
END
$$;

-- require_writable: 25006 on a standby or in a read-only transaction, before
-- anything is read, with a hint that says where to go instead.
CREATE OR REPLACE FUNCTION cron_lock.require_writable(action text, job text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
	IF pg_catalog.pg_is_in_recovery() THEN
		RAISE EXCEPTION 'cannot % job "%" on a standby', action, job
			USING ERRCODE = '25006',
				  DETAIL = 'The server is in recovery; leases change only on the primary.',
				  HINT = 'Connect to the primary, for example with target_session_attrs=read-write.';
	END IF;
	IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
		RAISE EXCEPTION 'cannot % job "%" in a read-only transaction', action, job
			USING ERRCODE = '25006', HINT = 'Call it outside a READ ONLY transaction.';
	END IF;
END
$$;

-- layout_natts: how many columns (pg_class.relnatts) each table had when the
-- edition was installed; an added column, generated or not, changes it.
-- Written by the install, inlined into refuse_foreign_objects' query.
DO $do$
BEGIN
	EXECUTE pg_catalog.format($f$
		CREATE OR REPLACE FUNCTION cron_lock.layout_natts(rel name)
		RETURNS smallint
		LANGUAGE sql IMMUTABLE
		AS $b$SELECT (CASE rel %s END)::smallint$b$$f$,
		(SELECT pg_catalog.string_agg(pg_catalog.format('WHEN %L THEN %s', c.relname, c.relnatts), ' ')
		   FROM pg_catalog.pg_class c
		  WHERE c.relnamespace = 'cron_lock'::regnamespace
			AND c.relname IN ('leases', 'job_runs', 'contention', 'anomaly_log')));
END
$do$;

-- table_name: a relation's name, schema-qualified whatever the search_path.
CREATE OR REPLACE FUNCTION cron_lock.table_name(rel oid)
RETURNS text
LANGUAGE sql STABLE
AS $$
	SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.oid = rel
$$;

-- refuse_foreign_objects: 55000, as the extension raises it, while anything
-- is attached to the tables that would run or apply inside the API
-- functions, which write them as their owner: a trigger (a foreign key's
-- too), a rule, a CHECK or exclusion constraint, an extra unique index
-- (updates of leases must stay "no key" updates), a generated column, row
-- security or a policy.  Plain indexes are fine.  The edition cannot forbid
-- these objects up front, so every call checks the catalog: cheap queries
-- over pg_class (flags, column counts), pg_index and pg_policy, and the
-- thorough one, which names the object, only when they find something, or
-- when asked.
CREATE OR REPLACE FUNCTION cron_lock.refuse_foreign_objects(thorough boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
	what text;
	removal text;
	rel oid;
BEGIN
	-- relhastriggers and relhasrules may outlive the last trigger or rule
	-- until the next VACUUM: until then the thorough query runs and passes.
	IF NOT thorough AND NOT EXISTS (
		SELECT FROM pg_catalog.pg_class c
		 WHERE c.relname IN ('leases', 'job_runs', 'contention', 'anomaly_log')
		   AND c.relnamespace = 'cron_lock'::regnamespace
		   AND (c.relhastriggers OR c.relhasrules OR c.relrowsecurity OR c.relforcerowsecurity
				OR c.relchecks > 0 OR c.relnatts <> cron_lock.layout_natts(c.relname)))
		-- The unique indexes of 10-tables.sql: leases_pkey, job_runs_pkey,
		-- job_runs_job_token_key (install refuses any other).
		AND (SELECT pg_catalog.count(*) FROM pg_catalog.pg_index i
			  WHERE (i.indisexclusion OR i.indisunique)
				AND i.indrelid IN ('cron_lock.leases'::regclass, 'cron_lock.job_runs'::regclass,
								   'cron_lock.contention'::regclass, 'cron_lock.anomaly_log'::regclass)) = 3
		AND NOT EXISTS (
		SELECT FROM pg_catalog.pg_policy p
		 WHERE p.polrelid IN ('cron_lock.leases'::regclass, 'cron_lock.job_runs'::regclass,
							  'cron_lock.contention'::regclass, 'cron_lock.anomaly_log'::regclass)) THEN
		RETURN;
	END IF;
	SELECT o.what, o.removal, o.rel INTO what, removal, rel
	  FROM (SELECT 1 AS o, t.tgrelid AS rel,
				   CASE WHEN t.tgconstraint = 0 THEN pg_catalog.format('trigger "%s"', t.tgname)
						ELSE pg_catalog.format('trigger of constraint "%s" of table %s', k.conname, cron_lock.table_name(k.conrelid)) END AS what,
				   CASE WHEN t.tgconstraint = 0 THEN pg_catalog.format('DROP TRIGGER %I ON %s', t.tgname, cron_lock.table_name(t.tgrelid))
						ELSE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', cron_lock.table_name(k.conrelid), k.conname) END AS removal
			  FROM pg_catalog.pg_trigger t
			  LEFT JOIN pg_catalog.pg_constraint k ON k.oid = t.tgconstraint
			 WHERE t.tgrelid IN ('cron_lock.leases'::regclass, 'cron_lock.job_runs'::regclass,
								 'cron_lock.contention'::regclass, 'cron_lock.anomaly_log'::regclass)
			UNION ALL
			SELECT 2, r.ev_class, pg_catalog.format('rule "%s"', r.rulename),
				   pg_catalog.format('DROP RULE %I ON %s', r.rulename, cron_lock.table_name(r.ev_class))
			  FROM pg_catalog.pg_rewrite r
			 WHERE r.ev_class IN ('cron_lock.leases'::regclass, 'cron_lock.job_runs'::regclass,
								  'cron_lock.contention'::regclass, 'cron_lock.anomaly_log'::regclass)
			UNION ALL
			SELECT 3, k.conrelid,
				   pg_catalog.format(CASE k.contype WHEN 'c' THEN 'CHECK constraint "%s"'
								  ELSE 'exclusion constraint "%s"' END, k.conname),
				   pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', cron_lock.table_name(k.conrelid), k.conname)
			  FROM pg_catalog.pg_constraint k
			 WHERE k.conrelid IN ('cron_lock.leases'::regclass, 'cron_lock.job_runs'::regclass,
								  'cron_lock.contention'::regclass, 'cron_lock.anomaly_log'::regclass)
			   AND k.contype IN ('c', 'x')
			UNION ALL
			SELECT 4, i.indrelid, pg_catalog.format('unique index "%s"', x.relname),
				   pg_catalog.format('DROP INDEX %s, or ALTER TABLE %s DROP CONSTRAINT %I if a constraint made it',
									 cron_lock.table_name(i.indexrelid), cron_lock.table_name(i.indrelid), x.relname)
			  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class x ON x.oid = i.indexrelid
			 WHERE i.indisunique AND NOT i.indisexclusion
			   AND i.indrelid IN ('cron_lock.leases'::regclass, 'cron_lock.job_runs'::regclass,
								  'cron_lock.contention'::regclass, 'cron_lock.anomaly_log'::regclass)
			   AND i.indexrelid NOT IN ('cron_lock.leases_pkey'::regclass, 'cron_lock.job_runs_pkey'::regclass,
										'cron_lock.job_runs_job_token_key'::regclass)
			UNION ALL
			SELECT 5, a.attrelid, pg_catalog.format('generated column "%s"', a.attname),
				   pg_catalog.format('ALTER TABLE %s DROP COLUMN %I', cron_lock.table_name(a.attrelid), a.attname)
			  FROM pg_catalog.pg_attribute a
			 WHERE a.attrelid IN ('cron_lock.leases'::regclass, 'cron_lock.job_runs'::regclass,
								  'cron_lock.contention'::regclass, 'cron_lock.anomaly_log'::regclass)
			   AND a.attnum > 0 AND a.attgenerated <> ''
			UNION ALL
			SELECT 6, c.oid, 'row security',
				   pg_catalog.format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY', cron_lock.table_name(c.oid))
			  FROM pg_catalog.pg_class c
			 WHERE c.oid IN ('cron_lock.leases'::regclass, 'cron_lock.job_runs'::regclass,
							 'cron_lock.contention'::regclass, 'cron_lock.anomaly_log'::regclass)
			   AND (c.relrowsecurity OR c.relforcerowsecurity)
			UNION ALL
			SELECT 7, p.polrelid, pg_catalog.format('row security policy "%s"', p.polname),
				   pg_catalog.format('DROP POLICY %I ON %s', p.polname, cron_lock.table_name(p.polrelid))
			  FROM pg_catalog.pg_policy p
			 WHERE p.polrelid IN ('cron_lock.leases'::regclass, 'cron_lock.job_runs'::regclass,
								  'cron_lock.contention'::regclass, 'cron_lock.anomaly_log'::regclass)) o
	 ORDER BY o.o
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION '% on table cron_lock.% is not supported', what, (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = rel)
			USING ERRCODE = '55000',
				  DETAIL = 'cron_lock''s tables belong to cron_lock: its functions refuse to run while a trigger, rule, CHECK or exclusion constraint, extra unique index, generated column or row security is attached to them.',
				  HINT = pg_catalog.format('Remove it (%s). To follow changes to leases and runs, read the views in schema cron_lock or use logical decoding.', removal);
	END IF;
END
$$;

-- Installing over tables that carry any of those is refused too.
DO $$ BEGIN PERFORM cron_lock.refuse_foreign_objects(true); END $$;

-- commit_durably: make the current transaction commit with at least
-- synchronous_commit = on (transaction-local, like SET LOCAL).  Stronger
-- settings (remote_apply) are kept.
CREATE OR REPLACE FUNCTION cron_lock.commit_durably()
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
	IF pg_catalog.current_setting('synchronous_commit') IN ('off', 'local', 'remote_write') THEN
		PERFORM pg_catalog.set_config('synchronous_commit', 'on', true);
	END IF;
END
$$;

-- lone_try: is this query string one SELECT of cron_lock_try alone, so that
-- nothing else in it can write?  Plain columns, arguments that are
-- parameters or literals (concatenated and cast at most), at most a WHERE on
-- a column.
CREATE OR REPLACE FUNCTION cron_lock.lone_try(query text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $f$
	SELECT query ~* ('^\s*select\s+(\*|[a-z_][a-z0-9_]*(\s*,\s*[a-z_][a-z0-9_]*)*)\s+'
		'from\s+([a-z_][a-z0-9_]*\.)?cron_lock_try\s*\(\s*'
		'([a-z_][a-z0-9_]*\s*=>\s*)?' || t || '(\s*,\s*([a-z_][a-z0-9_]*\s*=>\s*)?' || t || ')*'
		'\s*\)(\s+(as\s+)?[a-z_][a-z0-9_]*)?(\s+where\s+[a-z_][a-z0-9_]*)?\s*;?\s*$')
	  FROM (SELECT '(\$[0-9]+|''([^'']|'''')*''|null|-?[0-9][0-9.]*)(\s*::\s*[a-z ]+)?'
				   '(\s*\|\|\s*(\$[0-9]+|''([^'']|'''')*''|-?[0-9][0-9.]*)(\s*::\s*[a-z ]+)?)*' AS t) arg
$f$;

-- commit_lazily_if_alone: skip the WAL flush at commit, but only when this
-- busy answer is provably the whole transaction, since a PL/pgSQL function
-- cannot decide at commit as the extension does: nothing written before it,
-- no transaction block begun by an earlier statement (its start would differ
-- from this statement's), and a query string that is cron_lock_try alone
-- (lone_try).  Anything else keeps the caller's setting.  A later lease
-- change in the same transaction calls commit_durably, which wins.
CREATE OR REPLACE FUNCTION cron_lock.commit_lazily_if_alone()
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
	IF pg_catalog.pg_current_xact_id_if_assigned() IS NULL
		AND pg_catalog.statement_timestamp() = pg_catalog.transaction_timestamp()
		AND pg_catalog.current_setting('synchronous_commit') <> 'off'
		AND cron_lock.lone_try(pg_catalog.current_query()) THEN
		PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
	END IF;
END
$$;

-- next_token: the next fencing token of a job.  A promoted standby runs on a
-- new WAL timeline; folding it into the high bits puts its tokens above all
-- of the old timeline's.  A database owner reads the timeline from the WAL
-- file name; where even that is not allowed, timeline 1 is assumed (the
-- README states what that means after a failover).
CREATE OR REPLACE FUNCTION cron_lock.next_token(last bigint, job text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	timeline bigint := 1;
	token bigint;
BEGIN
	IF pg_catalog.has_function_privilege('pg_catalog.pg_walfile_name(pg_lsn)', 'EXECUTE')
		AND pg_catalog.has_function_privilege('pg_catalog.pg_current_wal_lsn()', 'EXECUTE') THEN
		timeline := ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::bigint;
	END IF;
	token := GREATEST(last + 1, ((timeline - 1) << 32) + 1);
	IF token > 9007199254740991 THEN
		RAISE EXCEPTION 'fencing tokens of job "%" are exhausted', job
			USING ERRCODE = '22003', DETAIL = 'The next token would exceed 2^53.';
	END IF;
	RETURN token;
END
$$;

-- outer_role: the role that called the API function, as the extension's
-- GetOuterUserId() sees it: the SET ROLE role, else the session user.
CREATE OR REPLACE FUNCTION cron_lock.outer_role()
RETURNS text
LANGUAGE sql STABLE
AS $$
	SELECT CASE WHEN pg_catalog.current_setting('role') = 'none'
				THEN session_user::text
				ELSE pg_catalog.current_setting('role') END
$$;

-- backend_alive: is the backend that took a lease still connected (pid and
-- start time both match)?  False when no backend has that pid.  NULL when
-- that cannot be told: the owner may not read the start time of another
-- role's backend (without pg_read_all_stats), so cron_lock_try records none
-- for it and this function cannot read it either.
CREATE OR REPLACE FUNCTION cron_lock.backend_alive(pid integer, started timestamptz)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
	SELECT CASE WHEN $1 IS NULL THEN false
				ELSE (SELECT CASE WHEN pg_catalog.count(*) = 0 THEN false
								  WHEN $2 IS NULL THEN NULL
								  ELSE pg_catalog.bool_or(a.backend_start = $2) END
						FROM pg_catalog.pg_stat_get_activity($1) a) END
$$;
