/* sql-edition/uninstall.sql: remove the plain-SQL edition's functions, views
 * and type, and keep its history: schema cron_lock with its tables and
 * sequence stays, so that a later install continues run ids and tokens.
 * The roles stay too (other databases may use them). */

DO $$
DECLARE
	s name;
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
		%1$I.cron_lock_try(text, text, interval, uuid, interval),
		%1$I.cron_lock_heartbeat(text, bigint, interval),
		%1$I.cron_lock_release(text, bigint, text, text),
		%1$I.cron_lock_check(text, bigint),
		%1$I.cron_lock_force_release(text, bigint),
		%1$I.cron_lock_prune(interval),
		%1$I.cron_lock_duplicates(interval),
		%1$I.cron_lock_retention(interval, interval),
		%1$I.cron_lock_expect_instances(text[], text)', s);
	DROP VIEW IF EXISTS cron_lock.status, cron_lock.anomalies, cron_lock.sightings,
		cron_lock.stray_instances;
	DROP FUNCTION IF EXISTS
		cron_lock.backend_alive(integer, timestamptz),
		cron_lock.arg_name(text, text),
		cron_lock.arg_span(interval, text, text),
		cron_lock.arg_ttl(interval, text),
		cron_lock.arg_min_gap(interval, text),
		cron_lock.arg_status(text, text),
		cron_lock.arg_token(bigint),
		cron_lock.require_writable(text, text),
		cron_lock.refuse_foreign_objects(boolean),
	cron_lock.layout_natts(name),
	cron_lock.table_name(oid),
		cron_lock.commit_durably(),
		cron_lock.commit_lazily_if_alone(),
	cron_lock.lone_try(text),
		cron_lock.next_token(bigint, text),
		cron_lock.outer_role(),
		cron_lock.require_authority(text, text, text),
		cron_lock.arg_message(text, text),
		cron_lock.sweep(integer, float8),
		cron_lock.prune_history(timestamptz, integer),
		cron_lock.edition();
	DROP TYPE IF EXISTS cron_lock.try_result;
END
$$;
