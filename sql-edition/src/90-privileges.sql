/* sql-edition/src/90-privileges.sql: nothing for PUBLIC.  Users run jobs and
 * read the views; admins also free leases, prune, and read the tables.
 * Nobody but the owner writes the tables or runs the helpers.  The grants on
 * the tables, views and shared functions are in their files in schema/. */

REVOKE ALL ON FUNCTION
	cron_lock_try(text, text, interval, uuid, interval),
	cron_lock_heartbeat(text, bigint, interval),
	cron_lock_release(text, bigint, text, text),
	cron_lock_check(text, bigint),
	cron_lock_force_release(text, bigint),
	cron_lock.backend_alive(integer, timestamptz),
	cron_lock.edition(),
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
	cron_lock.arg_message(text, text)
FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
	cron_lock_try(text, text, interval, uuid, interval),
	cron_lock_heartbeat(text, bigint, interval),
	cron_lock_release(text, bigint, text, text),
	cron_lock_check(text, bigint),
	cron_lock.backend_alive(integer, timestamptz),
	cron_lock.edition()
TO cron_lock_user, cron_lock_admin;

GRANT EXECUTE ON FUNCTION
	cron_lock_force_release(text, bigint)
TO cron_lock_admin;
