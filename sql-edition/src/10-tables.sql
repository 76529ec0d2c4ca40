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
