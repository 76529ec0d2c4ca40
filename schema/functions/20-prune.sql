-- Deletes contention evidence (raw and folded), anomalies and finished runs
-- older than keep; returns the rows deleted (cron_lock.prune_history says
-- which runs are kept).  Waits at most 5 s for a lock (lock_timeout, as
-- cron_lock_pause), then fails with 55P03: a sweep or prune in another
-- session's open transaction holds the chores lock until that ends.
CREATE OR REPLACE FUNCTION @extschema@.cron_lock_prune(keep interval DEFAULT '30 days')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
SET lock_timeout = '5s'
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
	-- The same refusal, words and hint as the C functions' RequireWritable.
	IF pg_is_in_recovery() THEN
		RAISE EXCEPTION 'cannot prune the history on a standby'
			USING ERRCODE = '25006',
				  DETAIL = 'The server is in recovery; leases change only on the primary.',
				  HINT = 'Connect to the primary, for example with target_session_attrs=read-write.';
	END IF;
	IF current_setting('transaction_read_only')::boolean THEN
		RAISE EXCEPTION 'cannot prune the history in a read-only transaction'
			USING ERRCODE = '25006', HINT = 'Call it outside a READ ONLY transaction.';
	END IF;
	PERFORM cron_lock.refuse_foreign_objects();
	cutoff := clock_timestamp() - keep;
	-- The sweep's lock: no sweep folds into a counter deleted here.
	PERFORM cron_lock.lock_chores(true);

	DELETE FROM ONLY cron_lock.contention c WHERE c.at < cutoff;
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;

	DELETE FROM ONLY cron_lock.contention_hourly h WHERE h.last_seen < cutoff;
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;

	RETURN total + cron_lock.prune_history(cutoff, NULL);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.cron_lock_prune(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.cron_lock_prune(interval) TO cron_lock_admin;
