-- cron_lock_retention(contention, runs): how long evidence is kept,
-- enforced by cron_lock.sweep() in small batches on ordinary calls.
-- contention: busy answers (default 30 days); runs: finished runs and
-- anomalies (NULL: kept until the operator prunes them).
CREATE OR REPLACE FUNCTION @extschema@.cron_lock_retention(
	contention interval DEFAULT '30 days', runs interval DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
BEGIN
	IF contention IS NULL THEN
		RAISE EXCEPTION 'contention must not be null' USING ERRCODE = '22004',
			HINT = 'Give how long to keep busy answers, for example ''30 days''.';
	END IF;
	IF contention <= interval '0' OR runs <= interval '0' THEN
		RAISE EXCEPTION 'a retention must be greater than zero' USING ERRCODE = '22023';
	END IF;
	IF pg_is_in_recovery() OR current_setting('transaction_read_only')::boolean THEN
		RAISE EXCEPTION 'cannot change the retention in a read-only transaction'
			USING ERRCODE = '25006', HINT = 'Connect to the primary, outside a READ ONLY transaction.';
	END IF;
	PERFORM cron_lock.refuse_foreign_objects();
	DELETE FROM ONLY cron_lock.settings s WHERE s.name IN ('contention_retention', 'run_retention');
	INSERT INTO cron_lock.settings (name, value)
	VALUES ('contention_retention', contention), ('run_retention', runs);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.cron_lock_retention(interval, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.cron_lock_retention(interval, interval) TO cron_lock_admin;
