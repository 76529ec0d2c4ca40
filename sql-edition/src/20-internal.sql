/* sql-edition/src/20-internal.sql: the helpers behind the SQL API, in schema
 * cron_lock.  Only the owner may execute them (see 90-privileges.sql); they
 * carry no SET clause (a GUC save and restore on every call) because they
 * run inside the API functions, under their pinned search_path.  Each one
 * mirrors a part of the extension's C code and raises the same errors. */

-- 1.1's argument checks returned nothing; 1.2's return the checked value
-- (a return type cannot be replaced).
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
			  WHERE p.pronamespace = 'cron_lock'::regnamespace AND p.prorettype = 'pg_catalog.void'::pg_catalog.regtype
				AND p.proname IN ('arg_name', 'arg_message', 'arg_status', 'arg_token') LOOP
		EXECUTE pg_catalog.format('DROP FUNCTION %s', f);
	END LOOP;
END
$$;

-- arg_name (check_name, then arg_name): a job or instance argument, checked as the extension's ArgName
-- does.  Names are compared byte for byte, so anything that would make two
-- names look alike is refused: control characters (C0, C1, line and
-- paragraph separators) and invisible format characters anywhere, spaces of
-- any kind at either end.  Under an encoding other than UTF8 only ASCII is
-- checked.  Returns the name, so that a caller's DECLARE checks and
-- assigns it in one simple expression.  A name of printable ASCII with no
-- space at either end passes every rule: arg_name lets it through in one
-- expression that the caller's plan inlines (no PL/pgSQL call); check_name,
-- the full check, gets the others.
CREATE OR REPLACE FUNCTION cron_lock.check_name(name text, what text)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
	len integer;
	pos integer;
	n integer;
	c integer;
	utf8 boolean;
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
	utf8 := pg_catalog.getdatabaseencoding() = 'UTF8';
	IF utf8 THEN
		pos := pg_catalog.regexp_instr(name,
			E'[\\x01-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb]');
	ELSE
		pos := pg_catalog.regexp_instr(name, E'[\\x01-\\x1f\\x7f]');
	END IF;
	IF pos > 0 THEN
		c := pg_catalog.ascii(pg_catalog.substr(name, pos, 1));
		RAISE EXCEPTION '% "%" contains %', what, name,
			CASE WHEN c < 32 OR c BETWEEN 127 AND 159 OR c IN (8232, 8233) THEN 'a control character'
				 ELSE 'an invisible format character' END
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('Character %s is U+%s.', pos,
					pg_catalog.upper(pg_catalog.lpad(pg_catalog.to_hex(c), 4, '0'))),
				  HINT = 'Names are compared byte for byte; use visible characters only.';
	END IF;
	IF (utf8 AND (name ~ E'^[\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000]'
				  OR name ~ E'[\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000]$'))
		OR pg_catalog.left(name, 1) = ' ' OR pg_catalog.right(name, 1) = ' ' THEN
		RAISE EXCEPTION '% "%" has leading or trailing spaces', what, name
			USING ERRCODE = '22023', HINT = 'Names are compared byte for byte; trim them.';
	END IF;
	RETURN name;
END
$$;

CREATE OR REPLACE FUNCTION cron_lock.arg_name(name text, what text)
RETURNS text
LANGUAGE sql STABLE
AS $$
	SELECT CASE WHEN pg_catalog.octet_length(name) <= 200 AND name ~ '^[!-~]([ -~]*[!-~])?$' THEN name
				ELSE cron_lock.check_name(name, what) END
$$;

-- arg_message: the optional message of a release, at most 4096 bytes: a
-- summary for people reading the history, not a log.  Returns it (inlined;
-- check_message raises).
CREATE OR REPLACE FUNCTION cron_lock.check_message(message text, job text)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
	IF pg_catalog.octet_length(message) > 4096 THEN
		RAISE EXCEPTION 'message for job "%" is too long', job
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('It is %s bytes; the limit is %s bytes.', pg_catalog.octet_length(message), 4096),
				  HINT = 'Keep the message to a summary; put the full output in a log.';
	END IF;
	RETURN message;
END
$$;

CREATE OR REPLACE FUNCTION cron_lock.arg_message(message text, job text)
RETURNS text
LANGUAGE sql STABLE
AS $$
	SELECT CASE WHEN pg_catalog.octet_length(message) > 4096 THEN cron_lock.check_message(message, job) ELSE message END
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

