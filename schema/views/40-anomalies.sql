-- cron_lock.anomalies: the recorded anomalies, and three computed live: an
-- overlong run (still held more than one ttl, the last renewal's, past its
-- expiry, with nobody taking over), a run that has made other instances
-- skip at least warn_after_skips times (cron_lock_declare), until its
-- runner reports many_skips itself, and a stray instance
-- (cron_lock.stray_instances).
CREATE OR REPLACE VIEW cron_lock.anomalies AS
SELECT a.kind, a.job, a.run_id, a.instance, a.detected_at, a.detail
  FROM ONLY cron_lock.anomaly_log a
UNION ALL
SELECT 'overlong_run', l.job, l.run_id, l.instance,
	   l.expires_at + (l.expires_at - l.heartbeat_at),
	   pg_catalog.format('Run %s of job "%s" by instance "%s" (backend pid %s) is still marked running %s after its lease expired and nobody has taken it over. Check whether that runner is stuck; if it is gone, free the job with cron_lock_force_release(%L, %s).',
						 l.run_id, l.job, l.instance,
						 coalesce(l.backend_pid::text, 'unknown'),
						 pg_catalog.date_trunc('second', pg_catalog.clock_timestamp() - l.expires_at),
						 l.job, l.token)
  FROM ONLY cron_lock.leases l
 WHERE l.held
   AND l.expires_at + (l.expires_at - l.heartbeat_at) < pg_catalog.clock_timestamp()
UNION ALL
SELECT 'many_skips', l.job, l.run_id, l.instance, pg_catalog.clock_timestamp(),
	   pg_catalog.format('Run %s of job "%s" by instance "%s", running since %s, has made other instances skip %s times (warn_after_skips is %s). Check whether it is stuck or the job runs longer than its schedule allows.',
						 l.run_id, l.job, l.instance,
						 pg_catalog.to_char(l.acquired_at, 'YYYY-MM-DD HH24:MI:SS TZ'),
						 b.n, j.warn_after_skips)
  FROM ONLY cron_lock.leases l
  JOIN ONLY cron_lock.jobs j ON j.job = l.job
 CROSS JOIN LATERAL (SELECT cron_lock.busy_answers(l.job, l.instance, l.acquired_at, NULL) AS n) b
 WHERE l.held AND j.warn_after_skips IS NOT NULL
   AND b.n >= j.warn_after_skips
   AND NOT EXISTS (SELECT FROM ONLY cron_lock.anomaly_log a
					WHERE a.kind = 'many_skips' AND a.run_id = l.run_id)
UNION ALL
SELECT 'stray_instance', s.job, s.last_run_id, s.instance, s.first_seen,
	   pg_catalog.format('Instance "%s" is not among the instances expected to run job "%s", but it was seen on that job since %s (runs: %s, busy answers: %s, last seen %s). Stop cron_lock for this job on that host, or add the instance with cron_lock_expect_instances.',
						 s.instance, s.job,
						 pg_catalog.to_char(s.first_seen, 'YYYY-MM-DD HH24:MI:SS TZ'),
						 s.runs, s.busy,
						 pg_catalog.to_char(s.last_seen, 'YYYY-MM-DD HH24:MI:SS TZ'))
  FROM cron_lock.stray_instances s;
GRANT SELECT ON cron_lock.anomalies TO cron_lock_user, cron_lock_admin;
