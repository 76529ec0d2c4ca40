/* sql-edition/src/60-admin.sql: prune and duplicates, as in the extension
 * (there already PL/pgSQL), and the edition's own version record. */

-- Deletes finished runs and events older than keep; returns the rows deleted.
-- Never a running run or the run of a lease, never a run that a kept
-- anomaly refers to, and never a run that a kept run's taken_over_by points
-- to, however that run came to be kept (references between runs stay valid).
CREATE OR REPLACE FUNCTION cron_lock_prune(keep interval DEFAULT '30 days')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
DECLARE
	cutoff timestamptz;
	n bigint;
	total bigint := 0;
BEGIN
	IF keep IS NULL THEN
		RAISE EXCEPTION 'keep must not be null' USING ERRCODE = '22004';
	END IF;
	IF keep < interval '0' THEN
		RAISE EXCEPTION 'keep must not be negative'
			USING ERRCODE = '22023', HINT = 'Give how much history to keep, for example ''30 days''.';
	END IF;
	PERFORM cron_lock.enter('prune', NULL);
	cutoff := clock_timestamp() - keep;

	DELETE FROM cron_lock.contention c WHERE c.at < cutoff;
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;

	DELETE FROM cron_lock.anomaly_log a WHERE a.detected_at < cutoff;
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;

	-- Old enough runs, less every run a kept run leads to through
	-- taken_over_by (a chain of takeovers is kept from its first kept run on).
	WITH RECURSIVE old AS (
		SELECT r.run_id
		  FROM cron_lock.job_runs r
		 WHERE r.status <> 'running'
		   AND r.finished_at < cutoff
		   AND NOT EXISTS (SELECT FROM cron_lock.leases l WHERE l.run_id = r.run_id)
		   AND NOT EXISTS (SELECT FROM cron_lock.anomaly_log a WHERE a.run_id = r.run_id)
	), referenced (run_id) AS (
		SELECT k.taken_over_by
		  FROM cron_lock.job_runs k
		 WHERE k.taken_over_by IS NOT NULL
		   AND NOT EXISTS (SELECT FROM old WHERE old.run_id = k.run_id)
		UNION
		SELECT r.taken_over_by
		  FROM referenced f JOIN cron_lock.job_runs r ON r.run_id = f.run_id
		 WHERE r.taken_over_by IS NOT NULL
	)
	DELETE FROM cron_lock.job_runs r
	 USING old
	 WHERE r.run_id = old.run_id
	   AND NOT EXISTS (SELECT FROM referenced f WHERE f.run_id = r.run_id);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN total + n;
END
$$;

-- Jobs whose contention events within since involve two different
-- instances: the proof (or disproof) that duplicate runners exist.
CREATE OR REPLACE FUNCTION cron_lock_duplicates(since interval DEFAULT '1 day')
RETURNS TABLE (job text, instances integer, instance_ids text[], busy_answers bigint,
			   first_seen timestamptz, last_seen timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	IF since IS NULL THEN
		RAISE EXCEPTION 'since must not be null' USING ERRCODE = '22004';
	END IF;
	IF since <= interval '0' THEN
		RAISE EXCEPTION 'since must be greater than zero' USING ERRCODE = '22023';
	END IF;
	RETURN QUERY
	WITH e AS (
		SELECT c.job, c.instance, c.holder, c.at
		  FROM cron_lock.contention c
		 WHERE c.at >= clock_timestamp() - since
		   AND c.holder IS NOT NULL
		   AND c.holder <> c.instance
	), who AS (
		SELECT e.job, e.instance AS id FROM e
		UNION
		SELECT e.job, e.holder FROM e
	)
	SELECT e.job,
		   (SELECT count(*)::integer FROM who w WHERE w.job = e.job),
		   (SELECT array_agg(w.id ORDER BY w.id) FROM who w WHERE w.job = e.job),
		   count(*),
		   min(e.at),
		   max(e.at)
	  FROM e
	 GROUP BY e.job
	 ORDER BY e.job;
END
$$;

-- cron_lock.edition(): which edition is installed, its version, and the
-- schema of its functions (cronlock doctor and the installer read it).
DO $do$
BEGIN
	EXECUTE pg_catalog.format($f$
		CREATE OR REPLACE FUNCTION cron_lock.edition(
			OUT edition text, OUT version text, OUT functions_schema name)
		LANGUAGE sql IMMUTABLE
		AS $b$SELECT %L::text, %L::text, %L::name$b$$f$,
		'sql', '@VERSION@', pg_catalog.current_schema());
END
$do$;
