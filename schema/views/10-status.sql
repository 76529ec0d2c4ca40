CREATE OR REPLACE VIEW cron_lock.status AS
SELECT l.job,
	   CASE WHEN NOT l.held THEN 'free'
			WHEN l.expires_at > pg_catalog.clock_timestamp() THEN 'held'
			ELSE 'expired' END AS state,
	   CASE WHEN l.held THEN l.instance END AS holder,
	   l.token,
	   l.run_id,
	   l.backend_pid,
	   cron_lock.backend_alive(l.backend_pid, l.backend_start) AS backend_alive,
	   l.acquired_at,
	   l.heartbeat_at,
	   l.expires_at
  FROM cron_lock.leases l;
GRANT SELECT ON cron_lock.status TO cron_lock_user, cron_lock_admin;
