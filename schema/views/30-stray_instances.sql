-- Per (job, instance): an instance seen on a job (a run or a busy answer)
-- since an administrator declared the instances expected there
-- (cron_lock_expect_instances), and not among them.  A job's own
-- declaration wins over the one for every job.
CREATE OR REPLACE VIEW cron_lock.stray_instances AS
WITH declared AS (
	SELECT x.job, pg_catalog.min(x.declared_at) AS declared_at, pg_catalog.array_agg(x.instance) AS ids
	  FROM ONLY cron_lock.expected_instances x
	 GROUP BY x.job
), expected AS (
	SELECT l.job, coalesce(d.declared_at, g.declared_at) AS declared_at, coalesce(d.ids, g.ids) AS ids
	  FROM ONLY cron_lock.leases l
	  LEFT JOIN declared d ON d.job = l.job
	  LEFT JOIN declared g ON g.job IS NULL
	 WHERE d.job IS NOT NULL OR g.declared_at IS NOT NULL
), seen AS (
	SELECT r.job, r.instance, r.started_at AS first_at, r.started_at AS at, 1::bigint AS runs,
		   0::bigint AS busy, r.run_id
	  FROM ONLY cron_lock.job_runs r
	UNION ALL
	SELECT c.job, c.instance, c.at, c.at, 0, 1, NULL::bigint
	  FROM ONLY cron_lock.contention c
	UNION ALL
	SELECT h.job, h.instance, h.first_seen, h.last_seen, 0, h.busy, NULL::bigint
	  FROM ONLY cron_lock.contention_hourly h
)
SELECT s.job, s.instance,
	   pg_catalog.min(GREATEST(s.first_at, e.declared_at)) AS first_seen,
	   pg_catalog.max(s.at) AS last_seen,
	   pg_catalog.sum(s.runs)::bigint AS runs,
	   pg_catalog.sum(s.busy)::bigint AS busy,
	   pg_catalog.max(s.run_id) AS last_run_id
  FROM seen s JOIN expected e ON e.job = s.job
 WHERE s.at >= e.declared_at
   AND s.instance <> ALL (e.ids)
 GROUP BY s.job, s.instance;
GRANT SELECT ON cron_lock.stray_instances TO cron_lock_user, cron_lock_admin;
