-- Expectations, pauses and client-side anomalies of a job (issue 16 items 4
-- and 5), the same in both editions.  The helpers they call exist in both:
-- arg_name, require_writable, refuse_foreign_objects, outer_role,
-- require_authority and lock_new_job (C in the extension, PL/pgSQL in the
-- edition), so the checks and their errors are the ones cron_lock_try has.

-- arg_expectation: check an expectation (22023) and return the time zone
-- it is to be read in: the given one, else the session's, for a schedule;
-- NULL for a period, which needs none.
CREATE OR REPLACE FUNCTION cron_lock.arg_expectation(job text, every interval, schedule text,
													 late_after interval, timezone text)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	tz text := coalesce(timezone, pg_catalog.current_setting('TimeZone'));
	what text;
	span interval;
BEGIN
	IF every IS NOT NULL AND schedule IS NOT NULL THEN
		RAISE EXCEPTION 'job "%" may have a period or a schedule, not both', job
			USING ERRCODE = '22023', HINT = 'Give every or schedule.';
	END IF;
	IF every IS NULL AND schedule IS NULL AND late_after IS NOT NULL THEN
		RAISE EXCEPTION 'late_after for job "%" needs every or schedule', job
			USING ERRCODE = '22023';
	END IF;
	FOREACH what IN ARRAY ARRAY['every', 'late_after'] LOOP
		span := CASE what WHEN 'every' THEN every ELSE late_after END;
		IF pg_catalog.date_part('year', span) <> 0 OR pg_catalog.date_part('month', span) <> 0 THEN
			RAISE EXCEPTION '% for job "%" must not have a month part', what, job
				USING ERRCODE = '22023',
					  HINT = 'Give it in days, hours, minutes or seconds, or use a schedule: a month has no fixed length.';
		END IF;
		IF span <= interval '0' OR span > interval '366 days' THEN
			RAISE EXCEPTION '% for job "%" must be greater than zero and at most 366 days', what, job
				USING ERRCODE = '22023';
		END IF;
	END LOOP;
	IF schedule IS NULL THEN
		RETURN NULL;
	END IF;
	-- Bounded, because cron_lock.health parses every schedule on every read.
	IF octet_length(schedule) > 200 OR octet_length(tz) > 200 THEN
		RAISE EXCEPTION 'schedule or time zone of job "%" is too long', job
			USING ERRCODE = '22023', DETAIL = 'Each may have at most 200 bytes.';
	END IF;
	BEGIN
		PERFORM pg_catalog.now() AT TIME ZONE tz;
	EXCEPTION WHEN invalid_parameter_value THEN
		RAISE EXCEPTION 'time zone "%" of job "%" is not recognized', tz, job
			USING ERRCODE = '22023', HINT = 'Use a name from pg_timezone_names, for example Europe/Berlin or UTC.';
	END;
	PERFORM cron_lock.cron_parse(schedule, job);
	IF cron_lock.cron_prev(schedule, tz, pg_catalog.clock_timestamp()) IS NULL THEN
		RAISE EXCEPTION 'schedule "%" of job "%" names no time', schedule, job
			USING ERRCODE = '22023', DETAIL = 'No time in the last eight years matches it.';
	END IF;
	RETURN tz;
END
$$;

-- describe_expectation: an expectation in words, for anomaly details.
CREATE OR REPLACE FUNCTION cron_lock.describe_expectation(every interval, schedule text,
														  timezone text, late_after interval)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
	SELECT CASE WHEN $1 IS NOT NULL THEN 'every ' || $1::text
				ELSE pg_catalog.format('schedule "%s" (%s)', $2, $3) END
		   || coalesce(', late after ' || $4::text, '')
$$;

