-- cron_lock.jobs: what is known about a job besides its lease, one row per
-- job that has an expectation, a skip threshold or a pause (issue 16).
-- Written only by cron_lock_expect, cron_lock_declare, cron_lock_pause and
-- cron_lock_resume; read by the health, status and anomalies views.
CREATE TABLE IF NOT EXISTS cron_lock.jobs (
	job                text COLLATE "C" PRIMARY KEY,
	every              interval,          -- expected period, or
	schedule           text,              -- a five-field crontab expression
	timezone           text,              -- the schedule's time zone
	late_after         interval,          -- NULL: the default (see cron_lock.late_after)
	expectation_source text COLLATE "C",  -- run (cron_lock_declare), admin (cron_lock_expect)
	expectation_by     text,              -- the declaring instance, or the admin's role
	expectation_at     timestamptz,       -- when this expectation was first set
	warn_after_skips   integer,           -- a run that made others skip this often is reported
	paused_until       timestamptz,       -- infinity: until resumed; past: no longer paused
	paused_by          text,              -- the role that paused it
	paused_at          timestamptz,
	pause_reason       text
);
GRANT SELECT ON cron_lock.jobs TO cron_lock_admin;
