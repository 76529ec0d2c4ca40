-- Helpers for the regression files that follow (they share one database).
-- error_of runs a statement and shows "SQLSTATE: message", or "ok".
CREATE FUNCTION error_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- Row counts of every table, to show that bad input changes nothing (busy
-- answers: raw, or folded into counters by cron_lock.sweep()).
CREATE FUNCTION row_counts() RETURNS text LANGUAGE sql AS $$
	SELECT format('leases=%s runs=%s contention=%s anomalies=%s',
		(SELECT count(*) FROM cron_lock.leases),
		(SELECT count(*) FROM cron_lock.job_runs),
		(SELECT count(*) FROM cron_lock.contention)
			+ (SELECT coalesce(sum(busy), 0) FROM cron_lock.contention_hourly),
		(SELECT count(*) FROM cron_lock.anomaly_log))
$$;

SELECT extname, extversion, extrelocatable FROM pg_extension WHERE extname = 'cron_lock';
SELECT n.nspname, p.proname, p.prosecdef, p.proconfig
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proname LIKE 'cron_lock%'
 ORDER BY p.proname;
