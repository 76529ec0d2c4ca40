/* sql-edition/src/40-try.sql: cron_lock_try, in the schema the edition is
 * installed into (the current schema).  CONTRACT 1.1, in this order:
 * validate, refuse if read-only, lock the lease row without waiting, then
 * replay, held/locked, too_soon, take over or acquire.
 *
 * A plain read of the lease comes first: when it already shows another
 * holder's unexpired lease, or a gap not yet passed, the answer is final
 * without locking anything.  Otherwise the row is locked FOR UPDATE SKIP
 * LOCKED and everything is decided again on the locked row, with the clock
 * read after the lock.  A job seen for the first time has no row to lock:
 * INSERT would wait for another session's uncommitted first insert of the
 * same job, so every first insert happens under the job's gate, a row of
 * cron_lock.edition_locks locked without waiting until the transaction
 * ends, which no other role may lock (cron_lock.gate, lock_row). */

CREATE OR REPLACE FUNCTION cron_lock_try(
	job text, instance text, ttl interval,
	attempt uuid DEFAULT NULL, min_gap interval DEFAULT NULL)
RETURNS cron_lock.try_result
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	p_job text := cron_lock.arg_name(job, 'job');
	p_instance text := cron_lock.arg_name(instance, 'instance');
	p_attempt uuid := attempt;
	ttl_usec bigint := cron_lock.arg_ttl(ttl, p_job);
	gap_usec bigint := cron_lock.arg_min_gap(min_gap, p_job);
	l cron_lock.leases;
	seen cron_lock.leases;
	first boolean := false;
	now_ts timestamptz;
	live boolean;
	ans cron_lock.try_result;
	busy_holder text;
	new_token bigint;
	new_run bigint;
	new_expiry timestamptz;
	old_run cron_lock.job_runs;
	my_start timestamptz;
	my_role text;
	alone boolean;
	query text;