-- prepare_write: the guard every function here that writes goes through
-- once its arguments are checked: 25006 on a standby or in a read-only
-- transaction, the tables locked and checked (55000), and a commit with
-- the WAL flush.
CREATE OR REPLACE FUNCTION cron_lock.prepare_write(action text, job text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
	PERFORM cron_lock.require_writable(action, job);
	PERFORM cron_lock.refuse_foreign_objects();
	PERFORM cron_lock.commit_durably();
END
$$;

-- require_read_committed: 0A000 above READ COMMITTED, for pause and resume:
-- there the lease row of a job first taken after the snapshot is invisible,
-- and they would miss it without an error.
CREATE OR REPLACE FUNCTION cron_lock.require_read_committed(action text, job text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
	IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'cannot % job "%" at isolation level %', action, job,
			pg_catalog.upper(pg_catalog.current_setting('transaction_isolation'))
			USING ERRCODE = '0A000', HINT = 'Run it in autocommit or in a READ COMMITTED transaction.';
	END IF;
END
$$;

-- arg_text_size: 22023 when an optional text (what: "reason for pausing
-- job ...") is longer than 4096 bytes.
CREATE OR REPLACE FUNCTION cron_lock.arg_text_size(value text, what text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
	IF pg_catalog.octet_length(value) > 4096 THEN
		RAISE EXCEPTION '% is too long', what
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('It is %s bytes; the limit is %s bytes.', pg_catalog.octet_length(value), 4096);
	END IF;
END
$$;

-- cron_lock_expect: an administrator's expectation of a job; it wins over
-- what runs declare.  Both every and schedule NULL clear it, and runs may
-- declare theirs again.
CREATE OR REPLACE FUNCTION @extschema@.cron_lock_expect(job text, every interval DEFAULT NULL,
	schedule text DEFAULT NULL, late_after interval DEFAULT NULL, timezone text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	p_job text := job;
	tz text;
BEGIN
	PERFORM cron_lock.arg_name(p_job, 'job');
	tz := cron_lock.arg_expectation(p_job, every, schedule, late_after, timezone);
	PERFORM cron_lock.prepare_write('set the expectation of', p_job);
	IF every IS NULL AND schedule IS NULL THEN
		UPDATE ONLY cron_lock.jobs
		   SET every = NULL, schedule = NULL, timezone = NULL, late_after = NULL,
			   expectation_source = NULL, expectation_by = NULL, expectation_at = NULL
		 WHERE job = p_job AND expectation_source IS NOT NULL;
		RETURN;
	END IF;
	INSERT INTO cron_lock.jobs AS j (job, every, schedule, timezone, late_after,
									 expectation_source, expectation_by, expectation_at)
	VALUES (p_job, $2, $3, tz, $4, 'admin', cron_lock.outer_role(), clock_timestamp())
	ON CONFLICT (job) DO UPDATE
	   SET every = excluded.every, schedule = excluded.schedule, timezone = excluded.timezone,
		   late_after = excluded.late_after, expectation_source = 'admin',
		   expectation_by = excluded.expectation_by,
		   expectation_at = CASE WHEN (j.every, j.schedule, j.timezone, j.late_after, j.expectation_source)
										IS NOT DISTINCT FROM
									  (excluded.every, excluded.schedule, excluded.timezone,
									   excluded.late_after, 'admin')
								 THEN j.expectation_at ELSE excluded.expectation_at END;
END
$$;

-- cron_lock_declare: a run's own expectation of its job, and its skip
-- threshold.  An administrator's expectation wins; otherwise the first
-- instance to declare one keeps it (and may change it).  Another instance
-- declaring something else is an expectation_mismatch anomaly, recorded at
-- most once an hour per job and instance.  Writes nothing when nothing
-- changes.
CREATE OR REPLACE FUNCTION @extschema@.cron_lock_declare(job text, instance text, every interval,
	schedule text, late_after interval, timezone text, warn_after_skips integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	p_job text := job;
	p_instance text := instance;
	p_warn integer := warn_after_skips;
	holder_role text;
	tz text;
	j cron_lock.jobs;
	n bigint;
	now_ts timestamptz;
BEGIN
	PERFORM cron_lock.arg_name(p_job, 'job');
	PERFORM cron_lock.arg_name(p_instance, 'instance');
	tz := cron_lock.arg_expectation(p_job, every, schedule, late_after, timezone);
	IF p_warn < 1 THEN
		RAISE EXCEPTION 'warn_after_skips for job "%" must be at least 1', p_job
			USING ERRCODE = '22023', HINT = 'Pass NULL for no warning.';
	END IF;
	PERFORM cron_lock.require_writable('declare the expectation of', p_job);
	PERFORM cron_lock.refuse_foreign_objects();
	-- Only the instance holding the job's lease declares, with the authority
	-- a heartbeat needs: another runner must not move a job's expectation.
	SELECT l.role INTO holder_role FROM ONLY cron_lock.leases l
	 WHERE l.job = p_job AND l.held AND l.instance = p_instance
	   AND l.expires_at > pg_catalog.clock_timestamp();
	IF NOT FOUND THEN
		RAISE EXCEPTION 'instance "%" does not hold job "%"', p_instance, p_job
			USING ERRCODE = '42501',
				  DETAIL = 'Only the instance holding a job''s lease declares its expectation.',
				  HINT = 'cronlock run declares it once it holds the lease; an administrator sets one with cron_lock_expect.';
	END IF;
	PERFORM cron_lock.require_authority('declare the expectation of', p_job, holder_role);
	PERFORM cron_lock.commit_durably();

	SELECT * INTO j FROM ONLY cron_lock.jobs WHERE job = p_job;
	IF NOT FOUND THEN
		INSERT INTO cron_lock.jobs (job) VALUES (p_job) ON CONFLICT (job) DO NOTHING;
		SELECT * INTO j FROM ONLY cron_lock.jobs WHERE job = p_job;
	END IF;
	now_ts := clock_timestamp();

	IF (every IS NOT NULL OR schedule IS NOT NULL)
		AND j.expectation_source IS DISTINCT FROM 'admin'
		AND (j.every, j.schedule, j.timezone, j.late_after)
			IS DISTINCT FROM ($3, $4, tz, $5) THEN
		n := 0;
		IF j.expectation_source IS NULL OR j.expectation_by = p_instance THEN
			UPDATE ONLY cron_lock.jobs
			   SET every = $3, schedule = $4, timezone = tz, late_after = $5,
				   expectation_source = 'run', expectation_by = p_instance, expectation_at = now_ts
			 WHERE job = p_job
			   AND (expectation_source IS NULL
					OR (expectation_source = 'run' AND expectation_by = p_instance));
			GET DIAGNOSTICS n = ROW_COUNT;
			IF n = 0 THEN
				-- Another declaration (or an administrator's) came first.
				SELECT * INTO j FROM ONLY cron_lock.jobs WHERE job = p_job;
			END IF;
		END IF;
		IF n = 0 AND j.expectation_source = 'run'
			AND (j.every, j.schedule, j.timezone, j.late_after) IS DISTINCT FROM ($3, $4, tz, $5)
			AND NOT EXISTS (SELECT FROM ONLY cron_lock.anomaly_log a
							 WHERE a.detected_at > now_ts - interval '1 hour'
							   AND a.kind = 'expectation_mismatch' AND a.job = p_job
							   AND a.instance = p_instance) THEN
			INSERT INTO cron_lock.anomaly_log (kind, job, run_id, instance, detected_at, detail)
			VALUES ('expectation_mismatch', p_job, NULL, p_instance, now_ts,
					format('Instance "%s" declares job "%s" %s, but instance "%s" declared it %s on %s, which is kept. Make the job''s crontab lines agree on every host, or set the expectation once with cron_lock_expect.',
						   p_instance, p_job, cron_lock.describe_expectation($3, $4, tz, $5),
						   j.expectation_by,
						   cron_lock.describe_expectation(j.every, j.schedule, j.timezone, j.late_after),
						   to_char(j.expectation_at, 'YYYY-MM-DD HH24:MI:SS TZ')));
		END IF;
	END IF;

	IF p_warn IS NOT NULL AND p_warn IS DISTINCT FROM j.warn_after_skips THEN
		UPDATE ONLY cron_lock.jobs SET warn_after_skips = p_warn WHERE job = p_job;
	END IF;
END
$$;

-- cron_lock_pause: cron_lock_try answers "paused" for the job until the
-- given time (NULL: until cron_lock_resume).  A run in progress goes on.
-- The pause is recorded in cron_lock.jobs and copied onto the job's lease
-- row, which cron_lock_try reads; lock_new_job waits for a first
-- acquisition of the job in progress, so that its new lease row gets the
-- copy too.
CREATE OR REPLACE FUNCTION @extschema@.cron_lock_pause(job text, until timestamptz DEFAULT NULL,
	reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
SET lock_timeout = '5s'
AS $$
#variable_conflict use_column
DECLARE
	p_job text := job;
	p_until timestamptz := coalesce(until, 'infinity');
	p_reason text := reason;
	now_ts timestamptz := clock_timestamp();
BEGIN
	PERFORM cron_lock.arg_name(p_job, 'job');
	IF p_until <= now_ts THEN
		RAISE EXCEPTION 'pause of job "%" must end in the future', p_job
			USING ERRCODE = '22023', HINT = 'Pass NULL to pause it until cron_lock_resume.';
	END IF;
	PERFORM cron_lock.arg_text_size(p_reason, format('reason for pausing job "%s"', p_job));
	PERFORM cron_lock.require_read_committed('pause', p_job);
	PERFORM cron_lock.prepare_write('pause', p_job);
	INSERT INTO cron_lock.jobs AS j (job, paused_until, paused_by, paused_at, pause_reason)
	VALUES (p_job, p_until, cron_lock.outer_role(), now_ts, p_reason)
	ON CONFLICT (job) DO UPDATE
	   SET paused_until = excluded.paused_until, paused_by = excluded.paused_by,
		   paused_at = excluded.paused_at, pause_reason = excluded.pause_reason;
	PERFORM cron_lock.lock_new_job(p_job);
	UPDATE ONLY cron_lock.leases SET paused_until = p_until WHERE job = p_job;
END
$$;

-- cron_lock_resume: end a job's pause; true if it was paused.
CREATE OR REPLACE FUNCTION @extschema@.cron_lock_resume(job text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
SET lock_timeout = '5s'
AS $$
#variable_conflict use_column
DECLARE
	p_job text := job;
	was boolean;
BEGIN
	PERFORM cron_lock.arg_name(p_job, 'job');
	PERFORM cron_lock.require_read_committed('resume', p_job);
	PERFORM cron_lock.prepare_write('resume', p_job);
	SELECT paused_until > clock_timestamp() INTO was
	  FROM ONLY cron_lock.jobs WHERE job = p_job FOR NO KEY UPDATE;
	UPDATE ONLY cron_lock.jobs
	   SET paused_until = NULL, paused_by = NULL, paused_at = NULL, pause_reason = NULL
	 WHERE job = p_job AND paused_until IS NOT NULL;
	UPDATE ONLY cron_lock.leases SET paused_until = NULL WHERE job = p_job AND paused_until IS NOT NULL;
	RETURN coalesce(was, false);
END
$$;

-- cron_lock_report: an anomaly only the runner sees (max_runtime: it
-- stopped its command; many_skips: its run made other instances skip
-- warn_after_skips times), with the authority cron_lock_heartbeat has.
-- False when the job never issued that token.  Reporting again is a no-op.
CREATE OR REPLACE FUNCTION @extschema@.cron_lock_report(job text, token bigint, kind text, detail text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	p_job text := job;
	p_kind text := kind;
	p_detail text := detail;
	r cron_lock.job_runs;
BEGIN
	PERFORM cron_lock.arg_name(p_job, 'job');
	IF token IS NULL THEN
		RAISE EXCEPTION 'token must not be null' USING ERRCODE = '22004';
	END IF;
	IF p_kind IS NULL THEN
		RAISE EXCEPTION 'kind for job "%" must not be null', p_job USING ERRCODE = '22004';
	END IF;
	IF p_kind NOT IN ('max_runtime', 'many_skips') THEN
		RAISE EXCEPTION 'invalid anomaly kind "%" for job "%"', p_kind, p_job
			USING ERRCODE = '22023', HINT = 'Use max_runtime or many_skips.';
	END IF;
	PERFORM cron_lock.arg_text_size(p_detail, format('detail for job "%s"', p_job));
	PERFORM cron_lock.prepare_write('report on', p_job);
	SELECT * INTO r FROM ONLY cron_lock.job_runs WHERE job = p_job AND token = $2;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM cron_lock.require_authority('report on', p_job, r.role);
	IF NOT EXISTS (SELECT FROM ONLY cron_lock.anomaly_log a
					WHERE a.kind = p_kind AND a.job = p_job AND a.run_id = r.run_id) THEN
		INSERT INTO cron_lock.anomaly_log (kind, job, run_id, instance, detected_at, detail)
		VALUES (p_kind, p_job, r.run_id, r.instance, clock_timestamp(),
				coalesce(p_detail,
						 format(CASE p_kind
									WHEN 'max_runtime' THEN 'Run %s of job "%s" by instance "%s" ran past its maximum run time and was stopped.'
									ELSE 'Run %s of job "%s" by instance "%s" has made other instances skip it many times.' END,
								r.run_id, p_job, r.instance)));
	END IF;
	RETURN true;
END
$$;

-- busy_answers: how many busy answers (held, locked) other instances got
-- while holder held job between since and until (NULL: now): the raw rows,
-- plus the hourly counters the sweep folded them into whose answers all
-- fall in that time (a counter that also holds earlier answers, of an
-- earlier run in the same hour, is left out: this never counts too many).
-- The one place that counts contention for a run: the anomalies view and
-- cron_lock_skips use it.  The view's readers may not read contention,
-- hence SECURITY DEFINER: it gives a count, no rows.  Its cost follows the
-- run's window, not the tables' size: the counters of the window's hours
-- by their index (hour, job, instance), the raw rows by the BRIN index on
-- at, kept summarized as they are written (autosummarize, 30-contention.sql).
CREATE OR REPLACE FUNCTION cron_lock.busy_answers(job text, holder text, since timestamptz,
												  until timestamptz)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
	SELECT (SELECT pg_catalog.count(*)
			  FROM ONLY cron_lock.contention c
			 WHERE c.at >= $3 AND ($4 IS NULL OR c.at <= $4)
			   AND c.job = $1 AND c.holder = $2 AND c.instance <> $2
			   AND c.reason IN ('held', 'locked'))
		 + (SELECT coalesce(pg_catalog.sum(h.busy), 0)::bigint
			  FROM ONLY cron_lock.contention_hourly h
			 WHERE h.hour >= pg_catalog.date_trunc('hour', $3, 'UTC')
			   AND h.first_seen >= $3 AND ($4 IS NULL OR h.last_seen <= $4)
			   AND h.job = $1 AND h.holder = $2 AND h.instance <> $2
			   AND h.reason IN ('held', 'locked'))
$$;

-- cron_lock_skips: the busy answers other instances got from the run of
-- this token so far (for --warn-after-skips); NULL when the job never
-- issued it.
CREATE OR REPLACE FUNCTION @extschema@.cron_lock_skips(job text, token bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	p_job text := job;
	r cron_lock.job_runs;
BEGIN
	PERFORM cron_lock.arg_name(p_job, 'job');
	IF token IS NULL THEN
		RAISE EXCEPTION 'token must not be null' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO r FROM ONLY cron_lock.job_runs WHERE job = p_job AND token = $2;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	RETURN cron_lock.busy_answers(p_job, r.instance, r.started_at, r.finished_at);
END
$$;

-- Privileges of what issue 16 (ops-server) adds: nothing for PUBLIC.  Users
-- declare their runs' expectations, report, count skips and read health;
-- admins also set expectations, pause and resume, and read cron_lock.jobs.
REVOKE ALL ON FUNCTION
	@extschema@.cron_lock_expect(text, interval, text, interval, text),
	@extschema@.cron_lock_declare(text, text, interval, text, interval, text, integer),
	@extschema@.cron_lock_pause(text, timestamptz, text),
	@extschema@.cron_lock_resume(text),
	@extschema@.cron_lock_report(text, bigint, text, text),
	@extschema@.cron_lock_skips(text, bigint),
	cron_lock.arg_name(text, text),
	cron_lock.require_writable(text, text),
	cron_lock.refuse_foreign_objects(boolean),
	cron_lock.outer_role(),
	cron_lock.require_authority(text, text, text),
	cron_lock.lock_new_job(text),
	cron_lock.commit_durably(),
	cron_lock.prepare_write(text, text),
	cron_lock.require_read_committed(text, text),
	cron_lock.arg_text_size(text, text),
	cron_lock.cron_parse(text, text),
	cron_lock.cron_prev(text, text, timestamptz),
	cron_lock.late_after(interval, text, text, interval, timestamptz),
	cron_lock.missed_start(interval, text, text, interval, timestamptz, timestamptz, timestamptz),
	cron_lock.arg_expectation(text, interval, text, interval, text),
	cron_lock.describe_expectation(interval, text, text, interval),
	cron_lock.busy_answers(text, text, timestamptz, timestamptz)
FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
	@extschema@.cron_lock_declare(text, text, interval, text, interval, text, integer),
	@extschema@.cron_lock_report(text, bigint, text, text),
	@extschema@.cron_lock_skips(text, bigint)
TO cron_lock_user, cron_lock_admin;

-- What the views call runs as their reader.
GRANT EXECUTE ON FUNCTION
	cron_lock.cron_parse(text, text),
	cron_lock.cron_prev(text, text, timestamptz),
	cron_lock.late_after(interval, text, text, interval, timestamptz),
	cron_lock.missed_start(interval, text, text, interval, timestamptz, timestamptz, timestamptz),
	cron_lock.busy_answers(text, text, timestamptz, timestamptz)
TO cron_lock_user, cron_lock_admin;

GRANT EXECUTE ON FUNCTION
	@extschema@.cron_lock_expect(text, interval, text, interval, text),
	@extschema@.cron_lock_pause(text, timestamptz, text),
	@extschema@.cron_lock_resume(text)
TO cron_lock_admin;

