-- The storm's history, checked.  Every query prints a count that must be 0,
-- except the last, which shows that the storm exercised every path.
\pset footer off
-- Tokens unique and strictly increasing in start order, per job.
SELECT 'tokens_out_of_order', count(*) FROM (
	SELECT token <= lag(token) OVER w AS bad FROM cron_lock.job_runs
	 WHERE job LIKE 'storm.%' WINDOW w AS (PARTITION BY job ORDER BY started_at, token)) s
 WHERE bad;
-- No two leases of a job overlap: each run starts after the previous one's
-- lease ended (released: finished_at; taken over: its last expiry).
SELECT 'overlapping_leases', count(*) FROM (
	SELECT started_at < lag(CASE WHEN status = 'expired' THEN expires_at ELSE finished_at END) OVER w AS bad
	  FROM cron_lock.job_runs
	 WHERE job LIKE 'storm.%' WINDOW w AS (PARTITION BY job ORDER BY token)) s
 WHERE bad;
-- Every accepted write happened before any later token was issued.
SELECT 'stale_writes_accepted', count(*) FROM storm_writes w
 WHERE EXISTS (SELECT FROM cron_lock.job_runs r
				WHERE r.job = w.job AND r.token > w.token AND r.started_at <= w.at);
-- Accepted writes never go back in token order.
SELECT 'writes_out_of_order', count(*) FROM (
	SELECT token < lag(token) OVER (PARTITION BY job ORDER BY at) AS bad FROM storm_writes) s
 WHERE bad;
-- No run left running after it was taken over; at most the lease's own run runs.
SELECT 'taken_over_still_running', count(*) FROM cron_lock.job_runs
 WHERE job LIKE 'storm.%' AND taken_over_by IS NOT NULL AND status <> 'expired';
SELECT 'stray_running_runs', count(*) FROM cron_lock.job_runs r
 WHERE job LIKE 'storm.%' AND status = 'running'
   AND r.run_id <> (SELECT l.run_id FROM cron_lock.leases l WHERE l.job = r.job);
-- Coverage: acquisitions, takeovers, busy answers, accepted and rejected writes.
SELECT 'coverage', (SELECT count(*) FROM cron_lock.job_runs WHERE job LIKE 'storm.%') AS runs,
	   (SELECT count(*) FROM cron_lock.job_runs WHERE job LIKE 'storm.%' AND status = 'expired') AS takeovers,
	   (SELECT count(*) FROM cron_lock.contention WHERE job LIKE 'storm.%')
		+ (SELECT coalesce(sum(busy), 0) FROM cron_lock.contention_hourly WHERE job LIKE 'storm.%') AS busy,
	   (SELECT count(*) FROM storm_writes) AS writes,
	   (SELECT count(*) FROM storm_rejects) AS rejected;
