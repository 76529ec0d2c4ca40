/* sql-edition/src/30-views.sql: the views, as the extension defines them. */

-- status and anomalies: schema/views/ (shared with the extension).

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
