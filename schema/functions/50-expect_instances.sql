-- cron_lock_expect_instances(instances, job): the instances expected to
-- run job (NULL job: every job without a declaration of its own); NULL or
-- an empty array clears the declaration.  Administrators only, so a host
-- that runs jobs cannot declare itself.  Any other instance then seen on
-- the job is a stray (cron_lock.stray_instances, anomaly stray_instance).
CREATE OR REPLACE FUNCTION @extschema@.cron_lock_expect_instances(instances text[], job text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
DECLARE
	p_job text := job;
	i text;
	now_ts timestamptz := clock_timestamp();
BEGIN
	IF p_job = '' THEN
		RAISE EXCEPTION 'job must not be empty' USING ERRCODE = '22023',
			HINT = 'Pass NULL for every job.';
	END IF;
	IF pg_catalog.array_ndims(instances) > 1 THEN
		RAISE EXCEPTION 'instances must be a one-dimensional array' USING ERRCODE = '22023';
	END IF;
	-- Names are compared byte for byte; one no runner could use matches nothing.
	FOREACH i IN ARRAY coalesce(instances, '{}') LOOP
		IF i IS NULL OR i = '' THEN
			RAISE EXCEPTION 'instances must not contain NULL or empty names' USING ERRCODE = '22023';
		END IF;
	END LOOP;
	IF pg_is_in_recovery() OR current_setting('transaction_read_only')::boolean THEN
		RAISE EXCEPTION 'cannot declare expected instances in a read-only transaction'
			USING ERRCODE = '25006', HINT = 'Connect to the primary, outside a READ ONLY transaction.';
	END IF;
	PERFORM cron_lock.refuse_foreign_objects();
	DELETE FROM ONLY cron_lock.expected_instances x WHERE x.job IS NOT DISTINCT FROM p_job;
	INSERT INTO cron_lock.expected_instances (job, instance, declared_at, declared_by)
	SELECT DISTINCT p_job, u.i, now_ts, session_user
	  FROM unnest(instances) AS u(i);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.cron_lock_expect_instances(text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.cron_lock_expect_instances(text[], text) TO cron_lock_admin;

-- cron_lock_stray(job, run_id): when run_id is the first run (the earliest
-- start) of its instance on job since the instances expected there were
-- declared, and that instance is not among them, a sentence saying so (the
-- runner's stray_instance alert, once per stray instance and declaration); NULL
-- otherwise, and for a run that is not job's.  It only reads: a runner
-- calls it once it holds the lease.
CREATE OR REPLACE FUNCTION @extschema@.cron_lock_stray(job text, run_id bigint)
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
	-- The run by its key, whatever the statistics say: searched by the job's
	-- name instead (job_runs_job_token_key), it would read the job's history.
	WITH r AS MATERIALIZED (SELECT * FROM ONLY cron_lock.job_runs WHERE run_id = $2)
	SELECT pg_catalog.format('Instance "%s" is not among the instances expected to run job "%s" (%s); this is its first run of the job since they were declared at %s. Stop cron_lock for this job on that host, or add the instance with cron_lock_expect_instances.',
							 r.instance, r.job, pg_catalog.array_to_string(e.ids, ', '),
							 pg_catalog.to_char(e.declared_at, 'YYYY-MM-DD HH24:MI:SS TZ'))
	  FROM r
	 CROSS JOIN LATERAL (
		-- The job's own declaration wins over the one for every job.
		SELECT pg_catalog.min(x.declared_at) AS declared_at,
			   pg_catalog.array_agg(x.instance ORDER BY x.instance) AS ids
		  FROM ONLY cron_lock.expected_instances x
		 WHERE x.job = r.job
			OR (x.job IS NULL AND NOT EXISTS (SELECT FROM ONLY cron_lock.expected_instances y
											   WHERE y.job = r.job))) e
	 WHERE r.job = $1
	   AND r.started_at >= e.declared_at
	   AND r.instance <> ALL (e.ids)
	   -- The instance's earliest start on the job since then: one probe of
	   -- job_runs_job_instance_started_idx, however long the history.
	   AND r.started_at = (SELECT pg_catalog.min(o.started_at) FROM ONLY cron_lock.job_runs o
							WHERE o.job = r.job AND o.instance = r.instance
							  AND o.started_at >= e.declared_at)
$$;
REVOKE ALL ON FUNCTION @extschema@.cron_lock_stray(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.cron_lock_stray(text, bigint) TO cron_lock_user, cron_lock_admin;