-- arg_positive_span: a span that must be more than zero, in microseconds
-- (what: ttl or min_gap; hint: what to do instead of zero).
CREATE OR REPLACE FUNCTION cron_lock.arg_positive_span(span interval, what text, job text, hint text)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
	usec bigint := cron_lock.arg_span(span, what, job);
BEGIN
	IF usec <= 0 AND hint IS NULL THEN
		RAISE EXCEPTION '% for job "%" must be greater than zero', what, job USING ERRCODE = '22023';
	ELSIF usec <= 0 THEN
		RAISE EXCEPTION '% for job "%" must be greater than zero', what, job USING ERRCODE = '22023', HINT = hint;
	END IF;
	RETURN usec;
END
$$;

-- arg_ttl (check_ttl, then arg_ttl): a lease length, more than zero and at
-- most 31 days, in microseconds.  One inlined expression for a valid one
-- (interval comparison counts a day as 24 hours, as arg_span does);
-- check_ttl, the full check, raises the error of the others.
CREATE OR REPLACE FUNCTION cron_lock.check_ttl(ttl interval, job text)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
	usec bigint;
BEGIN
	IF ttl IS NULL THEN
		RAISE EXCEPTION 'ttl for job "%" must not be null', job USING ERRCODE = '22004';
	END IF;
	usec := cron_lock.arg_positive_span(ttl, 'ttl', job, NULL);
	IF usec > 31 * 86400000000::bigint THEN
		RAISE EXCEPTION 'ttl for job "%" must be at most 31 days', job
			USING ERRCODE = '22023',
				  HINT = 'A runner that holds a job longer should renew a shorter lease with cron_lock_heartbeat.';
	END IF;
	RETURN usec;
END
$$;

CREATE OR REPLACE FUNCTION cron_lock.arg_ttl(ttl interval, job text)
RETURNS bigint
LANGUAGE sql IMMUTABLE
AS $$
	SELECT CASE WHEN ttl > interval '0' AND ttl <= interval '31 days'
					 AND pg_catalog.date_part('month', ttl) = 0 AND pg_catalog.date_part('year', ttl) = 0
				THEN (pg_catalog.extract('epoch', ttl) * 1000000)::bigint
				ELSE cron_lock.check_ttl(ttl, job) END
$$;

-- arg_min_gap: the optional min_gap in microseconds; NULL when none is wanted.
CREATE OR REPLACE FUNCTION cron_lock.arg_min_gap(min_gap interval, job text)
RETURNS bigint
LANGUAGE sql IMMUTABLE
AS $$
	SELECT CASE WHEN min_gap IS NOT NULL
				THEN cron_lock.arg_positive_span(min_gap, 'min_gap', job, 'Pass NULL for no minimum gap.') END
$$;

-- arg_status: how a run ended, as reported by its holder.  Returns it
-- (inlined; check_status raises).
CREATE OR REPLACE FUNCTION cron_lock.check_status(status text, job text)
RETURNS text
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
	RETURN status;
END
$$;

