/* sql-edition/src/90-privileges.sql: nothing for PUBLIC.  Users run jobs and
 * read the views; admins also free leases, prune, and read the tables.
 * Nobody but the owner writes the tables or runs the helpers.  The API's
 * list comes from functions.list (build.sh); the grants on the tables,
 * views and shared functions are in their files in schema/. */

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA cron_lock FROM PUBLIC;
-- @API_PRIVILEGES@

GRANT EXECUTE ON FUNCTION
	cron_lock.backend_alive(integer, timestamptz),
	cron_lock.edition()
TO cron_lock_user, cron_lock_admin;

GRANT SELECT ON cron_lock.token_epoch
TO cron_lock_admin;
