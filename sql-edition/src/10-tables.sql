/* sql-edition/src/10-tables.sql: schema cron_lock and the result type.  The
 * tables and their indexes follow this file, built by schema/gen.sh from the
 * one description both editions share (schema/tables/).  They are created
 * only when absent, so that a reinstall over kept history (after an
 * uninstall without --purge) continues the run ids and the tokens. */

CREATE SCHEMA IF NOT EXISTS cron_lock;
GRANT USAGE ON SCHEMA cron_lock TO cron_lock_user, cron_lock_admin;

-- What cron_lock_try returns.
DO $$
BEGIN
	IF pg_catalog.to_regtype('cron_lock.try_result') IS NULL THEN
		CREATE TYPE cron_lock.try_result AS (
			acquired boolean, reason text, run_id bigint, token bigint,
			holder text COLLATE "C", holder_pid integer, expires_at timestamptz, took_over bigint);
	END IF;
END
$$;

-- The edition's lock rows (1.2), for no one but the owner (no grants; locked
-- only inside the owner's functions, and locking a row needs a privilege on
-- its table, so no other role can take one first, as any role could take an
-- advisory lock key once it has seen it in pg_locks): -2 the chores (sweep,
-- prune), -1 the first record of the token epoch, and 0-16383 the gates of
-- first acquisitions, cron_lock.gate(job).  Not part of the extension's
-- layout.  Kept by uninstall and reinstall (a reinstall adds missing rows);
-- --purge drops it with the schema.
CREATE TABLE IF NOT EXISTS cron_lock.edition_locks (
	id integer PRIMARY KEY
);
-- Default privileges may have granted it to others: nobody keeps any.
DO $$
DECLARE
	r text;
BEGIN
	FOR r IN SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END
			   FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
			  WHERE c.oid = 'cron_lock.edition_locks'::regclass AND a.grantee <> c.relowner LOOP
		EXECUTE 'REVOKE ALL ON cron_lock.edition_locks FROM ' || r;
	END LOOP;
END
$$;
INSERT INTO cron_lock.edition_locks (id) SELECT pg_catalog.generate_series(-2, 16383)
ON CONFLICT (id) DO NOTHING;
