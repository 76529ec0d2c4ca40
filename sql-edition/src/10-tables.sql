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

-- The edition's private row (1.2), for no one but the owner (no grants;
-- read only inside the owner's functions): a secret from which the
-- advisory lock keys of first acquisitions are derived (new_job_key), so
-- that no other role can compute and hold a key before cron_lock_try or
-- cron_lock_pause takes it; and the row the chores (sweep, prune) lock,
-- which only the owner may lock.  Not part of the extension's layout.  Kept
-- by uninstall and reinstall; --purge drops it with the schema.
CREATE TABLE IF NOT EXISTS cron_lock.edition_private (
	id boolean PRIMARY KEY DEFAULT true CHECK (id),
	secret text NOT NULL
);
-- Default privileges may have granted it to others: nobody keeps any.
DO $$
DECLARE
	r text;
BEGIN
	FOR r IN SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END
			   FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
			  WHERE c.oid = 'cron_lock.edition_private'::regclass AND a.grantee <> c.relowner LOOP
		EXECUTE 'REVOKE ALL ON cron_lock.edition_private FROM ' || r;
	END LOOP;
END
$$;
INSERT INTO cron_lock.edition_private (secret)
SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
		pg_catalog.gen_random_uuid()::text || pg_catalog.gen_random_uuid()::text, 'UTF8')), 'hex')
 WHERE NOT EXISTS (SELECT FROM cron_lock.edition_private);
