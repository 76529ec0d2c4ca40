-- Privileges of what issue 16 (ops-server) adds: nothing for PUBLIC.  Users
-- declare their runs' expectations, report, count skips and read health;
-- admins also set expectations, pause and resume, and read cron_lock.jobs.
REVOKE ALL ON FUNCTION
	@extschema@.cron_lock_expect(text, interval, text, interval, text),
	@extschema@.cron_lock_declare(text, text, interval, text, interval, text, integer),
	@extschema@.cron_lock_pause(text, timestamptz, text),
	@extschema@.cron_lock_resume(text),
	@extschema@.cron_lock_report(text, bigint, text, text),
	@extschema@.cron_lock_skips(text, bigint),
	cron_lock.arg_name(text, text),
	cron_lock.require_writable(text, text),
	cron_lock.refuse_foreign_objects(boolean),
	cron_lock.outer_role(),
	cron_lock.require_authority(text, text, text),
	cron_lock.lock_new_job(text),
	cron_lock.commit_durably(),
	cron_lock.cron_parse(text, text),
	cron_lock.cron_prev(text, text, timestamptz),
	cron_lock.late_after(interval, text, text, interval, timestamptz),
	cron_lock.missed_start(interval, text, text, interval, timestamptz, timestamptz, timestamptz),
	cron_lock.arg_expectation(text, interval, text, interval, text),
	cron_lock.describe_expectation(interval, text, text, interval),
	cron_lock.busy_answers(text, text, timestamptz, timestamptz)
FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
	@extschema@.cron_lock_declare(text, text, interval, text, interval, text, integer),
	@extschema@.cron_lock_report(text, bigint, text, text),
	@extschema@.cron_lock_skips(text, bigint)
TO cron_lock_user, cron_lock_admin;

-- What the views call runs as their reader.
GRANT EXECUTE ON FUNCTION
	cron_lock.cron_parse(text, text),
	cron_lock.cron_prev(text, text, timestamptz),
	cron_lock.late_after(interval, text, text, interval, timestamptz),
	cron_lock.missed_start(interval, text, text, interval, timestamptz, timestamptz, timestamptz),
	cron_lock.busy_answers(text, text, timestamptz, timestamptz)
TO cron_lock_user, cron_lock_admin;

GRANT EXECUTE ON FUNCTION
	@extschema@.cron_lock_expect(text, interval, text, interval, text),
	@extschema@.cron_lock_pause(text, timestamptz, text),
	@extschema@.cron_lock_resume(text)
TO cron_lock_admin;

GRANT SELECT ON cron_lock.health TO cron_lock_user, cron_lock_admin;
GRANT SELECT ON cron_lock.jobs TO cron_lock_admin;
