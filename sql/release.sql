-- cron_lock_release: end a run, retried release, late release after takeover.
SELECT token FROM cron_lock_try('rel.a', 'host-1', '1 minute');
SELECT cron_lock_release('rel.a', 1, 'failed', 'exit 3');
SELECT status, message, finished_at >= started_at AS finished FROM cron_lock.job_runs WHERE job = 'rel.a';
SELECT held FROM cron_lock.leases WHERE job = 'rel.a';
-- Retried: still true, nothing changes.
SELECT cron_lock_release('rel.a', 1, 'succeeded');
SELECT status, message FROM cron_lock.job_runs WHERE job = 'rel.a';
-- A token never issued, a job never locked.
SELECT cron_lock_release('rel.a', 99);
SELECT cron_lock_release('rel.never', 1);
-- Retried release still true after the next run started.
SELECT token FROM cron_lock_try('rel.a', 'host-2', '1 minute');
SELECT cron_lock_release('rel.a', 1);
SELECT cron_lock_release('rel.a', 2, 'cancelled');

-- Taken over: false; the run stays expired and the report is kept apart.
SELECT token FROM cron_lock_try('rel.b', 'host-1', '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT reason FROM cron_lock_try('rel.b', 'host-2', '1 minute');
SELECT cron_lock_release('rel.b', 1, 'succeeded', 'all done');
SELECT token, status, reported_status, reported_at IS NOT NULL AS reported, message
  FROM cron_lock.job_runs WHERE job = 'rel.b' ORDER BY token;
SELECT kind, instance, detail LIKE '%expired and been taken over%' AS says_why
  FROM cron_lock.anomaly_log WHERE job = 'rel.b' ORDER BY kind;
-- Reported again: still false, one report kept.
SELECT cron_lock_release('rel.b', 1, 'failed');
SELECT reported_status FROM cron_lock.job_runs WHERE job = 'rel.b' AND token = 1;
SELECT count(*) FROM cron_lock.anomaly_log WHERE job = 'rel.b' AND kind = 'late_release';
-- The new holder is unaffected.
SELECT state, holder, token FROM cron_lock.status WHERE job = 'rel.b';

-- Expired but not taken over: the holder's release still ends its run.
SELECT token FROM cron_lock_try('rel.c', 'host-1', '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT cron_lock_release('rel.c', 1);
SELECT status FROM cron_lock.job_runs WHERE job = 'rel.c';
