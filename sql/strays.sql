-- Stray runners, not designed redundancy (issue 16 item 7): an
-- administrator declares the instances expected to run a job, or every job;
-- any other instance seen on it since is a stray: cron_lock_duplicates
-- splits expected from unexpected instances, the anomalies view has a
-- stray_instance, and cron_lock.stray_instances lists them.
CREATE ROLE regress_stray_runner LOGIN IN ROLE cron_lock_user;
GRANT regress_stray_runner TO CURRENT_USER;

-- Before any declaration: duplicates cannot tell.
SELECT token FROM cron_lock_try('stray.a', 'h1', '1 hour');
SELECT reason FROM cron_lock_try('stray.a', 'h2', '1 hour');
SELECT reason FROM cron_lock_try('stray.a', 'h3', '1 hour');
SELECT job, instance_ids, expected_ids, unexpected_ids FROM cron_lock_duplicates('1 hour') WHERE job LIKE 'stray.%';
SELECT count(*) AS strays FROM cron_lock.stray_instances WHERE job LIKE 'stray.%';

-- A host cannot declare itself: only administrators may.
SET ROLE regress_stray_runner;
SELECT cron_lock_expect_instances(ARRAY['h3'], 'stray.a');
RESET ROLE;

-- h1 and h2 run st.a by design; h1 alone runs every other job.
SELECT cron_lock_expect_instances(ARRAY['h1', 'h2', 'h2'], 'stray.a');
SELECT cron_lock_expect_instances(ARRAY['h1']);
SELECT job, instance FROM cron_lock.expected_instances WHERE job LIKE 'stray.%' OR job IS NULL ORDER BY 1, 2;
-- Seen since: h2 takes st.b, h3 asks again for st.a.  The acquisition
-- comes first: one in 8 folds the busy answers so far into counters
-- (cron_lock.sweep), which must not change the counts below.
SELECT token FROM cron_lock_try('stray.b', 'h2', '1 hour');
SELECT reason FROM cron_lock_try('stray.a', 'h2', '1 hour');
SELECT reason FROM cron_lock_try('stray.a', 'h3', '1 hour');
SELECT reason FROM cron_lock_try('stray.b', 'h1', '1 hour');
SELECT job, instances, instance_ids, busy_answers, expected_ids, unexpected_ids
  FROM cron_lock_duplicates('1 hour') WHERE job LIKE 'stray.%' ORDER BY job;
SELECT job, instance, runs, busy, first_seen <= last_seen AS ordered, last_run_id IS NOT NULL AS ran
  FROM cron_lock.stray_instances WHERE job LIKE 'stray.%' ORDER BY 1, 2;
SELECT kind, job, instance, regexp_replace(detail, '[0-9]{4}-[0-9 :-]+ [A-Z]+', 'T', 'g') AS detail
  FROM cron_lock.anomalies WHERE kind = 'stray_instance' AND job LIKE 'stray.%' ORDER BY 2, 3;
-- The health view shows both per job: st.a its own list, st.b every job's.
SELECT job, expected_instances, stray_instances FROM cron_lock.health WHERE job LIKE 'stray.%' ORDER BY 1;
-- Users see the strays too.
SET ROLE regress_stray_runner;
SELECT count(*) AS strays FROM cron_lock.stray_instances WHERE job LIKE 'stray.%';
SELECT job, expected_instances, stray_instances FROM cron_lock.health WHERE job LIKE 'stray.%' ORDER BY 1;
SELECT count(*) AS stray_anomalies FROM cron_lock.anomalies WHERE kind = 'stray_instance' AND job LIKE 'stray.%';
RESET ROLE;