CREATE OR REPLACE FUNCTION cron_lock.arg_status(status text, job text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
	SELECT CASE WHEN status IN ('succeeded', 'failed', 'cancelled') THEN status ELSE cron_lock.check_status(status, job) END
$$;

-- arg_token: a fencing token argument; any non-NULL value is accepted.
-- Returns it (inlined; check_token raises).
CREATE OR REPLACE FUNCTION cron_lock.check_token(token bigint)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
	IF token IS NULL THEN
		RAISE EXCEPTION 'token must not be null' USING ERRCODE = '22004';
	END IF;
	RETURN token;
END
$$;

CREATE OR REPLACE FUNCTION cron_lock.arg_token(token bigint)
RETURNS bigint
LANGUAGE sql IMMUTABLE
AS $$
	SELECT CASE WHEN token IS NOT NULL THEN token ELSE cron_lock.check_token(token) END
$$;

-- require_writable: 25006 on a standby or in a read-only transaction,
-- before anything is read, with a hint that says where to go instead.
-- job NULL: the action is on the history (prune).
CREATE OR REPLACE FUNCTION cron_lock.require_writable(action text, job text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
	IF pg_catalog.pg_is_in_recovery() THEN
		RAISE EXCEPTION 'cannot % % on a standby', action,
			CASE WHEN job IS NULL THEN 'the history' ELSE pg_catalog.format('job "%s"', job) END
			USING ERRCODE = '25006',
				  DETAIL = 'The server is in recovery; leases change only on the primary.',
				  HINT = 'Connect to the primary, for example with target_session_attrs=read-write.';
	END IF;
	IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
		RAISE EXCEPTION 'cannot % % in a read-only transaction', action,
			CASE WHEN job IS NULL THEN 'the history' ELSE pg_catalog.format('job "%s"', job) END
			USING ERRCODE = '25006', HINT = 'Call it outside a READ ONLY transaction.';
	END IF;
END
$$;

-- enter: what every function that writes does once its arguments are
-- checked, in the extension's order: require_writable, then use_tables.
-- Returns the calling role (outer_role).
CREATE OR REPLACE FUNCTION cron_lock.enter(action text, job text, guard_only boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
	IF pg_catalog.pg_is_in_recovery() OR pg_catalog.current_setting('transaction_read_only') = 'on' THEN
		PERFORM cron_lock.require_writable(action, job);
	END IF;
	RETURN CASE WHEN cron_lock.use_tables(guard_only) THEN cron_lock.outer_role() END;
END
$$;

-- use_tables: lock the tables as the call will use them, then check them
-- (tables_checked).  The lock comes first and is kept until the caller's
-- transaction ends: taking it applies the invalidations of changes
-- committed so far, and every DDL that could attach a refused object waits
-- for it (as in the extension: ROW EXCLUSIVE on the tables, ROW SHARE on
-- leases alone for cron_lock_check, guard_only).  Returns true.
CREATE OR REPLACE FUNCTION cron_lock.use_tables(guard_only boolean)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
	IF guard_only THEN
		LOCK TABLE cron_lock.leases IN ROW SHARE MODE;
	ELSE
		-- The tables marked @every-call in schema/tables/, and jobs (a first
		-- acquisition reads its pause).  The others are locked by
		-- refuse_foreign_objects() before a function uses them.
		LOCK TABLE @EVERY_CALL_TABLE_LIST@, ONLY cron_lock.jobs IN ROW EXCLUSIVE MODE;
	END IF;
	RETURN cron_lock.tables_checked(@OWN_TABLES@);
END
$$;

-- Helpers no longer used (1.1's, and earlier 1.2 builds' per-install secret
-- for first acquisitions' advisory keys, now rows of edition_locks): dropped
-- without a notice where absent.
DO $$
DECLARE
	f text;
BEGIN
	FOREACH f IN ARRAY ARRAY['cron_lock.layout_natts(name)', 'cron_lock.commit_lazily_if_alone()',
							 'cron_lock.new_job_key(text,text)', 'cron_lock.new_job_key(text)',
							 'cron_lock.edition_secret()', 'cron_lock.private_missing()',
							 'cron_lock.own_backend_start()'] LOOP
		IF pg_catalog.to_regprocedure(f) IS NOT NULL THEN
			EXECUTE 'DROP FUNCTION ' || f;
		END IF;
	END LOOP;
	IF pg_catalog.to_regclass('cron_lock.edition_private') IS NOT NULL THEN
		DROP TABLE cron_lock.edition_private;
	END IF;
END
$$;

-- table_name: a relation's name, schema-qualified whatever the search_path.
CREATE OR REPLACE FUNCTION cron_lock.table_name(rel oid)
RETURNS text
LANGUAGE sql STABLE
AS $$
	SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.oid = rel
$$;

-- commit_lazily: the edition's trigger on cron_lock.contention (deferred
-- to commit): skip the WAL flush of a busy answer that is the whole
-- transaction.  record_busy arms it with the statement's start
-- time once the answer's row is written; at commit, an unchanged
-- statement_timestamp() means no statement ran after it (each statement,
-- and each Execute of the extended protocol, starts a new one), and a
-- statement that finished under SET CONSTRAINTS ... IMMEDIATE fired it
-- before it was armed.  Anything else commits as the caller set.  The
-- setting can be forged by the caller, so a transaction that wrote any
-- other table of cron_lock's (a lease change) is never let off: the statistics
-- of this transaction's own reads and writes cannot be (they need
-- track_counts, a superuser's setting, on, as it is by default).  edition_locks
-- is not listed (it is not in schema/; no lease change writes it).  It runs
-- as the caller, at commit, under the caller's search_path unless pinned:
-- pinned, so that a caller's operator or type named like pg_catalog's
-- cannot answer its test (its SET LOCAL of synchronous_commit outlives the
-- call: only search_path is restored on exit).
CREATE OR REPLACE FUNCTION cron_lock.commit_lazily()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	armed text := pg_catalog.current_setting('cron_lock_edition.lazy_commit', true);
BEGIN
	-- Simple expressions only (PERFORM would run a query).  No row of leases
	-- written, and no block even read of the other tables (schema/gen.sh
	-- lists them) but contention: every write reads the block it writes,
	-- and one call a table costs less than three.
	IF armed = pg_catalog.statement_timestamp()::text
		AND pg_catalog.pg_stat_get_xact_tuples_inserted('cron_lock.leases'::pg_catalog.regclass)
			+ pg_catalog.pg_stat_get_xact_tuples_updated('cron_lock.leases'::pg_catalog.regclass)
			+ pg_catalog.pg_stat_get_xact_tuples_deleted('cron_lock.leases'::pg_catalog.regclass)
			+ @OWN_BLOCKS_READ_BUT_LEASES_CONTENTION@ = 0 THEN
		armed := pg_catalog.set_config('synchronous_commit', 'off', true);
	END IF;
	RETURN NULL;
END
$$;

-- commit_durably_at_commit: the edition's other trigger (cron_lock.leases,
-- deferred to commit): a transaction that changed a lease commits with at
-- least synchronous_commit = on, whatever the caller set after the change
-- (a SET LOCAL synchronous_commit = off after cron_lock_try would let a
-- token be issued again after a crash), as the extension's pre-commit
-- callback does.  A caller's SET after it still wins where the caller made
-- it immediate (SET CONSTRAINTS ... IMMEDIATE) or a deferred trigger of the
-- caller's fires after it: docs/managed.md.  Pinned search_path, as
-- commit_lazily.
CREATE OR REPLACE FUNCTION cron_lock.commit_durably_at_commit()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	was text := pg_catalog.current_setting('synchronous_commit');
BEGIN
	IF was = 'off' OR was = 'local' OR was = 'remote_write' THEN
		was := pg_catalog.set_config('synchronous_commit', 'on', true);
	END IF;
	RETURN NULL;
END
$$;

-- The two triggers, where missing.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
					WHERE t.tgrelid = 'cron_lock.contention'::regclass AND t.tgname = 'commit_lazily') THEN
		CREATE CONSTRAINT TRIGGER commit_lazily AFTER INSERT ON cron_lock.contention
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cron_lock.commit_lazily();
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
					WHERE t.tgrelid = 'cron_lock.leases'::regclass AND t.tgname = 'commit_durably') THEN
		CREATE CONSTRAINT TRIGGER commit_durably AFTER INSERT OR UPDATE ON cron_lock.leases
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cron_lock.commit_durably_at_commit();
	END IF;
