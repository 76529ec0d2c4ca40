-- cron_lock.health (issue 16 item 4), the status view's new columns, and
-- the new anomaly kinds: max_runtime and many_skips (cron_lock_report,
-- cron_lock_skips).  Time passing is shown by moving recorded times into
-- the past as the owner, never by waiting for the clock.
CREATE FUNCTION age_job(j text, by interval) RETURNS void LANGUAGE sql AS $$
	UPDATE cron_lock.job_runs SET started_at = started_at - by, heartbeat_at = heartbeat_at - by,
		   finished_at = finished_at - by WHERE job = j;
	UPDATE cron_lock.jobs SET expectation_at = expectation_at - by WHERE job = j;
$$;
CREATE FUNCTION run_once(j text, st text DEFAULT 'succeeded') RETURNS text LANGUAGE sql AS $$
	SELECT r.reason || '/' || cron_lock_release(j, r.token, st)::text
	  FROM cron_lock_try(j, 'host-1', '1 hour') r
$$;
CREATE VIEW h AS
SELECT job, every, schedule, timezone, late_after, expectation_source,
	   last_start IS NOT NULL AS started, last_success IS NOT NULL AS succeeded,
	   last_status, last_duration >= interval '0' AS has_duration, consecutive_failures,
	   paused_until, state, expected_instances, stray_instances
  FROM cron_lock.health;

-- Every 5 minutes: ok after a run; late once more than 5 + 2.5 minutes
-- passed without a start; ok again after the next run.
SELECT cron_lock_expect('he.every', every => '5 minutes');
SELECT run_once('he.every');
SELECT * FROM h WHERE job = 'he.every';
SELECT age_job('he.every', '7 minutes');
SELECT job, state FROM h WHERE job = 'he.every';
SELECT age_job('he.every', '31 seconds');
SELECT job, state FROM h WHERE job = 'he.every';
SELECT run_once('he.every');
SELECT job, state FROM h WHERE job = 'he.every';

-- A schedule, every minute, late after 30 seconds (the default).
SELECT held_declare('he.cron', 'host-1', NULL, '* * * * *', NULL, 'UTC');
SELECT run_once('he.cron');
SELECT job, schedule, timezone, late_after, expectation_source, state FROM h WHERE job = 'he.cron';
SELECT age_job('he.cron', '3 minutes');
SELECT job, state FROM h WHERE job = 'he.cron';
SELECT run_once('he.cron');
SELECT job, state FROM h WHERE job = 'he.cron';
-- An expectation set after the last expected start is not missed yet.
SELECT cron_lock_expect('he.fresh', schedule => '0 0 1 1 *');
SELECT job, state FROM h WHERE job = 'he.fresh';
SELECT age_job('he.fresh', '400 days');
SELECT job, state FROM h WHERE job = 'he.fresh';

