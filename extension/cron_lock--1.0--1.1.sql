/* extension/cron_lock--1.0--1.1.sql: from 1.0 to 1.1.  A fresh install of
 * 1.1 runs cron_lock--1.0.sql and then this script, so both paths give the
 * same objects (test/server/upgrade_harness.sh checks it). */

\echo Use "ALTER EXTENSION cron_lock UPDATE TO '1.1'" to load this file. \quit

-- Issue 13 (extension core): every SECURITY DEFINER function pins its
-- search_path, pg_temp last, so that nothing a caller puts in its own path
-- or in pg_temp is found by the statements the functions run as the
-- extension's owner.  The C functions now reach the tables only through SQL
-- statements (SPI), which resolve names under this path.  cron_lock_prune
-- and cron_lock_duplicates carried it since 1.0.
ALTER FUNCTION @extschema@.cron_lock_try(text, text, interval, uuid, interval)
	SET search_path = pg_catalog, cron_lock, pg_temp;
ALTER FUNCTION @extschema@.cron_lock_heartbeat(text, bigint, interval)
	SET search_path = pg_catalog, cron_lock, pg_temp;
ALTER FUNCTION @extschema@.cron_lock_release(text, bigint, text, text)
	SET search_path = pg_catalog, cron_lock, pg_temp;
ALTER FUNCTION @extschema@.cron_lock_check(text, bigint)
	SET search_path = pg_catalog, cron_lock, pg_temp;
ALTER FUNCTION @extschema@.cron_lock_force_release(text, bigint)
	SET search_path = pg_catalog, cron_lock, pg_temp;
