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
	DELETE FROM cron_lock.expected_instances x WHERE x.job IS NOT DISTINCT FROM p_job;
	INSERT INTO cron_lock.expected_instances (job, instance, declared_at, declared_by)
	SELECT DISTINCT p_job, u.i, now_ts, session_user
	  FROM unnest(instances) AS u(i);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.cron_lock_expect_instances(text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.cron_lock_expect_instances(text[], text) TO cron_lock_admin;
