/* sql-edition/src/90-privileges.sql: nothing for PUBLIC.  Users run jobs and
 * read the views; admins also free leases, prune, and read the tables.
 * Nobody but the owner writes the tables or runs the helpers.  The API's
 * list comes from functions.list (build.sh). */

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA cron_lock FROM PUBLIC;
-- @API_PRIVILEGES@

GRANT EXECUTE ON FUNCTION
	cron_lock.backend_alive(integer, timestamptz),
	cron_lock.edition()
TO cron_lock_user, cron_lock_admin;

GRANT SELECT ON cron_lock.status, cron_lock.anomalies, cron_lock.sightings
TO cron_lock_user, cron_lock_admin;

GRANT SELECT ON cron_lock.job_runs, cron_lock.leases, cron_lock.contention,
	cron_lock.anomaly_log, cron_lock.token_epoch
TO cron_lock_admin;
