/* sql-edition/src/30-views.sql: the views, as the extension defines them. */

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

-- An overlong run: still held more than one ttl (the last renewal's) past
-- its expiry, with nobody taking over.
CREATE OR REPLACE VIEW cron_lock.anomalies AS
SELECT a.kind, a.job, a.run_id, a.instance, a.detected_at, a.detail
  FROM cron_lock.anomaly_log a
UNION ALL
SELECT 'overlong_run', l.job, l.run_id, l.instance,
	   l.expires_at + (l.expires_at - l.heartbeat_at),
	   pg_catalog.format('Run %s of job "%s" by instance "%s" (backend pid %s) is still marked running %s after its lease expired and nobody has taken it over. Check whether that runner is stuck; if it is gone, free the job with cron_lock_force_release(%L, %s).',
						 l.run_id, l.job, l.instance,
						 coalesce(l.backend_pid::text, 'unknown'),
						 pg_catalog.date_trunc('second', pg_catalog.clock_timestamp() - l.expires_at),
						 l.job, l.token)
  FROM cron_lock.leases l
 WHERE l.held
   AND l.expires_at + (l.expires_at - l.heartbeat_at) < pg_catalog.clock_timestamp();

-- Per (job, instance): every acquisition and every busy answer kept.
CREATE OR REPLACE VIEW cron_lock.sightings AS
WITH seen AS (
	SELECT r.job, r.instance, r.started_at AS at, 1 AS acquired, 0 AS busy,
		   r.backend_pid, r.client_addr
	  FROM cron_lock.job_runs r
	UNION ALL
	SELECT c.job, c.instance, c.at, 0, 1, c.backend_pid, c.client_addr
	  FROM cron_lock.contention c
)
SELECT s.job, s.instance,
	   pg_catalog.min(s.at) AS first_seen,
	   pg_catalog.max(s.at) AS last_seen,
	   pg_catalog.count(*) AS attempts,
	   pg_catalog.sum(s.acquired) AS acquired,
	   pg_catalog.sum(s.busy) AS busy,
	   (pg_catalog.array_agg(s.backend_pid ORDER BY s.at DESC))[1] AS last_backend_pid,
	   (pg_catalog.array_agg(s.client_addr ORDER BY s.at DESC))[1] AS last_client_addr
  FROM seen s
 GROUP BY s.job, s.instance;
