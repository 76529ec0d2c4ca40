/* sql-edition/uninstall.sql: remove the plain-SQL edition's functions, views
 * and type, and keep its history: schema cron_lock with its tables and
 * sequence stays, so that a later install continues run ids and tokens.
 * The roles stay too (other databases may use them). */

DO $$
DECLARE
	s name;
	f text;
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'cron_lock') THEN
		RAISE EXCEPTION 'the cron_lock extension is installed in this database'
			USING ERRCODE = '55000',
				  HINT = 'This file removes the plain-SQL edition only; use DROP EXTENSION cron_lock for the extension.';
	END IF;
	IF pg_catalog.to_regprocedure('cron_lock.edition()') IS NULL THEN
		RAISE NOTICE 'the cron_lock plain-SQL edition is not installed in this database';
		RETURN;
	END IF;
	SELECT functions_schema INTO s FROM cron_lock.edition();
	EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS
-- @API_FUNCTIONS@
		', s);
	DROP VIEW IF EXISTS cron_lock.status, cron_lock.anomalies, cron_lock.sightings, cron_lock.health,
		cron_lock.stray_instances;
	IF pg_catalog.to_regclass('cron_lock.contention') IS NOT NULL THEN
		DROP TRIGGER IF EXISTS commit_lazily ON cron_lock.contention;
	END IF;
	IF pg_catalog.to_regclass('cron_lock.leases') IS NOT NULL THEN
		DROP TRIGGER IF EXISTS commit_durably ON cron_lock.leases;
	END IF;
	-- Every helper: schema cron_lock holds the edition's and nothing else's.
	FOR f IN SELECT pg_catalog.format('cron_lock.%I(%s)', p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
			   FROM pg_catalog.pg_proc p
			  WHERE p.pronamespace = 'cron_lock'::regnamespace ORDER BY 1 LOOP
		EXECUTE 'DROP FUNCTION ' || f;
	END LOOP;
	DROP TYPE IF EXISTS cron_lock.try_result;
END
$$;
