-- cron_lock.prune_history(cutoff, batch): deletes anomalies detected and
-- finished runs ended before cutoff, at most batch of each (NULL: all);
-- returns the rows deleted.  Never a running run or the run of a lease,
-- never a run that a kept anomaly refers to, and never a run that a kept
-- run's taken_over_by points to, however that run came to be kept
-- (references between runs stay valid).  Used by cron_lock_prune and by
-- cron_lock.sweep() (run retention); nobody else may execute it.
CREATE OR REPLACE FUNCTION cron_lock.prune_history(cutoff timestamptz, batch integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	n bigint;
	total bigint := 0;
BEGIN
	DELETE FROM ONLY cron_lock.anomaly_log a
	 WHERE a.ctid IN (SELECT o.ctid FROM ONLY cron_lock.anomaly_log o
					   WHERE o.detected_at < cutoff LIMIT batch);
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;

	-- Old enough runs (the oldest first), less every run a kept run leads
	-- to through taken_over_by (a chain of takeovers is kept from its first
	-- kept run on).
	WITH RECURSIVE old AS (
		SELECT r.run_id
		  FROM ONLY cron_lock.job_runs r
		 WHERE r.status <> 'running'
		   AND r.finished_at < cutoff
		   AND NOT EXISTS (SELECT FROM ONLY cron_lock.leases l WHERE l.run_id = r.run_id)
		   AND NOT EXISTS (SELECT FROM ONLY cron_lock.anomaly_log a WHERE a.run_id = r.run_id)
		 ORDER BY r.run_id
		 LIMIT batch
	), referenced (run_id) AS (
		SELECT k.taken_over_by
		  FROM ONLY cron_lock.job_runs k
		 WHERE k.taken_over_by IS NOT NULL
		   AND NOT EXISTS (SELECT FROM old WHERE old.run_id = k.run_id)
		UNION
		SELECT r.taken_over_by
		  FROM referenced f JOIN ONLY cron_lock.job_runs r ON r.run_id = f.run_id
		 WHERE r.taken_over_by IS NOT NULL
	)
	DELETE FROM ONLY cron_lock.job_runs r
	 USING old
	 WHERE r.run_id = old.run_id
	   AND NOT EXISTS (SELECT FROM referenced f WHERE f.run_id = r.run_id);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN total + n;
END
$$;
REVOKE ALL ON FUNCTION cron_lock.prune_history(timestamptz, integer) FROM PUBLIC;
