-- cron_lock.health: per job (with a lease or a row in cron_lock.jobs), its
-- expectation, its latest runs and a state, the first that applies:
--   paused   a pause is in force (cron_lock_pause);
--   late     it has an expectation and missed a start (cron_lock.missed_start);
--   failing  a run failed or expired since its latest success;
--   running  a run holds its lease;
--   ok       it has an expectation and none of the above;
--   unknown  it has no expectation (not a failure).
-- late_after is the one in force (the default is half the period, at most
-- 10 minutes); last_status and last_duration are those of the latest
-- finished run; last_success is when the latest successful run finished.
-- expected_instances: those declared for the job (cron_lock_expect_instances;
-- else those declared for every job); stray_instances: the others seen on
-- it since (cron_lock.stray_instances).
CREATE OR REPLACE VIEW cron_lock.health AS
SELECT n.job,
	   j.every,
	   j.schedule,
	   j.timezone,
	   cron_lock.late_after(j.every, j.schedule, j.timezone, j.late_after, c.now) AS late_after,
	   j.expectation_source,
	   last.started_at AS last_start,
	   ok.finished_at AS last_success,
	   fin.status AS last_status,
	   fin.finished_at - fin.started_at AS last_duration,
	   fails.n AS consecutive_failures,
	   CASE WHEN j.paused_until > c.now THEN j.paused_until END AS paused_until,
	   CASE WHEN j.paused_until > c.now THEN 'paused'
			WHEN cron_lock.missed_start(j.every, j.schedule, j.timezone, j.late_after,
										j.expectation_at, last.started_at, c.now) IS NOT NULL THEN 'late'
			WHEN fails.n > 0 THEN 'failing'
			WHEN l.held THEN 'running'
			WHEN j.every IS NOT NULL OR j.schedule IS NOT NULL THEN 'ok'
			ELSE 'unknown' END AS state,
	   coalesce((SELECT pg_catalog.array_agg(x.instance::text ORDER BY x.instance)
				   FROM ONLY cron_lock.expected_instances x WHERE x.job = n.job),
				(SELECT pg_catalog.array_agg(x.instance::text ORDER BY x.instance)
				   FROM ONLY cron_lock.expected_instances x WHERE x.job IS NULL)) AS expected_instances,
	   (SELECT pg_catalog.array_agg(s.instance::text ORDER BY s.instance)
		  FROM cron_lock.stray_instances s WHERE s.job = n.job) AS stray_instances
  FROM (SELECT l.job FROM ONLY cron_lock.leases l UNION SELECT j.job FROM ONLY cron_lock.jobs j) n
 CROSS JOIN (SELECT pg_catalog.clock_timestamp() AS now) c
  LEFT JOIN ONLY cron_lock.jobs j ON j.job = n.job
  LEFT JOIN ONLY cron_lock.leases l ON l.job = n.job
  LEFT JOIN LATERAL (SELECT r.started_at FROM ONLY cron_lock.job_runs r
					  WHERE r.job = n.job ORDER BY r.token DESC LIMIT 1) last ON true
  LEFT JOIN LATERAL (SELECT r.token, r.finished_at FROM ONLY cron_lock.job_runs r
					  WHERE r.job = n.job AND r.status = 'succeeded'
					  ORDER BY r.token DESC LIMIT 1) ok ON true
  LEFT JOIN LATERAL (SELECT r.status, r.started_at, r.finished_at FROM ONLY cron_lock.job_runs r
					  WHERE r.job = n.job AND r.status <> 'running'
					  ORDER BY r.token DESC LIMIT 1) fin ON true
 CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS n FROM ONLY cron_lock.job_runs r
					  WHERE r.job = n.job AND r.status IN ('failed', 'expired')
						AND r.token > coalesce(ok.token, 0)) fails;
GRANT SELECT ON cron_lock.health TO cron_lock_user, cron_lock_admin;
