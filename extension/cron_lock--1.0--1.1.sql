/* extension/cron_lock--1.0--1.1.sql: from 1.0 to 1.1.  A fresh install of
 * 1.1 runs cron_lock--1.0.sql and then this script, so both paths give the
 * same objects (test/server/upgrade_harness.sh checks it). */

\echo Use "ALTER EXTENSION cron_lock UPDATE TO '1.1'" to load this file. \quit

-- Issue 13 (extension core): every SECURITY DEFINER function pins its
-- search_path, pg_temp last, so that nothing a caller puts in its own path
-- or in pg_temp is found by the statements the functions run as the
-- extension's owner.  The C functions now reach the tables only through SQL
-- statements (SPI), which resolve names under this path.  cron_lock_prune
-- and cron_lock_duplicates carried it since 1.0.
ALTER FUNCTION @extschema@.cron_lock_try(text, text, interval, uuid, interval)
	SET search_path = pg_catalog, cron_lock, pg_temp;
ALTER FUNCTION @extschema@.cron_lock_heartbeat(text, bigint, interval)
	SET search_path = pg_catalog, cron_lock, pg_temp;
ALTER FUNCTION @extschema@.cron_lock_release(text, bigint, text, text)
	SET search_path = pg_catalog, cron_lock, pg_temp;
ALTER FUNCTION @extschema@.cron_lock_check(text, bigint)
	SET search_path = pg_catalog, cron_lock, pg_temp;
ALTER FUNCTION @extschema@.cron_lock_force_release(text, bigint)
	SET search_path = pg_catalog, cron_lock, pg_temp;

-- ===== issue 13 (ext-fixes): token epoch, lease authority, prune =====

-- The token epoch (token.c): the floor of every new token, (epoch << 32) + 1,
-- derived from the (system identifier, WAL timeline) pair recorded here, so
-- that a promotion, pg_upgrade or dump/restore never reissues a token.  One
-- row, written by the C functions when the pair changes; none until the
-- first acquisition.  Kept by pg_dump with the leases.
CREATE TABLE cron_lock.token_epoch (
	id                boolean PRIMARY KEY DEFAULT true CHECK (id),
	system_identifier bigint NOT NULL,   -- pg_control_system().system_identifier
	timeline          integer NOT NULL,  -- WAL timeline the epoch was recorded on
	epoch             bigint NOT NULL,
	recorded_at       timestamptz NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('cron_lock.token_epoch', '');
GRANT SELECT ON cron_lock.token_epoch TO cron_lock_admin;

-- The role that took a lease (the session's role, SET ROLE included):
-- heartbeat, release and check act only for it, its members and
-- cron_lock_admin.  NULL for leases and runs taken before 1.1, which keep
-- the 1.0 rule until they end.  A name, not an OID, so that it survives
-- dump/restore into a cluster whose roles have other OIDs.
ALTER TABLE cron_lock.leases ADD COLUMN role text;
ALTER TABLE cron_lock.job_runs ADD COLUMN role text;

-- With a FOR ALL TABLES publication, DELETE needs a replica identity: the
-- event tables have no key, and only cron_lock_prune deletes from them.
ALTER TABLE cron_lock.contention REPLICA IDENTITY FULL;
ALTER TABLE cron_lock.anomaly_log REPLICA IDENTITY FULL;

-- Deletes finished runs and events older than keep; returns the rows deleted.
-- Never a running run or the run of a lease, never a run that a kept
-- anomaly refers to, and never a run that a kept run's taken_over_by points
-- to, however that run came to be kept (references between runs stay valid).
CREATE OR REPLACE FUNCTION @extschema@.cron_lock_prune(keep interval DEFAULT '30 days')
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
