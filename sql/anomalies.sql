-- cron_lock.anomalies: every kind, with a sentence a person can act on.
SELECT token FROM cron_lock_try('an.stale', 'host-1', '10 milliseconds');
SELECT token FROM cron_lock_try('an.overlong', 'host-1', '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT reason FROM cron_lock_try('an.stale', 'host-2', '1 hour');
SELECT cron_lock_release('an.stale', 1);
SELECT cron_lock_heartbeat('an.stale', 1, '1 minute') IS NULL AS lost;
SELECT token FROM cron_lock_try('an.late', 'host-1', '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT cron_lock_heartbeat('an.late', 1, '1 hour') IS NOT NULL AS renewed;

SELECT kind, job, instance, run_id IS NOT NULL AS has_run, detected_at <= clock_timestamp() AS past,
       length(detail) > 60 AS has_detail
  FROM cron_lock.anomalies WHERE job LIKE 'an.%' ORDER BY job, kind;
SELECT regexp_replace(detail, '[0-9]+', 'N', 'g') AS detail
  FROM cron_lock.anomalies WHERE job = 'an.stale' ORDER BY kind;
SELECT regexp_replace(detail, '[0-9]+', 'N', 'g') AS detail
  FROM cron_lock.anomalies WHERE job = 'an.overlong';
-- An overlong run stops being one once it is released.
SELECT cron_lock_release('an.overlong', 1);
SELECT count(*) FROM cron_lock.anomalies WHERE job = 'an.overlong';