END
$$;

-- refuse_foreign_objects: 55000, as the extension raises it, while anything
-- is attached to the tables that would run or apply inside the API
-- functions, which write them as their owner: a trigger (a foreign key's
-- too; commit_lazily and commit_durably are the edition's own), a rule, a CHECK or exclusion
-- constraint, an extra unique index (updates of leases must stay "no key"
-- updates), a generated column, row security or a policy, an inheritance
-- child.  Plain indexes are fine.  thorough: the catalog queries, as tables_checked runs them
-- once per session and again after the tables change; else use_tables.
CREATE OR REPLACE FUNCTION cron_lock.refuse_foreign_objects(thorough boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	what text;
	removal text;
	rel oid;
BEGIN
	IF NOT thorough THEN
		-- The shared functions (schema/functions/): every table but
		-- token_epoch locked (schema/gen.sh), then the cached check.
		LOCK TABLE @OWN_TABLE_LIST@ IN ROW EXCLUSIVE MODE;
		PERFORM cron_lock.tables_checked(@OWN_TABLES@);
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
			 WHERE t.tgrelid IN (@OWN_TABLES@)
			   -- The edition's own two, exactly as 20-internal.sql creates them.
			   AND NOT (((t.tgrelid = 'cron_lock.contention'::regclass AND t.tgname = 'commit_lazily'
						  AND t.tgfoid = 'cron_lock.commit_lazily()'::regprocedure AND t.tgtype = 5)
						 OR (t.tgrelid = 'cron_lock.leases'::regclass AND t.tgname = 'commit_durably'
						  AND t.tgfoid = 'cron_lock.commit_durably_at_commit()'::regprocedure AND t.tgtype = 21))
						AND t.tgenabled = 'O' AND t.tgdeferrable AND t.tginitdeferred AND t.tgnargs = 0
						AND t.tgqual IS NULL AND t.tgattr = ''::pg_catalog.int2vector)
			UNION ALL
			SELECT 2, r.ev_class, pg_catalog.format('rule "%s"', r.rulename),
				   pg_catalog.format('DROP RULE %I ON %s', r.rulename, cron_lock.table_name(r.ev_class))
			  FROM pg_catalog.pg_rewrite r
			 WHERE r.ev_class IN (@OWN_TABLES@)
			UNION ALL
			SELECT 3, k.conrelid,
				   pg_catalog.format(CASE k.contype WHEN 'c' THEN 'CHECK constraint "%s"'
								  ELSE 'exclusion constraint "%s"' END, k.conname),
				   pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', cron_lock.table_name(k.conrelid), k.conname)
			  FROM pg_catalog.pg_constraint k
			 WHERE k.conrelid IN (@OWN_TABLES@)
			   AND k.contype IN ('c', 'x')
			   -- its own CHECK (id) of token_epoch, by name and expression
			   AND NOT (k.contype = 'c' AND pg_catalog.pg_get_constraintdef(k.oid) = 'CHECK (id)'
						AND (k.conrelid, k.conname::text) IN (@OWN_CHECKS@))
			UNION ALL
			SELECT 4, i.indrelid, pg_catalog.format('unique index "%s"', x.relname),
				   pg_catalog.format('DROP INDEX %s, or ALTER TABLE %s DROP CONSTRAINT %I if a constraint made it',
									 cron_lock.table_name(i.indexrelid), cron_lock.table_name(i.indrelid), x.relname)
			  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class x ON x.oid = i.indexrelid
			 WHERE i.indisunique AND NOT i.indisexclusion
			   AND i.indrelid IN (@OWN_TABLES@)
			   AND i.indexrelid NOT IN (@OWN_UNIQUE_INDEXES@)
			UNION ALL
			SELECT 5, a.attrelid, pg_catalog.format('generated column "%s"', a.attname),
				   pg_catalog.format('ALTER TABLE %s DROP COLUMN %I', cron_lock.table_name(a.attrelid), a.attname)
			  FROM pg_catalog.pg_attribute a
			 WHERE a.attrelid IN (@OWN_TABLES@)
			   AND a.attnum > 0 AND a.attgenerated <> ''
			UNION ALL
			SELECT 6, c.oid, 'row security',
				   pg_catalog.format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY', cron_lock.table_name(c.oid))
			  FROM pg_catalog.pg_class c
			 WHERE c.oid IN (@OWN_TABLES@)
			   AND (c.relrowsecurity OR c.relforcerowsecurity)
			UNION ALL
			SELECT 7, p.polrelid, pg_catalog.format('row security policy "%s"', p.polname),
				   pg_catalog.format('DROP POLICY %I ON %s', p.polname, cron_lock.table_name(p.polrelid))
			  FROM pg_catalog.pg_policy p
			 WHERE p.polrelid IN (@OWN_TABLES@)
			UNION ALL
			-- A child's rows (and its triggers) would be read and written
			-- through its parent: the extension reads FROM ONLY, the
			-- PL/pgSQL functions do not.
			SELECT 8, i.inhparent, pg_catalog.format('inheritance child %s', cron_lock.table_name(i.inhrelid)),
				   pg_catalog.format('ALTER TABLE %1$s NO INHERIT %2$s, or DROP TABLE %1$s',
									 cron_lock.table_name(i.inhrelid), cron_lock.table_name(i.inhparent))
			  FROM pg_catalog.pg_inherits i
			 WHERE i.inhparent IN (@OWN_TABLES@)) o
	 ORDER BY o.o
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION '% on table cron_lock.% is not supported', what, (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = rel)
			USING ERRCODE = '55000',
				  DETAIL = 'cron_lock''s tables belong to cron_lock: its functions refuse to run while a trigger, rule, CHECK or exclusion constraint, extra unique index, generated column, row security or inheritance child is attached to them.',
				  HINT = pg_catalog.format('Remove it (%s). To follow changes to leases and runs, read the views in schema cron_lock or use logical decoding.', removal);
	END IF;
END
$$;

-- Installing over tables that carry any of those is refused too.
DO $$ BEGIN PERFORM cron_lock.refuse_foreign_objects(true); END $$;

-- tables_checked: refuse_foreign_objects, evaluated when a statement that
-- calls it is planned.  Declared IMMUTABLE (it reads the catalog) so that
-- the planner folds the call with its constant arguments into its result;
-- the regclass arguments make the cached plan depend on the tables,
-- and PostgreSQL throws a plan away on every relcache invalidation of a
-- table it depends on, which every trigger, rule, constraint, index,
-- column, row security or policy change sends.  So the check runs once per
-- session and again after any such change, as the extension's does.
-- (One regclass argument per table: each is a constant of the statement.)
CREATE OR REPLACE FUNCTION cron_lock.tables_checked(VARIADIC tables regclass[])
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
	PERFORM cron_lock.refuse_foreign_objects(true);
	RETURN pg_catalog.array_position(tables, NULL) IS NULL;
END
$$;


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
-- a column.  One expression, so that it is inlined and the pattern folded
-- into a constant; an argument's pattern is written out twice.
CREATE OR REPLACE FUNCTION cron_lock.lone_try(query text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $f$
	SELECT query ~* ('^\s*select\s+(\*|[a-z_][a-z0-9_]*(\s*,\s*[a-z_][a-z0-9_]*)*)\s+'
		'from\s+([a-z_][a-z0-9_]*\.)?cron_lock_try\s*\(\s*'
		'([a-z_][a-z0-9_]*\s*=>\s*)?'
		'(\$[0-9]+|''([^'']|'''')*''|null|-?[0-9][0-9.]*)(\s*::\s*[a-z ]+)?'
		'(\s*\|\|\s*(\$[0-9]+|''([^'']|'''')*''|-?[0-9][0-9.]*)(\s*::\s*[a-z ]+)?)*'
		'(\s*,\s*([a-z_][a-z0-9_]*\s*=>\s*)?'
		'(\$[0-9]+|''([^'']|'''')*''|null|-?[0-9][0-9.]*)(\s*::\s*[a-z ]+)?'
		'(\s*\|\|\s*(\$[0-9]+|''([^'']|'''')*''|-?[0-9][0-9.]*)(\s*::\s*[a-z ]+)?)*'
		')*'
		'\s*\)(\s+(as\s+)?[a-z_][a-z0-9_]*)?(\s+where\s+[a-z_][a-z0-9_]*)?\s*;?\s*$')
$f$;

-- record_busy: return a busy answer after writing its contention row, the evidence of
-- duplicate runners, and let it commit without the WAL flush when it is
-- provably the whole transaction, since a PL/pgSQL function cannot decide
-- at commit as the extension does: nothing written before it, and a query
-- string that is cron_lock_try alone (lone_try), so that nothing else in
-- the statement writes; commit_lazily, at commit, makes sure no statement
-- followed.  Anything else commits as the caller set.  A lease change
-- writes before it, so a busy answer after one in the same transaction
-- commits durably too.
CREATE OR REPLACE FUNCTION cron_lock.record_busy(
	answer cron_lock.try_result, job text, instance text, holder text, at timestamptz)
RETURNS cron_lock.try_result
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	alone boolean := pg_catalog.pg_current_xact_id_if_assigned() IS NULL
		AND pg_catalog.current_setting('synchronous_commit') <> 'off';
	query text;
BEGIN
	-- The last query string found alone is remembered for the session (a
	-- prepared statement's comes again and again; the match costs more than
	-- the rest of the answer).  Setting it by hand only weakens the setter's
	-- own commits, which SET synchronous_commit = off does anyway.
	IF alone THEN
		query := pg_catalog.current_query();
		IF query IS DISTINCT FROM pg_catalog.current_setting('cron_lock_edition.lone_try', true) THEN
			alone := cron_lock.lone_try(query);
			IF alone THEN
				PERFORM pg_catalog.set_config('cron_lock_edition.lone_try', query, false);
			END IF;
		END IF;
	END IF;
	INSERT INTO cron_lock.contention (job, instance, holder, reason, at, backend_pid, client_addr)
	VALUES (record_busy.job, record_busy.instance, record_busy.holder, answer.reason, record_busy.at,
			pg_catalog.pg_backend_pid(), pg_catalog.inet_client_addr());
	-- Armed after the row: a trigger fired at the end of the INSERT (SET
	-- CONSTRAINTS ... IMMEDIATE) finds it unarmed.
	IF alone THEN
		-- An assignment, a simple expression (PERFORM would run a query).
		query := pg_catalog.set_config('cron_lock_edition.lazy_commit', pg_catalog.statement_timestamp()::text, true);
	END IF;
	RETURN answer;
END
$$;

-- next_token: the next fencing token of a job after last (0: none yet), or
-- NULL when another transaction is recording a new token epoch right now
-- (the caller answers "locked").  Every token is at least the floor of the
-- current epoch, (epoch << 32) + 1, and the epoch grows whenever the cluster
-- may have lost commits, as in the extension (extension/token.c), from the
-- (system identifier, WAL timeline) pair recorded in cron_lock.token_epoch:
--	- no row yet: the highest epoch the lease tokens show, plus timeline - 1;
--	- the recorded pair: the recorded epoch;
--	- same system, later timeline (a promotion): plus the timelines passed;
--	- anything else (a copy of the cluster): the larger of the recorded and
--	  the leases' epoch, plus the timeline.
-- A database owner reads the timeline from the WAL file name and the system
-- identifier from pg_control_system(); where a service revokes those, the
-- timeline counts as 1 and the system identifier as 0 (README: what that
-- means after a failover or a copy).
CREATE OR REPLACE FUNCTION cron_lock.next_token(last bigint, job text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	v_timeline integer := 1;
	v_sysid bigint := 0;
	rec cron_lock.token_epoch;
	v_epoch bigint;
	v_token bigint;
BEGIN
	-- regprocedure constants (resolved when the expression is planned) and
	-- no query: simple expressions only.
	IF pg_catalog.has_function_privilege('pg_catalog.pg_walfile_name(pg_lsn)'::pg_catalog.regprocedure, 'EXECUTE')
		AND pg_catalog.has_function_privilege('pg_catalog.pg_current_wal_lsn()'::pg_catalog.regprocedure, 'EXECUTE') THEN
		v_timeline := ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::integer;
	END IF;
	IF pg_catalog.has_function_privilege('pg_catalog.pg_control_system()'::pg_catalog.regprocedure, 'EXECUTE') THEN
		v_sysid := (pg_catalog.pg_control_system()).system_identifier;
	END IF;

	SELECT * INTO rec FROM cron_lock.token_epoch;
	IF FOUND AND rec.system_identifier = v_sysid AND rec.timeline = v_timeline THEN
		v_epoch := rec.epoch;
	ELSE
		-- The row locked without waiting (no other role may lock it), or,
		-- before the first one is recorded, the edition's lock row -1.
		-- Read again: under the lock, a new snapshot shows the latest row.
		IF NOT FOUND AND NOT cron_lock.lock_row(-1, false) THEN
			RETURN NULL;
		END IF;
		SELECT * INTO rec FROM cron_lock.token_epoch FOR NO KEY UPDATE SKIP LOCKED;
		IF NOT FOUND AND EXISTS (SELECT FROM cron_lock.token_epoch) THEN
			RETURN NULL;
		END IF;
		IF NOT FOUND THEN
			v_epoch := coalesce((SELECT pg_catalog.max(l.token >> 32) FROM cron_lock.leases l), 0) + v_timeline - 1;
		ELSIF rec.system_identifier = v_sysid AND rec.timeline = v_timeline THEN
			v_epoch := rec.epoch;
		ELSIF rec.system_identifier = v_sysid AND rec.timeline < v_timeline THEN
			v_epoch := rec.epoch + (v_timeline - rec.timeline);
		ELSE
			v_epoch := GREATEST(rec.epoch, coalesce((SELECT pg_catalog.max(l.token >> 32) FROM cron_lock.leases l), 0)) + v_timeline;
		END IF;
		INSERT INTO cron_lock.token_epoch AS e (id, system_identifier, timeline, epoch, recorded_at)
		VALUES (true, v_sysid, v_timeline, v_epoch, pg_catalog.clock_timestamp())
		ON CONFLICT (id) DO UPDATE SET system_identifier = v_sysid, timeline = v_timeline, epoch = v_epoch,
			recorded_at = pg_catalog.clock_timestamp();
	END IF;
	v_token := CASE WHEN v_epoch > (9007199254740991 >> 32) THEN 9007199254740992
					ELSE GREATEST(last + 1, (v_epoch << 32) + 1) END;
	IF v_token > 9007199254740991 THEN
		RAISE EXCEPTION 'fencing tokens of job "%" are exhausted', job
			USING ERRCODE = '22003', DETAIL = 'The next token would exceed 2^53.';
	END IF;
	RETURN v_token;
END
$$;

-- require_authority: return if the calling role may act on a lease taken by
-- role (NULL: taken before 1.1, the 1.0 rule), as the extension's
-- RequireAuthority: that role, its members and members of cron_lock_admin;
-- anyone else gets 42501 before anything is written.
CREATE OR REPLACE FUNCTION cron_lock.require_authority(action text, job text, role text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
	me text;
BEGIN
	IF role IS NULL THEN
		RETURN;
	END IF;
	me := cron_lock.outer_role();
	-- The usual case: the holder itself.
	IF me = role THEN
		RETURN;
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = role)
		AND pg_catalog.pg_has_role(me, role, 'MEMBER') THEN
		RETURN;
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = 'cron_lock_admin')
		AND pg_catalog.pg_has_role(me, 'cron_lock_admin', 'MEMBER') THEN
		RETURN;
	END IF;
	RAISE EXCEPTION 'permission denied to % job "%"', action, job
		USING ERRCODE = '42501',
			  DETAIL = pg_catalog.format('Its lease was taken by role "%s"; only that role, its members and members of cron_lock_admin may renew, release or check it.', role),
			  HINT = 'Call it as the role that took the lease, or ask an administrator to use cron_lock_force_release.';
END
$$;

-- lock_row: lock the edition's lock row id (cron_lock.edition_locks), only
-- if free unless wait; returns whether it is had.  A missing row raises
-- 55000: never a call without its lock.
CREATE OR REPLACE FUNCTION cron_lock.lock_row(id integer, wait boolean)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
	IF wait THEN
		PERFORM FROM cron_lock.edition_locks l WHERE l.id = lock_row.id FOR NO KEY UPDATE;
	ELSE
		PERFORM FROM cron_lock.edition_locks l WHERE l.id = lock_row.id FOR NO KEY UPDATE SKIP LOCKED;
	END IF;
	IF FOUND THEN
		RETURN true;
	ELSIF EXISTS (SELECT FROM cron_lock.edition_locks l WHERE l.id = lock_row.id) THEN
		RETURN false;
	END IF;
	RAISE EXCEPTION 'row % of cron_lock.edition_locks is missing', id
		USING ERRCODE = '55000',
			  DETAIL = 'The edition''s locks are rows of that table.',
			  HINT = 'Install the edition again: that adds the missing rows.';
END
$$;

-- gate: the lock row of a job's first acquisition, one of 16384.  Every
-- first insert of a job's lease happens under it, so two jobs that share
-- one are not first acquired at the same moment: the second answers
-- "locked" (try again shortly), as with any lock held right now.
CREATE OR REPLACE FUNCTION cron_lock.gate(job text)
RETURNS integer
LANGUAGE sql IMMUTABLE
AS $$
	SELECT pg_catalog.hashtext(job) & 16383
$$;

-- lock_new_job: wait for a first acquisition of the job in progress (its
-- gate, which cron_lock_try takes without waiting around a job's first
-- lease row), and keep new ones out until this transaction ends.
CREATE OR REPLACE FUNCTION cron_lock.lock_new_job(job text)
RETURNS void
LANGUAGE sql VOLATILE
AS $$
	SELECT FROM cron_lock.lock_row(cron_lock.gate($1), true)
$$;

-- lock_chores: the lock of the sweep and the prune (schema/functions/),
-- waited for when wait, else only if free; returns whether it is had.
CREATE OR REPLACE FUNCTION cron_lock.lock_chores(wait boolean)
RETURNS boolean
LANGUAGE sql VOLATILE
AS $$
	SELECT cron_lock.lock_row(-2, $1)
$$;

-- maybe_sweep: the chores (contention folded, retention), a batch on one
-- release, acquisition or renewal in 8, as the extension does (store.c, StoreSweep):
-- where runs only ever expire and are taken over, nothing is released.
-- The caller draws the one in 8 (random() < 0.125), so that the other
-- seven pay no call.  Their tables are locked and checked first
-- (use_tables locks only those every call uses; refuse_foreign_objects
-- written out).  The sweep is called only when it may have work, which
-- one query tells: raw busy answers to fold, a counter older than the
-- contention retention (the sweep's own test), a run retention set.  With
-- none, its call, the chores' row lock (a write) and its four queries are
-- saved.  Nothing above READ COMMITTED, before any read: the sweep folds
-- nothing there, and at SERIALIZABLE the reads of contention would make
-- the caller's acquisition fail at commit against the busy answers
-- written meanwhile (test/isolation/specs/serializable.spec).
CREATE OR REPLACE FUNCTION cron_lock.maybe_sweep()
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
	IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
		RETURN;
	END IF;
	LOCK TABLE @OWN_TABLE_LIST@ IN ROW EXCLUSIVE MODE;
	IF cron_lock.tables_checked(@OWN_TABLES@)
		AND (EXISTS (SELECT FROM cron_lock.contention)
			 OR EXISTS (SELECT FROM cron_lock.settings s WHERE s.name = 'run_retention')
			 OR (SELECT pg_catalog.min(o.hour) FROM cron_lock.contention_hourly o)
				< pg_catalog.clock_timestamp()
				  - coalesce((SELECT s.value FROM cron_lock.settings s WHERE s.name = 'contention_retention'),
							 interval '30 days')) THEN
		PERFORM cron_lock.sweep();
	END IF;
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
