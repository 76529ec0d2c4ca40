-- cron_lock_try: acquire, held, replay, too_soon, takeover; tokens per job.
SELECT acquired, reason, run_id IS NOT NULL AS has_run, token, holder,
       holder_pid = pg_backend_pid() AS my_pid,
       expires_at > clock_timestamp() + interval '50 seconds' AS expiry_ok, took_over
  FROM cron_lock_try('try.a', 'host-1', '60s');

-- Another instance: held, with who holds it and until when.
SELECT acquired, reason, run_id, token, holder, holder_pid = pg_backend_pid() AS holder_pid_ok,
       expires_at IS NOT NULL AS has_expiry, took_over
  FROM cron_lock_try('try.a', 'host-2', '60s');

-- The same instance does not re-enter.
SELECT acquired, reason, holder FROM cron_lock_try('try.a', 'host-1', '60s');

-- Tokens are per job: another job starts at 1.
SELECT reason, token FROM cron_lock_try('try.b', 'host-1', '60s');

-- Release, then acquire again: token 2.
SELECT cron_lock_release('try.a', 1);
SELECT reason, token, holder FROM cron_lock_try('try.a', 'host-2', '60s');

-- Replay: the same attempt retried gets the same lease, renewed.
SELECT reason, token FROM cron_lock_try('try.c', 'host-1', '60s', 'aaaaaaaa-0000-0000-0000-000000000001');
SELECT reason, token, run_id = (SELECT run_id FROM cron_lock.leases WHERE job = 'try.c') AS same_run
  FROM cron_lock_try('try.c', 'host-1', '60s', 'aaaaaaaa-0000-0000-0000-000000000001');
-- A different attempt, even from the same instance, is busy.
SELECT reason FROM cron_lock_try('try.c', 'host-1', '60s', 'aaaaaaaa-0000-0000-0000-000000000002');
SELECT count(*) AS runs_of_c FROM cron_lock.job_runs WHERE job = 'try.c';

-- Stale takeover: the expired run becomes expired, taken over by the new run.
SELECT reason, token FROM cron_lock_try('try.d', 'host-1', '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT acquired, reason, token, holder,
       took_over = (SELECT run_id FROM cron_lock.job_runs WHERE job = 'try.d' AND token = 1) AS took_over_old
  FROM cron_lock_try('try.d', 'host-2', '60s');
SELECT token, instance, status, finished_at IS NOT NULL AS finished,
       taken_over_by = (SELECT run_id FROM cron_lock.job_runs WHERE job = 'try.d' AND token = 2) AS by_new
  FROM cron_lock.job_runs WHERE job = 'try.d' ORDER BY token;
SELECT kind, job, instance FROM cron_lock.anomaly_log WHERE job = 'try.d';

-- An expired lease of the same attempt is not replayed: it is taken over.
SELECT reason, token FROM cron_lock_try('try.e', 'host-1', '10 milliseconds', 'aaaaaaaa-0000-0000-0000-00000000000e');
SELECT pg_sleep(0.05);
SELECT reason, token FROM cron_lock_try('try.e', 'host-1', '60s', 'aaaaaaaa-0000-0000-0000-00000000000e');

-- min_gap: too soon after the last start, even once released or expired.
SELECT reason, token FROM cron_lock_try('try.f', 'host-1', '10 milliseconds', NULL, '1 hour');
SELECT pg_sleep(0.05);
SELECT acquired, reason, run_id, token, holder FROM cron_lock_try('try.f', 'host-2', '60s', NULL, '1 hour');
SELECT reason FROM cron_lock_try('try.f', 'host-2', '60s', NULL, '10 milliseconds');
-- A held lease answers held before too_soon.
SELECT reason FROM cron_lock_try('try.f', 'host-3', '60s', NULL, '1 hour');

-- The run row records who took it.
SELECT job, instance, token, status, started_at = heartbeat_at AS fresh,
       backend_pid = pg_backend_pid() AS my_pid, application_name
  FROM cron_lock.job_runs WHERE job = 'try.b';

-- Job and instance are compared byte for byte.
SELECT reason, token FROM cron_lock_try('Try.B', 'host-1', '60s');
SELECT reason, token FROM cron_lock_try('try.é', 'host-1', '60s');
SELECT reason, token FROM cron_lock_try('try.é', 'HOST-1', '60s');
SELECT c.relname, a.attname, l.collname
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_collation l ON l.oid = a.attcollation
 WHERE c.relnamespace = 'cron_lock'::regnamespace AND a.attname IN ('job', 'instance', 'holder')
 ORDER BY 1, 2;
