/* sql-edition/src/60-admin.sql: the edition's own version record.  The
 * functions both editions share (prune, duplicates, retention, expected
 * instances, the sweep) come before this file, from schema/functions/. */

-- cron_lock.edition(): which edition is installed, its version, and the
-- schema of its functions (cronlock doctor and the installer read it).
DO $do$
BEGIN
	EXECUTE pg_catalog.format($f$
		CREATE OR REPLACE FUNCTION cron_lock.edition(
			OUT edition text, OUT version text, OUT functions_schema name)
		LANGUAGE sql IMMUTABLE
		AS $b$SELECT %L::text, %L::text, %L::name$b$$f$,
		'sql', '@VERSION@', pg_catalog.current_schema());
END
$do$;
