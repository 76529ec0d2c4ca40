/* sql-edition/purge.sql (appended to uninstall.sql by make): also drop the
 * history (schema cron_lock and everything in it) and the two roles, unless
 * another database still uses them. */

DO $$
DECLARE
	want text;
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'cron_lock') THEN
		RETURN;
	END IF;
	DROP SCHEMA IF EXISTS cron_lock CASCADE;
	FOREACH want IN ARRAY ARRAY['cron_lock_user', 'cron_lock_admin'] LOOP
		BEGIN
			EXECUTE pg_catalog.format('DROP ROLE IF EXISTS %I', want);
		EXCEPTION WHEN dependent_objects_still_exist OR insufficient_privilege THEN
			RAISE NOTICE 'role "%" is kept: %', want, SQLERRM;
		END;
	END LOOP;
END
$$;