BEGIN
	-- cron_lock.enter, written out (a PL/pgSQL call and a PERFORM less).
	IF pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on' THEN
		PERFORM cron_lock.require_writable('take a lease on', p_job);
	END IF;
	LOCK TABLE @EVERY_CALL_TABLE_LIST@, ONLY cron_lock.jobs IN ROW EXCLUSIVE MODE;
	my_role := CASE WHEN cron_lock.tables_checked(@OWN_TABLES@) THEN cron_lock.outer_role() END;

	ans.acquired := false;
	SELECT * INTO l FROM cron_lock.leases WHERE job = p_job;
	IF FOUND THEN
		now_ts := clock_timestamp();
		live := l.held AND l.expires_at > now_ts;
		IF live AND NOT (p_attempt IS NOT NULL AND l.attempt IS NOT NULL AND l.attempt = p_attempt) THEN
			ans.reason := CASE WHEN l.paused_until > now_ts THEN 'paused' ELSE 'held' END;
		ELSIF NOT live AND l.paused_until > now_ts THEN
			ans.reason := 'paused';
		ELSIF NOT live AND gap_usec IS NOT NULL
			AND now_ts - l.acquired_at < gap_usec * interval '1 microsecond' THEN
			ans.reason := 'too_soon';
		END IF;
	ELSIF NOT cron_lock.lock_row(cron_lock.gate(p_job), false) THEN
		-- Another session is inserting this job's (or its gate's other
		-- jobs') first lease right now.
		ans.reason := 'locked';
	ELSE
		-- Every first insert holds that lock until it commits, so a snapshot
		-- taken now either shows the committed row or proves that no insert
		-- is in progress: the INSERT below cannot wait.
		SELECT * INTO l FROM cron_lock.leases WHERE job = p_job;
		first := NOT FOUND;
		IF first AND EXISTS (SELECT FROM cron_lock.jobs j
							  WHERE j.job = p_job AND j.paused_until > clock_timestamp()) THEN
			RETURN (false, 'paused', NULL, NULL, NULL, NULL, NULL, NULL)::cron_lock.try_result;
		END IF;
	END IF;

	IF ans.reason IS NULL AND NOT first THEN
		seen := l;
		SELECT * INTO l FROM cron_lock.leases WHERE job = p_job FOR UPDATE SKIP LOCKED;
		IF NOT FOUND THEN
			ans.reason := 'locked';
			l := seen;
		ELSE
			-- Decide on the locked row, reading the clock anew.
			now_ts := clock_timestamp();
			live := l.held AND l.expires_at > now_ts;
			IF live AND p_attempt IS NOT NULL AND l.attempt IS NOT NULL AND l.attempt = p_attempt THEN
				-- The same logical acquisition retried (its reply was lost).
				-- Renew it so the client's deadline, counted from this call,
				-- stays inside the lease; the durable commit of the renewal
				-- also covers the original acquisition.
				new_expiry := now_ts + ttl_usec * interval '1 microsecond';
				IF current_setting('synchronous_commit') IN ('off', 'local', 'remote_write') THEN
					PERFORM cron_lock.commit_durably();
				END IF;
				UPDATE cron_lock.leases SET heartbeat_at = now_ts, expires_at = new_expiry
				 WHERE job = p_job;
				UPDATE cron_lock.job_runs SET heartbeat_at = now_ts, expires_at = new_expiry
				 WHERE run_id = l.run_id;
				RETURN (true, 'replayed', l.run_id, l.token, p_instance, pg_backend_pid(),
						new_expiry, NULL)::cron_lock.try_result;
			ELSIF l.paused_until > now_ts THEN
				ans.reason := 'paused';
			ELSIF live THEN
				ans.reason := 'held';
			ELSIF gap_usec IS NOT NULL AND now_ts - l.acquired_at < gap_usec * interval '1 microsecond' THEN
				ans.reason := 'too_soon';
			END IF;
		END IF;
	END IF;

	IF ans.reason = 'paused' THEN
		-- Not contention: nothing is recorded.  A live lease is named.
		IF l.held AND l.expires_at > now_ts THEN
			ans.holder := l.instance;
			ans.holder_pid := l.backend_pid;
			ans.expires_at := l.expires_at;
		END IF;
		RETURN ans;
	END IF;
	IF ans.reason IS NOT NULL THEN
		-- Busy: record the answer as contention, the evidence of duplicate
		-- runners.  "locked" names a holder only when the lease was seen
		-- live; too_soon blames the last starter but names no holder.
		IF ans.reason = 'locked' THEN
			now_ts := clock_timestamp();
			IF l.job IS NOT NULL AND l.held AND l.expires_at > now_ts THEN
				ans.holder := l.instance;
			END IF;
			busy_holder := ans.holder;
		ELSIF ans.reason = 'held' THEN
			ans.holder := l.instance;
			busy_holder := l.instance;
		ELSE
			busy_holder := l.instance;
		END IF;
		IF ans.holder IS NOT NULL THEN
			ans.holder_pid := l.backend_pid;
			ans.expires_at := l.expires_at;
		END IF;
		-- cron_lock.record_busy, written out for the usual busy answer (a
		-- PL/pgSQL call and a composite argument less); see it for why.
		alone := pg_current_xact_id_if_assigned() IS NULL AND current_setting('synchronous_commit') <> 'off';
		IF alone THEN
			query := current_query();
			IF query IS DISTINCT FROM current_setting('cron_lock_edition.lone_try', true) THEN
				alone := cron_lock.lone_try(query);
				IF alone THEN
					PERFORM set_config('cron_lock_edition.lone_try', query, false);
				END IF;
			END IF;
		END IF;
		INSERT INTO cron_lock.contention (job, instance, holder, reason, at, backend_pid, client_addr)
		VALUES (p_job, p_instance, busy_holder, ans.reason, now_ts, pg_backend_pid(), inet_client_addr());
		IF alone THEN
			query := set_config('cron_lock_edition.lazy_commit', statement_timestamp()::text, true);
		END IF;
		RETURN ans;
	END IF;

	-- Acquire: a new run on the row locked FOR UPDATE, or the job's first row.
	IF first THEN
		now_ts := clock_timestamp();
	END IF;
	new_token := cron_lock.next_token(coalesce(l.token, 0), p_job);
	IF new_token IS NULL THEN
		-- Another transaction is recording a new token epoch: try again.
		ans.reason := 'locked';
		IF l.job IS NOT NULL AND l.held AND l.expires_at > now_ts THEN
			ans.holder := l.instance;
			ans.holder_pid := l.backend_pid;
			ans.expires_at := l.expires_at;
		END IF;
		RETURN cron_lock.record_busy(ans, p_job, p_instance, ans.holder, now_ts);
	END IF;
	new_expiry := now_ts + ttl_usec * interval '1 microsecond';
	-- This backend's start time, so that status can tell whether it lives
	-- (NULL where the owner may not see it), read at every acquisition: a
	-- copy kept for the session would go stale (the owner granted
	-- pg_read_all_stats meanwhile) or could be forged by the caller.
	-- (By backend index: pg_stat_get_activity builds a row of 30 columns.)
	my_start := (SELECT pg_stat_get_backend_start(b) FROM pg_stat_get_backend_idset() b
				  WHERE pg_stat_get_backend_pid(b) = pg_backend_pid());
	IF current_setting('synchronous_commit') IN ('off', 'local', 'remote_write') THEN
		PERFORM cron_lock.commit_durably();
	END IF;
	IF first THEN
		-- The lease first: at REPEATABLE READ a first lease committed after
		-- this transaction's snapshot makes ON CONFLICT raise 40001.
		new_run := nextval('cron_lock.job_runs_run_id_seq');
		INSERT INTO cron_lock.leases (job, token, run_id, instance, held, attempt, backend_pid,
									  backend_start, acquired_at, heartbeat_at, expires_at, role)
		VALUES (p_job, new_token, new_run, p_instance, true, p_attempt, pg_backend_pid(),
				my_start, now_ts, now_ts, new_expiry, my_role)
		ON CONFLICT (job) DO NOTHING;
		IF NOT FOUND THEN
			-- Not reached at READ COMMITTED (the lease was read under the
			-- lock); nothing is written, try again.
			ans.reason := 'locked';
			RETURN cron_lock.record_busy(ans, p_job, p_instance, NULL, now_ts);
		END IF;
		INSERT INTO cron_lock.job_runs (run_id, job, instance, token, attempt, status, started_at, heartbeat_at,
										expires_at, backend_pid, backend_start, client_addr, application_name, role)
		VALUES (new_run, p_job, p_instance, new_token, p_attempt, 'running', now_ts, now_ts, new_expiry,
				pg_backend_pid(), my_start, inet_client_addr(), nullif(current_setting('application_name'), ''),
				my_role);
		IF random() < 0.125 THEN
			PERFORM cron_lock.maybe_sweep();
		END IF;
		RETURN (true, 'acquired', new_run, new_token, p_instance, pg_backend_pid(), new_expiry, NULL)::cron_lock.try_result;
	END IF;

	INSERT INTO cron_lock.job_runs (job, instance, token, attempt, status, started_at, heartbeat_at,
									expires_at, backend_pid, backend_start, client_addr, application_name, role)
	VALUES (p_job, p_instance, new_token, p_attempt, 'running', now_ts, now_ts, new_expiry,
			pg_backend_pid(), my_start, inet_client_addr(), nullif(current_setting('application_name'), ''),
			my_role)
	RETURNING run_id INTO new_run;
	UPDATE cron_lock.leases
	   SET token = new_token, run_id = new_run, instance = p_instance, held = true,
		   attempt = p_attempt, backend_pid = pg_backend_pid(), backend_start = my_start,
		   acquired_at = now_ts, heartbeat_at = now_ts, expires_at = new_expiry, role = my_role
	 WHERE job = p_job;
	IF random() < 0.125 THEN
		PERFORM cron_lock.maybe_sweep();
	END IF;
	IF NOT l.held THEN
		RETURN (true, 'acquired', new_run, new_token, p_instance, pg_backend_pid(), new_expiry, NULL)::cron_lock.try_result;
	END IF;

	-- Stale takeover: the expired run ends as expired, taken over by ours.
	UPDATE cron_lock.job_runs SET status = 'expired', finished_at = now_ts, taken_over_by = new_run
	 WHERE run_id = l.run_id AND status = 'running'
	RETURNING * INTO old_run;
	IF FOUND THEN
		INSERT INTO cron_lock.anomaly_log (kind, job, run_id, instance, detected_at, detail)
		VALUES ('stale_takeover', old_run.job, old_run.run_id, old_run.instance, now_ts,
				format('Run %s of job "%s" by instance "%s" (backend pid %s) stopped renewing its lease,'
					   ' which expired at %s; instance "%s" took over as run %s with token %s. The old runner may'
					   ' still be working: check that host for a stuck or partitioned process.',
					   old_run.run_id, old_run.job, old_run.instance,
					   coalesce(old_run.backend_pid::text, 'unknown'),
					   to_char(old_run.expires_at, 'YYYY-MM-DD HH24:MI:SS.MS TZ'),
					   p_instance, new_run, new_token));
	END IF;
	RETURN (true, 'took_over', new_run, new_token, p_instance, pg_backend_pid(), new_expiry, l.run_id)::cron_lock.try_result;
END
$$;
