-- Per (job, instance): every acquisition and every busy answer kept, raw
-- or folded into hourly counters.
CREATE OR REPLACE VIEW cron_lock.sightings AS
WITH seen AS (
	SELECT r.job, r.instance, r.started_at AS first_at, r.started_at AS at, 1::bigint AS acquired,
		   0::bigint AS busy, r.backend_pid, r.client_addr
	  FROM ONLY cron_lock.job_runs r
	UNION ALL
	SELECT c.job, c.instance, c.at, c.at, 0, 1, c.backend_pid, c.client_addr
	  FROM ONLY cron_lock.contention c
	UNION ALL
	SELECT h.job, h.instance, h.first_seen, h.last_seen, 0, h.busy, h.last_backend_pid, h.last_client_addr
	  FROM ONLY cron_lock.contention_hourly h
)
SELECT s.job, s.instance,
	   pg_catalog.min(s.first_at) AS first_seen,
	   pg_catalog.max(s.at) AS last_seen,
	   pg_catalog.sum(s.acquired + s.busy)::bigint AS attempts,
	   pg_catalog.sum(s.acquired)::bigint AS acquired,
	   pg_catalog.sum(s.busy)::bigint AS busy,
	   (pg_catalog.array_agg(s.backend_pid ORDER BY s.at DESC))[1] AS last_backend_pid,
	   (pg_catalog.array_agg(s.client_addr ORDER BY s.at DESC))[1] AS last_client_addr
  FROM seen s
 GROUP BY s.job, s.instance;
GRANT SELECT ON cron_lock.sightings TO cron_lock_user, cron_lock_admin;
