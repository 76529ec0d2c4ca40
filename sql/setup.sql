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

-- held_declare: declare as a run does (cron_lock_declare), holding the
-- job's lease (only the holder may), then release it (expect, health).
CREATE FUNCTION held_declare(job text, instance text, every interval, schedule text,
	late_after interval, timezone text, warn integer DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $f$
DECLARE
	r record;
BEGIN
	SELECT * INTO r FROM cron_lock_try(job, instance, '1 hour');
	IF NOT r.acquired THEN
		RAISE EXCEPTION 'held_declare: % is %', job, r.reason;
	END IF;
	PERFORM cron_lock_declare(job, instance, every, schedule, late_after, timezone, warn);
	PERFORM cron_lock_release(job, r.token);
END
$f$;

SELECT extname, extversion, extrelocatable FROM pg_extension WHERE extname = 'cron_lock';
SELECT n.nspname, p.proname, p.prosecdef, p.proconfig
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proname LIKE 'cron_lock%'
 ORDER BY p.proname;