-- The late rule at fixed times (2026-12-06 is a Sunday): a weekday job
-- that ran on Friday is not late on Sunday, and is late on Monday once
-- late_after (default 10 minutes) passed without a start; a start a little
-- before the scheduled time (another host's clock) counts.
SET TimeZone = 'UTC';
SELECT at, cron_lock.missed_start(NULL, '30 2 * * mon-fri', 'UTC', NULL, '2026-11-01', last, at) AS missed
  FROM (VALUES ('2026-12-06 12:00'::timestamptz, '2026-12-04 02:30:02'::timestamptz),
			   ('2026-12-07 02:35', '2026-12-04 02:30:02'),
			   ('2026-12-07 02:40', '2026-12-04 02:30:02'),
			   ('2026-12-07 03:00', '2026-12-07 02:29:58'),
			   ('2026-12-07 03:00', '2026-12-07 02:24:00')) AS t(at, last);
-- every: due at the last start (or the expectation, if later) plus the period.
SELECT cron_lock.missed_start('1 hour', NULL, NULL, '5 minutes', '2026-12-01', '2026-12-06 10:00', at) AS missed
  FROM (VALUES ('2026-12-06 11:04'::timestamptz), ('2026-12-06 11:05')) AS t(at);
RESET TimeZone;

-- Failing: a failed or expired run since the latest success; a success ends it.
SELECT cron_lock_expect('he.fail', every => '1 hour');
SELECT run_once('he.fail');
SELECT run_once('he.fail', 'failed');
SELECT run_once('he.fail', 'failed');
SELECT job, last_status, consecutive_failures, state, succeeded FROM h WHERE job = 'he.fail';
SELECT run_once('he.fail');
SELECT job, last_status, consecutive_failures, state FROM h WHERE job = 'he.fail';

-- Running, and unknown (no expectation, not a failure).
SELECT cron_lock_expect('he.run', every => '1 hour');
SELECT reason FROM cron_lock_try('he.run', 'host-1', '1 hour');
SELECT job, last_status, state, started, succeeded FROM h WHERE job = 'he.run';
SELECT run_once('he.unknown');
SELECT job, every, schedule, late_after, state FROM h WHERE job = 'he.unknown';
-- Paused wins over late.
SELECT age_job('he.every', '1 day');
SELECT cron_lock_pause('he.every');
SELECT job, state, paused_until FROM h WHERE job = 'he.every';
SELECT cron_lock_resume('he.every');
SELECT job, state FROM h WHERE job = 'he.every';

-- status: a free job shows no holder, backend or expiry; last_success and
-- paused_until come last.
SELECT job, state, holder, token, backend_pid = pg_backend_pid() AS my_pid, backend_alive,
	   expires_at > now() AS expires, last_success IS NOT NULL AS has_success, paused_until
  FROM cron_lock.status WHERE job IN ('he.fail', 'he.run') ORDER BY job;

-- cron_lock_skips: busy answers other instances got from this run.
SELECT reason, token FROM cron_lock_try('he.skip', 'host-1', '1 hour');
SELECT cron_lock_skips('he.skip', 1);
SELECT reason FROM cron_lock_try('he.skip', 'host-2', '1 hour');
SELECT reason FROM cron_lock_try('he.skip', 'host-3', '1 hour');
SELECT reason FROM cron_lock_try('he.skip', 'host-1', '1 hour');  -- its own instance: not counted
SELECT cron_lock_skips('he.skip', 1), cron_lock_skips('he.skip', 99);
-- many_skips, live: a running run with at least warn_after_skips busy answers.
SELECT cron_lock_declare('he.skip', 'host-1', NULL, NULL, NULL, NULL, 3);  -- host-1 holds it
SELECT count(*) FROM cron_lock.anomalies WHERE job = 'he.skip';
SELECT reason FROM cron_lock_try('he.skip', 'host-2', '1 hour');
SELECT kind, run_id IS NOT NULL AS has_run, instance, detected_at IS NOT NULL AS has_at,
	   regexp_replace(regexp_replace(detail, 'since \S+ \S+ \S+', 'since (time)'), 'Run \d+', 'Run N') AS detail
  FROM cron_lock.anomalies WHERE job = 'he.skip';
-- Reported by the runner: recorded once, and the live one gives way to it.
SELECT cron_lock_report('he.skip', 1, 'many_skips', 'Run of he.skip made others skip 3 times.');
SELECT cron_lock_report('he.skip', 1, 'many_skips', 'Again.');
SELECT kind, instance, detail FROM cron_lock.anomalies WHERE job = 'he.skip';
SELECT cron_lock_release('he.skip', 1);
-- max_runtime, with the default sentence; an unknown token: false.
SELECT cron_lock_report('he.fail', 2, 'max_runtime', NULL), cron_lock_report('he.fail', 99, 'max_runtime', NULL);
SELECT kind, instance, regexp_replace(detail, 'Run \d+', 'Run N') AS detail FROM cron_lock.anomalies WHERE job = 'he.fail';
SELECT stmt, error_of(stmt) FROM (VALUES
	($$SELECT cron_lock_report('he.fail', 2, 'overlong_run', NULL)$$),
	($$SELECT cron_lock_report('he.fail', 2, NULL, NULL)$$),
	($$SELECT cron_lock_report('he.fail', NULL, 'max_runtime', NULL)$$),
	($$SELECT cron_lock_report(NULL, 2, 'max_runtime', NULL)$$),
	($$SELECT cron_lock_report('he.fail', 2, 'max_runtime', repeat('x', 4097))$$),
	($$SELECT cron_lock_skips('he.fail', NULL)$$)
) AS t(stmt);

-- Authority as for heartbeats: the role that took the lease, its members
-- and administrators; another runner gets 42501.
CREATE ROLE regress_cron_lock_other LOGIN IN ROLE cron_lock_user;
GRANT regress_cron_lock_other TO CURRENT_USER;
SET ROLE regress_cron_lock_runner;
SELECT reason, token FROM cron_lock_try('he.auth', 'runner', '1 hour');
SELECT cron_lock_report('he.auth', 1, 'max_runtime', NULL), cron_lock_skips('he.auth', 1);
SELECT count(*) FROM cron_lock.health WHERE job = 'he.auth';
RESET ROLE;
SET ROLE regress_cron_lock_other;
SELECT error_of($$SELECT cron_lock_report('he.auth', 1, 'many_skips', NULL)$$);
RESET ROLE;
SET ROLE regress_cron_lock_boss;
SELECT cron_lock_report('he.auth', 1, 'many_skips', NULL);
RESET ROLE;
SELECT kind, instance FROM cron_lock.anomaly_log WHERE job = 'he.auth' ORDER BY kind;
DROP OWNED BY regress_cron_lock_other;
DROP ROLE regress_cron_lock_other;
DROP VIEW h;
