/* sql-edition/src/50-lease.sql: keep, end and guard a lease (CONTRACT 1.2).
 *
 * Row locks on cron_lock.leases, as in the extension: a token change
 * (cron_lock_try) holds FOR UPDATE, taken with SKIP LOCKED; heartbeat,
 * release and force release hold FOR NO KEY UPDATE; cron_lock_check holds
 * FOR KEY SHARE until the caller's transaction ends, which blocks token
 * changes but lets the holder renew and release.  These may wait, but only
 * behind a deciding cron_lock_try, which never waits itself. */

-- cron_lock_heartbeat(job, token, ttl): the new expiry, or NULL when the
-- token is not current (recorded as lost_heartbeat).  A current token whose
-- lease expired but was not taken over is renewed (late_heartbeat).
CREATE OR REPLACE FUNCTION cron_lock_heartbeat(job text, token bigint, ttl interval)
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	p_job text := cron_lock.arg_name(job, 'job');
	p_token bigint := cron_lock.arg_token(token);
	ttl_usec bigint := cron_lock.arg_ttl(ttl, p_job);
	me text;
	l cron_lock.leases;
	has_lease boolean;
	now_ts timestamptz;
	new_expiry timestamptz;
	run cron_lock.job_runs;
	what text;
BEGIN
	-- cron_lock.enter, written out (a PL/pgSQL call and a PERFORM less).
	IF pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on' THEN
		PERFORM cron_lock.require_writable('renew the lease of', p_job);
	END IF;
	LOCK TABLE @EVERY_CALL_TABLE_LIST@, ONLY cron_lock.jobs IN ROW EXCLUSIVE MODE;
	me := CASE WHEN cron_lock.tables_checked(@OWN_TABLES@) THEN cron_lock.outer_role() END;

	SELECT * INTO l FROM cron_lock.leases WHERE job = p_job FOR NO KEY UPDATE;
	has_lease := FOUND;
	now_ts := clock_timestamp();
	IF has_lease AND l.held AND l.token = p_token THEN
		-- require_authority, called only when the holder is not the caller.
		IF l.role <> me THEN
			PERFORM cron_lock.require_authority('renew the lease of', p_job, l.role);
		END IF;
		IF l.expires_at <= now_ts THEN
			INSERT INTO cron_lock.anomaly_log (kind, job, run_id, instance, detected_at, detail)
			VALUES ('late_heartbeat', p_job, l.run_id, l.instance, now_ts,
					format('Instance "%s" renewed run %s of job "%s" %s s after its lease expired; nobody had taken it over, but a rival could have. Raise the ttl or renew more often.',
						   l.instance, l.run_id, p_job,
						   round(extract(epoch FROM now_ts - l.expires_at), 3)));
		END IF;
		new_expiry := now_ts + ttl_usec * interval '1 microsecond';
		IF current_setting('synchronous_commit') IN ('off', 'local', 'remote_write') THEN
			PERFORM cron_lock.commit_durably();
		END IF;
		UPDATE cron_lock.leases SET heartbeat_at = now_ts, expires_at = new_expiry WHERE job = p_job;
		UPDATE cron_lock.job_runs SET heartbeat_at = now_ts, expires_at = new_expiry
		 WHERE run_id = l.run_id;
		-- A long run renews where nothing is acquired or released.
		IF random() < 0.125 THEN
			PERFORM cron_lock.maybe_sweep();
		END IF;
		RETURN new_expiry;
	END IF;

	SELECT * INTO run FROM cron_lock.job_runs WHERE job = p_job AND token = p_token;
	-- Only the run's taker (else the job's holder) may leave evidence.
	IF run.run_id IS NOT NULL THEN
		PERFORM cron_lock.require_authority('renew the lease of', p_job, run.role);
	ELSIF has_lease THEN
		PERFORM cron_lock.require_authority('renew the lease of', p_job, l.role);
	END IF;
	IF NOT has_lease THEN
		what := 'the job had never been locked';
	ELSIF l.token = p_token THEN
		what := 'its lease had been released or force-released';
	ELSE
		what := format('instance "%s" had taken the lease with token %s', l.instance, l.token);
	END IF;
	INSERT INTO cron_lock.anomaly_log (kind, job, run_id, instance, detected_at, detail)
	VALUES ('lost_heartbeat', p_job, run.run_id, run.instance, now_ts,
			format('A heartbeat from "%s" for job "%s" with token %s arrived after %s. That runner must stop: its work is no longer protected by the lease.',
				   coalesce(run.instance, 'an unknown instance'), p_job, p_token, what));
	RETURN NULL;
END
$$;

