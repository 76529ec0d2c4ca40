-- cron_lock_heartbeat: renew, late renewal, lost lease.
SELECT token FROM cron_lock_try('hb.a', 'host-1', '1s');
SELECT cron_lock_heartbeat('hb.a', 1, '1 hour') > clock_timestamp() + interval '59 minutes' AS renewed;
SELECT expires_at > clock_timestamp() + interval '59 minutes' AS lease_moved,
       heartbeat_at > acquired_at AS beat_recorded
  FROM cron_lock.leases WHERE job = 'hb.a';
SELECT expires_at > clock_timestamp() + interval '59 minutes' AS run_moved
  FROM cron_lock.job_runs WHERE job = 'hb.a';

-- A wrong token: NULL, recorded as lost_heartbeat; the lease is untouched.
SELECT cron_lock_heartbeat('hb.a', 7, '1 hour') IS NULL AS lost;
SELECT kind, run_id, instance FROM cron_lock.anomaly_log WHERE job = 'hb.a';

-- Expired but not taken over: still renewed, recorded as late_heartbeat.
SELECT token FROM cron_lock_try('hb.b', 'host-1', '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT cron_lock_heartbeat('hb.b', 1, '1 minute') IS NOT NULL AS renewed_late;
SELECT kind, instance, detail LIKE '%after its lease expired%' AS says_why
  FROM cron_lock.anomaly_log WHERE job = 'hb.b';
SELECT reason FROM cron_lock_try('hb.b', 'host-2', '1 minute');

-- Taken over: the old holder's heartbeat is lost.
SELECT token FROM cron_lock_try('hb.c', 'host-1', '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT reason, token FROM cron_lock_try('hb.c', 'host-2', '1 minute');
SELECT cron_lock_heartbeat('hb.c', 1, '1 minute') IS NULL AS lost;
SELECT kind, instance, detail LIKE '%instance "host-2" had taken the lease%' AS names_new_holder
  FROM cron_lock.anomaly_log WHERE job = 'hb.c' ORDER BY kind;

-- Released: the holder's own late heartbeat is lost too.
SELECT cron_lock_release('hb.a', 1);
SELECT cron_lock_heartbeat('hb.a', 1, '1 minute') IS NULL AS lost_after_release;

-- A job never locked.
SELECT cron_lock_heartbeat('hb.never', 1, '1 minute') IS NULL AS lost_never;
SELECT kind, run_id, instance FROM cron_lock.anomaly_log WHERE job = 'hb.never';
