-- cron_lock.sweep(batch, run_chance): the chores, in small batches, on ordinary calls
-- (one cron_lock_release in 8 runs it): folds up to batch raw busy answers of
-- cron_lock.contention into the counters of cron_lock.contention_hourly,
-- then deletes up to batch counters older than the contention retention
-- (default 30 days) and, when an administrator set a run retention, on
-- that chance (one sweep in 16: finding the runs that may go reads the
-- whole history) up to batch old anomalies and runs.  Returns the rows it folded or
-- deleted; nothing above READ COMMITTED.  Never waits: one sweep at a time (the others return 0 at once),
-- and raw rows another transaction has locked are left for later.  Runs as
-- the caller (the API functions' owner); nobody else may execute it.
CREATE OR REPLACE FUNCTION cron_lock.sweep(batch integer DEFAULT 2000, run_chance float8 DEFAULT 0.0625)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	n bigint;
	total bigint := 0;
	keep interval;
	cutoff timestamptz;
	tids tid[];
	oldest timestamptz;
BEGIN
	-- Under a transaction snapshot, rows another sweep folded after it was
	-- taken would fail the caller's acquisition or renewal with 40001: the
	-- next call at READ COMMITTED folds them instead.
	IF pg_catalog.current_setting('transaction_isolation') <> 'read committed'
		OR NOT cron_lock.lock_chores(false) THEN
		RETURN 0;
	END IF;

	-- Fold: the raw rows leave contention and land in their hour's counter
	-- (the last backend and address of the latest answer are kept).  The
	-- batch is locked first, so that with none the big statement below is
	-- not run (its executor start alone costs more than the rest).
	SELECT pg_catalog.array_agg(r.ctid) INTO tids
	  FROM (SELECT r.ctid FROM ONLY cron_lock.contention r
			 LIMIT batch FOR UPDATE SKIP LOCKED) r;
	IF tids IS NOT NULL THEN
		WITH raw AS (
			DELETE FROM ONLY cron_lock.contention c
			 WHERE c.ctid = ANY (tids)
			RETURNING c.job, c.instance, c.holder, c.reason, c.at, c.backend_pid, c.client_addr
		), agg AS (
			SELECT r.job, r.instance, r.holder, r.reason,
				   pg_catalog.date_trunc('hour', r.at, 'UTC') AS hour,
				   pg_catalog.count(*) AS busy,
				   pg_catalog.min(r.at) AS first_seen,
				   pg_catalog.max(r.at) AS last_seen,
				   (pg_catalog.array_agg(r.backend_pid ORDER BY r.at DESC))[1] AS pid,
				   (pg_catalog.array_agg(r.client_addr ORDER BY r.at DESC))[1] AS addr
			  FROM raw r
			 GROUP BY 1, 2, 3, 4, 5
		), bumped AS (
			UPDATE ONLY cron_lock.contention_hourly h
			   SET busy = h.busy + a.busy,
				   first_seen = LEAST(h.first_seen, a.first_seen),
				   last_seen = GREATEST(h.last_seen, a.last_seen),
				   last_backend_pid = CASE WHEN a.last_seen >= h.last_seen THEN a.pid ELSE h.last_backend_pid END,
				   last_client_addr = CASE WHEN a.last_seen >= h.last_seen THEN a.addr ELSE h.last_client_addr END
			  FROM agg a
			 WHERE h.hour = a.hour AND h.job = a.job AND h.instance = a.instance
			   AND h.reason = a.reason AND h.holder IS NOT DISTINCT FROM a.holder
			RETURNING h.job, h.instance, h.holder, h.reason, h.hour
		), added AS (
			INSERT INTO cron_lock.contention_hourly (job, instance, holder, reason, hour, busy,
													 first_seen, last_seen, last_backend_pid, last_client_addr)
			SELECT a.job, a.instance, a.holder, a.reason, a.hour, a.busy, a.first_seen, a.last_seen, a.pid, a.addr
			  FROM agg a
			 WHERE NOT EXISTS (SELECT FROM bumped b
								WHERE b.hour = a.hour AND b.job = a.job AND b.instance = a.instance
								  AND b.reason = a.reason AND b.holder IS NOT DISTINCT FROM a.holder)
			RETURNING 1
		)
		SELECT pg_catalog.count(*) INTO n FROM raw;
		total := total + n;
	END IF;

	-- Contention retention.
	keep := coalesce((SELECT s.value FROM ONLY cron_lock.settings s WHERE s.name = 'contention_retention'),
					 interval '30 days');
	cutoff := pg_catalog.clock_timestamp() - keep;
	-- The oldest hour from the index: nothing older than the cutoff, nothing
	-- to delete, without reading the table.
	oldest := (SELECT pg_catalog.min(o.hour) FROM ONLY cron_lock.contention_hourly o);
	IF oldest < cutoff THEN
		DELETE FROM ONLY cron_lock.contention_hourly h
		 WHERE h.ctid IN (SELECT o.ctid FROM ONLY cron_lock.contention_hourly o
						   WHERE o.hour < cutoff AND o.last_seen < cutoff
						   LIMIT batch FOR UPDATE SKIP LOCKED);
		GET DIAGNOSTICS n = ROW_COUNT;
		total := total + n;
	END IF;

	-- Run retention, only when set.
	keep := (SELECT s.value FROM ONLY cron_lock.settings s WHERE s.name = 'run_retention');
	IF keep IS NOT NULL AND pg_catalog.random() < run_chance THEN
		total := total + cron_lock.prune_history(pg_catalog.clock_timestamp() - keep, batch);
	END IF;
	RETURN total;
END
$$;
REVOKE ALL ON FUNCTION cron_lock.sweep(integer, float8) FROM PUBLIC;
REVOKE ALL ON FUNCTION cron_lock.lock_chores(boolean) FROM PUBLIC;
