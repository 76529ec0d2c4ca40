-- test/bench/history.sql: fill cron_lock.job_runs with finished runs of the
-- cycle jobs, as years of a busy scheduler would, and leave each job's lease
-- free with the token of its last run.  Run as the extension's owner on a
-- database with no runs yet (before setup.sql):
--   psql -v rows=1000000 -v jobs=1000 -f history.sql
-- One INSERT ... SELECT; the runs are spread one minute apart into the past.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET synchronous_commit = off;
SET maintenance_work_mem = '256MB';

INSERT INTO cron_lock.job_runs (run_id, job, instance, token, status,
	started_at, heartbeat_at, expires_at, finished_at, backend_pid,
	backend_start, client_addr, application_name, message)
SELECT g, 'cycle-' || (1 + (g - 1) % :jobs), 'host-' || (g % 5), (g - 1) / :jobs + 1,
	   CASE WHEN g % 50 = 0 THEN 'failed' ELSE 'succeeded' END,
	   t, t, t + interval '60 s', t + interval '2 s', 10000 + g % 20000,
	   t - interval '1 day', '10.0.0.1'::inet + (g % 5), 'cronlock',
	   CASE WHEN g % 50 = 0 THEN 'exit status 1' END
  FROM generate_series(1, :rows) g,
	   LATERAL (SELECT now() - (:rows - g) * interval '1 minute' AS t) s;

SELECT setval('cron_lock.job_runs_run_id_seq', :rows) \g /dev/null

INSERT INTO cron_lock.leases (job, token, run_id, instance, held, attempt,
	backend_pid, backend_start, acquired_at, heartbeat_at, expires_at)
SELECT DISTINCT ON (job) job, token, run_id, instance, false, NULL,
	   backend_pid, backend_start, started_at, heartbeat_at, expires_at
  FROM cron_lock.job_runs
 ORDER BY job, run_id DESC;

VACUUM (ANALYZE) cron_lock.job_runs;
VACUUM (ANALYZE) cron_lock.leases;
CHECKPOINT;
