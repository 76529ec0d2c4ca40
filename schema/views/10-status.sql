-- cron_lock.status: the lease of each job.  A free job shows no holder,
-- backend or expiry (only its last token and run); last_success is when its
-- latest successful run finished; paused_until is set while it is paused.
CREATE OR REPLACE VIEW cron_lock.status AS
SELECT l.job,
	   CASE WHEN NOT l.held THEN 'free'
			WHEN l.expires_at > pg_catalog.clock_timestamp() THEN 'held'
			ELSE 'expired' END AS state,
	   CASE WHEN l.held THEN l.instance END AS holder,
	   l.token,
	   l.run_id,
	   CASE WHEN l.held THEN l.backend_pid END AS backend_pid,
	   CASE WHEN l.held THEN cron_lock.backend_alive(l.backend_pid, l.backend_start) END AS backend_alive,
	   l.acquired_at,
	   l.heartbeat_at,
	   CASE WHEN l.held THEN l.expires_at END AS expires_at,
	   (SELECT r.finished_at FROM ONLY cron_lock.job_runs r
		 WHERE r.job = l.job AND r.status = 'succeeded'
		 ORDER BY r.token DESC LIMIT 1) AS last_success,
	   CASE WHEN l.paused_until > pg_catalog.clock_timestamp() THEN l.paused_until END AS paused_until
  FROM ONLY cron_lock.leases l;
GRANT SELECT ON cron_lock.status TO cron_lock_user, cron_lock_admin;