-- cron_lock_release(job, token, status, message): true when this token's
-- run is now ended by its holder (also for a retried release), false when
-- it was taken over, force-released, or never existed.  A late report is
-- kept beside the run, once, with a late_release anomaly.
CREATE OR REPLACE FUNCTION cron_lock_release(
	job text, token bigint, status text DEFAULT 'succeeded', message text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	p_job text := cron_lock.arg_name(job, 'job');
	p_token bigint := cron_lock.arg_token(token);
	p_status text := cron_lock.arg_status(status, job);
	p_message text := cron_lock.arg_message(message, job);
	me text;
	ended bigint;
	taker text;
	run cron_lock.job_runs;
	now_ts timestamptz;
BEGIN
	-- cron_lock.enter, written out (a PL/pgSQL call and a PERFORM less).
	IF pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on' THEN
		PERFORM cron_lock.require_writable('release the lease of', p_job);
	END IF;
	LOCK TABLE @EVERY_CALL_TABLE_LIST@, ONLY cron_lock.jobs IN ROW EXCLUSIVE MODE;
	me := CASE WHEN cron_lock.tables_checked(@OWN_TABLES@) THEN cron_lock.outer_role() END;
	IF current_setting('synchronous_commit') IN ('off', 'local', 'remote_write') THEN
		PERFORM cron_lock.commit_durably();
	END IF;

	-- A row that does not match is left alone without waiting; a match is
	-- updated (a no-key update, so a guarded transaction's KEY SHARE lock does
	-- not hold it up), and a version committed meanwhile is checked again.
	UPDATE cron_lock.leases SET held = false, attempt = NULL
	 WHERE job = p_job AND held AND token = p_token
	RETURNING run_id, role INTO ended, taker;
	IF FOUND THEN
		-- Refused: the error undoes the update (checked only when the
		-- holder is not the caller).
		IF taker <> me THEN
			PERFORM cron_lock.require_authority('release', p_job, taker);
		END IF;
		UPDATE cron_lock.job_runs
		   SET status = p_status, message = p_message, finished_at = clock_timestamp(), forced_by = NULL
		 WHERE run_id = ended;
		IF random() < 0.125 THEN
			PERFORM cron_lock.maybe_sweep();
		END IF;
		RETURN true;
	END IF;

	SELECT * INTO run FROM cron_lock.job_runs WHERE job = p_job AND token = p_token;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM cron_lock.require_authority('release', p_job, run.role);
	IF run.forced_by IS NULL AND run.status NOT IN ('expired', 'running') THEN
		RETURN true;  -- a retried release
	END IF;
	IF run.reported_status IS NULL THEN
		now_ts := clock_timestamp();
		UPDATE cron_lock.job_runs
		   SET reported_status = p_status, reported_at = now_ts, message = coalesce(message, p_message)
		 WHERE run_id = run.run_id AND reported_status IS NULL;
		INSERT INTO cron_lock.anomaly_log (kind, job, run_id, instance, detected_at, detail)
		VALUES ('late_release', p_job, run.run_id, run.instance, now_ts,
				format('Instance "%s" reported run %s of job "%s" (token %s) as %s after the run had %s. Work it did after that point was not protected by the lease; check it for overlap with the next run.',
					   run.instance, run.run_id, p_job, p_token, p_status,
					   CASE WHEN run.forced_by IS NOT NULL THEN 'been force-released'
							ELSE 'expired and been taken over' END));
	END IF;
	RETURN false;
END
$$;

-- cron_lock_check(job, token): LK001 unless the token is current and
-- unexpired.  Otherwise the lease row stays locked FOR KEY SHARE until the
-- caller's transaction ends: no takeover can commit before the guarded
-- writes, while the holder's heartbeat and release still go through.
CREATE OR REPLACE FUNCTION cron_lock_check(job text, token bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	p_job text := cron_lock.arg_name(job, 'job');
	p_token bigint := cron_lock.arg_token(token);
	l cron_lock.leases;
	why text;
BEGIN
	PERFORM cron_lock.enter('check the lease of', p_job, true);

	SELECT * INTO l FROM cron_lock.leases WHERE job = p_job FOR KEY SHARE;
	IF FOUND AND l.token = p_token THEN
		PERFORM cron_lock.require_authority('check the lease of', p_job, l.role);
	END IF;
	IF l.job IS NULL THEN
		why := 'The job has never been locked.';
	ELSIF l.token <> p_token THEN
		why := format('The current token is %s, held by instance "%s".', l.token, l.instance);
	ELSIF NOT l.held THEN
		why := 'The lease was released.';
	ELSIF l.expires_at <= clock_timestamp() THEN
		-- In ISO style whatever DateStyle says, as the extension prints it;
		-- the error ends the transaction, and the setting with it.
		PERFORM set_config('datestyle', 'ISO', true);
		why := format('The lease expired at %s.', l.expires_at);
	END IF;
	IF why IS NOT NULL THEN
		RAISE EXCEPTION 'lease of job "%" is not held with token %', p_job, p_token
			USING ERRCODE = 'LK001', DETAIL = why,
				  HINT = 'Stop writing: another runner may own this job now.';
	END IF;
END
$$;

-- cron_lock_force_release(job, token): an administrator frees a lease (only
-- if it still has token, when given).  The run becomes cancelled with the
-- role that forced it; the holder's next heartbeat answers NULL and its
-- release false.
CREATE OR REPLACE FUNCTION cron_lock_force_release(job text, token bigint DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	p_job text := cron_lock.arg_name(job, 'job');
	p_token bigint := token;
	who text;
	l cron_lock.leases;
BEGIN
	who := cron_lock.enter('force-release', p_job);

	SELECT * INTO l FROM cron_lock.leases WHERE job = p_job FOR NO KEY UPDATE;
	IF NOT FOUND OR NOT l.held OR (p_token IS NOT NULL AND l.token <> p_token) THEN
		RETURN false;
	END IF;
	PERFORM cron_lock.commit_durably();
	UPDATE cron_lock.leases SET held = false, attempt = NULL WHERE job = p_job;
	UPDATE cron_lock.job_runs
	   SET status = 'cancelled', message = 'force-released by ' || who,
		   finished_at = clock_timestamp(), forced_by = who
	 WHERE run_id = l.run_id;
	RETURN true;
END
$$;