-- Folded into counters, the evidence still counts, by the hour: an hour's
-- counter seen since the declaration counts whole (h3's earlier answer too).
SELECT cron_lock.sweep() >= 0 AS swept;
SELECT job, instance, runs, busy FROM cron_lock.stray_instances WHERE job LIKE 'stray.%' ORDER BY 1, 2;
SELECT job, instance, attempts, acquired, busy FROM cron_lock.sightings WHERE job LIKE 'stray.%' ORDER BY 1, 2;

-- cron_lock_stray: the runner's alert, on a stray's first run since the
-- declaration only.  h2's run of st.b is one; h1's run of st.a (expected,
-- and before the declaration) is not, nor is a run asked about as another
-- job's, nor h2's next run of st.b.
SELECT job, instance, token, cron_lock_stray(job, run_id) IS NOT NULL AS alert
  FROM cron_lock.job_runs WHERE job LIKE 'stray.%' ORDER BY run_id;
SELECT regexp_replace(cron_lock_stray(job, run_id), '[0-9]{4}-[0-9 :-]+ [A-Z]+', 'T', 'g') AS alert
  FROM cron_lock.job_runs WHERE job = 'stray.b';
SELECT cron_lock_stray('stray.a', run_id) AS other_job FROM cron_lock.job_runs WHERE job = 'stray.b';
SELECT cron_lock_release('stray.b', 1);
SELECT token FROM cron_lock_try('stray.b', 'h2', '1 hour');
SELECT job, instance, token, cron_lock_stray(job, run_id) IS NOT NULL AS alert
  FROM cron_lock.job_runs WHERE job = 'stray.b' ORDER BY run_id;
-- A runner may ask (it only reads); no such run: NULL.
SET ROLE regress_stray_runner;
SELECT cron_lock_stray('stray.b', max(run_id)) IS NOT NULL AS alert,
	   cron_lock_stray('stray.b', -1) IS NULL AS none
  FROM cron_lock.status WHERE job = 'stray.b';
RESET ROLE;

-- Declaring h3 expected on st.a ends that stray; clearing st.a's own
-- declaration makes it fall back to every job's (h1 only).
SELECT cron_lock_expect_instances(ARRAY['h1', 'h2', 'h3'], 'stray.a');
SELECT job, instance FROM cron_lock.stray_instances WHERE job LIKE 'stray.%' ORDER BY 1, 2;
SELECT cron_lock_expect_instances('{}', 'stray.a');
SELECT reason FROM cron_lock_try('stray.a', 'h3', '1 hour');
SELECT job, instance FROM cron_lock.stray_instances WHERE job LIKE 'stray.%' ORDER BY 1, 2;
SELECT cron_lock_expect_instances(NULL);
SELECT count(*) AS declarations FROM cron_lock.expected_instances;
SELECT count(*) AS strays FROM cron_lock.stray_instances;

-- Bad input.
SELECT cron_lock_expect_instances(ARRAY['h1', NULL], 'stray.a');
SELECT cron_lock_expect_instances(ARRAY['h1', ''], 'stray.a');
SELECT cron_lock_expect_instances(ARRAY[['h1'], ['h2']], 'stray.a');
SELECT cron_lock_expect_instances(ARRAY['h1'], '');

-- cron_lock_stray costs an index probe, not a read of the job's history: a
-- stray with 5000 runs of the job before the declaration, on its first run
-- since, reads a few blocks of job_runs (the whole history is 50 and more),
-- even where the statistics say a job has about one run (as after many jobs
-- ran once): a plan that looked the run up by the job's name read it all.
INSERT INTO cron_lock.job_runs (job, instance, token, status, started_at, heartbeat_at, expires_at, finished_at)
SELECT 'stray.d' || g, 'h9', 1, 'succeeded', now(), now(), now(), now() FROM generate_series(1, 3000) g;
ANALYZE cron_lock.job_runs;
INSERT INTO cron_lock.job_runs (job, instance, token, status, started_at, heartbeat_at, expires_at, finished_at)
SELECT 'stray.c', 'h9', g, 'succeeded', t, t, t, t
  FROM generate_series(1, 5000) g, LATERAL (SELECT now() - interval '1 day' + g * interval '1 s' AS t) x;
SELECT cron_lock_expect_instances(ARRAY['h1'], 'stray.c');
INSERT INTO cron_lock.job_runs (job, instance, token, status, started_at, heartbeat_at, expires_at)
SELECT 'stray.c', 'h9', 5001, 'running', t, t, t + interval '1 hour' FROM clock_timestamp() t
RETURNING run_id AS stray_run \gset
BEGIN;
SELECT pg_stat_get_xact_blocks_fetched('cron_lock.job_runs'::regclass) AS blocks \gset
SELECT cron_lock_stray('stray.c', :stray_run) IS NOT NULL AS alert;
SELECT pg_stat_get_xact_blocks_fetched('cron_lock.job_runs'::regclass) - :blocks < 20 AS one_probe;
COMMIT;
SELECT cron_lock_expect_instances('{}', 'stray.c');

DROP ROLE regress_stray_runner;
-- Leave nothing behind for the tests that count rows.
DELETE FROM cron_lock.leases WHERE job LIKE 'stray.%';
DELETE FROM cron_lock.job_runs WHERE job LIKE 'stray.%';
DELETE FROM cron_lock.contention WHERE job LIKE 'stray.%';
DELETE FROM cron_lock.contention_hourly WHERE job LIKE 'stray.%';
