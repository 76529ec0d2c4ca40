-- Jobs whose contention evidence within since (raw answers, and hourly
-- counters last seen within it) involves two different instances: the
-- proof (or disproof) that duplicate runners exist.  expected_ids and
-- unexpected_ids split instance_ids by the instances an administrator
-- declared for the job (cron_lock_expect_instances); both NULL when none
-- are declared.  1.2 added those two columns: the function is dropped and
-- created again, since a function's result type cannot be changed in place.
DROP FUNCTION IF EXISTS @extschema@.cron_lock_duplicates(interval);
CREATE FUNCTION @extschema@.cron_lock_duplicates(since interval DEFAULT '1 day')
RETURNS TABLE (job text, instances integer, instance_ids text[], busy_answers bigint,
			   first_seen timestamptz, last_seen timestamptz,
			   expected_ids text[], unexpected_ids text[])
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	cutoff timestamptz;
BEGIN
	IF since IS NULL THEN
		RAISE EXCEPTION 'since must not be null' USING ERRCODE = '22004';
	END IF;
	IF since <= interval '0' THEN
		RAISE EXCEPTION 'since must be greater than zero' USING ERRCODE = '22023';
	END IF;
	cutoff := clock_timestamp() - since;
	RETURN QUERY
	WITH e AS (
		SELECT c.job, c.instance, c.holder, 1::bigint AS busy, c.at AS first_at, c.at AS last_at
		  FROM ONLY cron_lock.contention c
		 WHERE c.at >= cutoff
		   AND c.holder IS NOT NULL
		   AND c.holder <> c.instance
		UNION ALL
		SELECT h.job, h.instance, h.holder, h.busy, h.first_seen, h.last_seen
		  FROM ONLY cron_lock.contention_hourly h
		 WHERE h.last_seen >= cutoff
		   AND h.holder IS NOT NULL
		   AND h.holder <> h.instance
	), declared AS (
		SELECT x.job, array_agg(x.instance) AS ids
		  FROM ONLY cron_lock.expected_instances x
		 GROUP BY x.job
	), who AS (
		SELECT e.job, e.instance AS id FROM e
		UNION
		SELECT e.job, e.holder FROM e
	), d AS (
		SELECT e.job,
			   (SELECT count(*)::integer FROM who w WHERE w.job = e.job) AS instances,
			   (SELECT array_agg(w.id ORDER BY w.id) FROM who w WHERE w.job = e.job) AS ids,
			   sum(e.busy)::bigint AS busy,
			   min(e.first_at) AS first_at,
			   max(e.last_at) AS last_at,
			   coalesce((SELECT x.ids FROM declared x WHERE x.job = e.job),
						(SELECT x.ids FROM declared x WHERE x.job IS NULL)) AS expected
		  FROM e
		 GROUP BY e.job
	)
	SELECT d.job, d.instances, d.ids, d.busy, d.first_at, d.last_at,
		   CASE WHEN d.expected IS NOT NULL
				THEN coalesce((SELECT array_agg(i ORDER BY i) FROM unnest(d.ids) i WHERE i = ANY (d.expected)), '{}') END,
		   CASE WHEN d.expected IS NOT NULL
				THEN coalesce((SELECT array_agg(i ORDER BY i) FROM unnest(d.ids) i WHERE i <> ALL (d.expected)), '{}') END
	  FROM d
	 ORDER BY d.job;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.cron_lock_duplicates(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.cron_lock_duplicates(interval) TO cron_lock_user, cron_lock_admin;
