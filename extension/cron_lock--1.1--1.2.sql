/* extension/cron_lock--1.1--1.2.sql: from 1.1 to 1.2.  A fresh install of
 * 1.2 runs cron_lock--1.0.sql, cron_lock--1.0--1.1.sql and then this
 * script, so both paths give the same objects.  The sections marked
 * "schema/..." are those files verbatim (schema/assemble.sh writes this
 * file), shared with the plain-SQL edition. */

\echo Use "ALTER EXTENSION cron_lock UPDATE TO '1.2'" to load this file. \quit

-- ===== issue 16 (ops-server): expectations, pauses, health =====

-- The checks of the C functions, for the PL/pgSQL functions both editions
-- share (extension/helpers.c); the edition has PL/pgSQL functions of the
-- same names.  Not granted to anyone.
CREATE FUNCTION cron_lock.arg_name(name text, what text) RETURNS void
AS 'MODULE_PATHNAME', 'cron_lock_arg_name' LANGUAGE C STABLE;
CREATE FUNCTION cron_lock.require_writable(action text, job text) RETURNS void
AS 'MODULE_PATHNAME', 'cron_lock_require_writable' LANGUAGE C STABLE STRICT;
CREATE FUNCTION cron_lock.refuse_foreign_objects(thorough boolean DEFAULT false) RETURNS void
AS 'MODULE_PATHNAME', 'cron_lock_refuse_foreign_objects' LANGUAGE C VOLATILE;
CREATE FUNCTION cron_lock.outer_role() RETURNS text
AS 'MODULE_PATHNAME', 'cron_lock_outer_role' LANGUAGE C STABLE;
CREATE FUNCTION cron_lock.require_authority(action text, job text, role text) RETURNS void
AS 'MODULE_PATHNAME', 'cron_lock_require_authority' LANGUAGE C STABLE;
CREATE FUNCTION cron_lock.lock_new_job(job text) RETURNS void
AS 'MODULE_PATHNAME', 'cron_lock_lock_new_job' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION cron_lock.commit_durably() RETURNS void
AS 'MODULE_PATHNAME', 'cron_lock_commit_durably' LANGUAGE C VOLATILE;

-- ----- schema/tables/50-jobs.sql -----
-- cron_lock.jobs: what is known about a job besides its lease, one row per
-- job that has an expectation, a skip threshold or a pause (issue 16).
-- Written only by cron_lock_expect, cron_lock_declare, cron_lock_pause and
-- cron_lock_resume; read by the health, status and anomalies views.
CREATE TABLE IF NOT EXISTS cron_lock.jobs (
	job                text COLLATE "C" PRIMARY KEY,
	every              interval,          -- expected period, or
	schedule           text,              -- a five-field crontab expression
	timezone           text,              -- the schedule's time zone
	late_after         interval,          -- NULL: the default (see cron_lock.late_after)
	expectation_source text COLLATE "C",  -- run (cron_lock_declare), admin (cron_lock_expect)
	expectation_by     text,              -- the declaring instance, or the admin's role
	expectation_at     timestamptz,       -- when this expectation was first set
	warn_after_skips   integer,           -- a run that made others skip this often is reported
	paused_until       timestamptz,       -- infinity: until resumed; past: no longer paused
	paused_by          text,              -- the role that paused it
	paused_at          timestamptz,
	pause_reason       text
);

-- The pause is also kept on the lease row, which every cron_lock_try reads
-- already: a busy answer pays no extra lookup for it.
ALTER TABLE cron_lock.leases ADD COLUMN IF NOT EXISTS paused_until timestamptz;

-- ----- schema/functions/10-cron.sql -----
-- The five-field crontab syntax, parsed once here for both editions, and the
-- time rules of the health view (issue 16 item 4).  Internal: only the owner
-- executes these (the API functions and the views run them as the owner).

-- cron_parse: a crontab expression as seven numbers: bit masks of the
-- minutes (0-59), hours (0-23), days of the month (1-31), months (1-12) and
-- days of the week (0-6, Sunday 0 or 7), then whether the day-of-month and
-- the day-of-week fields start with "*".  As cron (Vixie cron, cronie)
-- reads it: lists, ranges, steps (N/S means N-max/S), month and weekday
-- names (jan, mon; ranges of names too), @hourly, @daily, @midnight,
-- @weekly, @monthly, @yearly, @annually.  Raises 22023 on anything else.
CREATE OR REPLACE FUNCTION cron_lock.cron_parse(schedule text, job text)
RETURNS bigint[]
LANGUAGE plpgsql STABLE
AS $$
DECLARE
	spec text := pg_catalog.lower(pg_catalog.btrim(schedule, E' \t'));
	fields text[];
	what text[] := ARRAY['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
	lo integer[] := ARRAY[0, 0, 1, 1, 0];
	hi integer[] := ARRAY[59, 23, 31, 12, 7];
	months text[] := ARRAY['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
	days text[] := ARRAY['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
	masks bigint[] := ARRAY[0, 0, 0, 0, 0, 0, 0];
	item text;
	m text[];
	bounds integer[];
	step integer;
	v integer;
BEGIN
	spec := CASE spec
		WHEN '@yearly' THEN '0 0 1 1 *' WHEN '@annually' THEN '0 0 1 1 *'
		WHEN '@monthly' THEN '0 0 1 * *' WHEN '@weekly' THEN '0 0 * * 0'
		WHEN '@daily' THEN '0 0 * * *' WHEN '@midnight' THEN '0 0 * * *'
		WHEN '@hourly' THEN '0 * * * *' ELSE spec END;
	fields := pg_catalog.regexp_split_to_array(spec, E'[ \t]+');
	IF pg_catalog.cardinality(fields) <> 5 THEN
		RAISE EXCEPTION 'invalid schedule "%" for job "%"', schedule, job
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('It has %s fields; a crontab schedule has five: minute, hour, day of month, month, day of week.', pg_catalog.cardinality(fields)),
				  HINT = 'For example ''*/5 * * * *'' or ''30 2 * * mon-fri''.';
	END IF;
	FOR f IN 1..5 LOOP
		FOREACH item IN ARRAY pg_catalog.string_to_array(fields[f], ',') LOOP
			m := pg_catalog.regexp_match(item, '^(\*|([0-9]{1,2}|[a-z]{3})(-([0-9]{1,2}|[a-z]{3}))?)(/([0-9]{1,2}))?$');
			bounds := NULL;
			IF m IS NOT NULL THEN
				bounds := ARRAY[lo[f], hi[f]];
				IF m[1] <> '*' THEN
					FOR k IN 1..2 LOOP
						v := NULL;
						IF m[2 * k] ~ '^[0-9]+$' THEN
							v := m[2 * k]::integer;
						ELSIF f = 4 THEN
							v := pg_catalog.array_position(months, m[2 * k]);
						ELSIF f = 5 THEN
							v := pg_catalog.array_position(days, m[2 * k]) - 1;
						END IF;
						IF k = 1 THEN
							bounds := ARRAY[v, CASE WHEN m[6] IS NOT NULL THEN hi[f] ELSE v END];
						ELSIF m[4] IS NOT NULL THEN
							bounds[2] := v;
						END IF;
					END LOOP;
				END IF;
				step := coalesce(m[6]::integer, 1);
			END IF;
			IF bounds IS NULL OR bounds[1] IS NULL OR bounds[2] IS NULL
				OR bounds[1] < lo[f] OR bounds[2] > hi[f] OR bounds[1] > bounds[2] OR step < 1 THEN
				RAISE EXCEPTION 'invalid schedule "%" for job "%"', schedule, job
					USING ERRCODE = '22023',
						  DETAIL = pg_catalog.format('"%s" is not a valid %s field: use *, numbers from %s to %s%s, ranges (a-b), steps (*/n, a-b/n) and lists (a,b).',
							 item, what[f], lo[f], hi[f],
							 CASE f WHEN 4 THEN ' or jan-dec' WHEN 5 THEN ' (0 and 7 are Sunday) or sun-sat' ELSE '' END);
			END IF;
			v := bounds[1];
			WHILE v <= bounds[2] LOOP
				masks[f] := masks[f] | (1::bigint << CASE WHEN f = 5 AND v = 7 THEN 0 ELSE v END);
				v := v + step;
			END LOOP;
		END LOOP;
	END LOOP;
	masks[6] := (pg_catalog.left(fields[3], 1) = '*')::integer;
	masks[7] := (pg_catalog.left(fields[5], 1) = '*')::integer;
	RETURN masks;
END
$$;

-- cron_prev: the latest time at or before upto that the schedule names, in
-- time zone tz, or NULL if it names none in the eight years before.  A day
-- matches as cron decides: when both the day-of-month and the day-of-week
-- field are restricted (neither starts with "*"), either one; otherwise
-- both.  As cron runs them, a local time that a change to summer time
-- skips counts as the moment of the change (hour-long changes), and one
-- that occurs twice at the change back counts once, the first time.
CREATE OR REPLACE FUNCTION cron_lock.cron_prev(schedule text, tz text, upto timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
DECLARE
	s bigint[] := cron_lock.cron_parse(schedule, NULL);
	lt timestamp := pg_catalog.date_trunc('minute', upto AT TIME ZONE tz);
	d date := lt::date;
	max_h integer := pg_catalog.date_part('hour', lt)::integer;
	max_m integer := pg_catalog.date_part('minute', lt)::integer;
	top_m integer;
	dom boolean;
	dow boolean;
	day_ok boolean;
	local timestamp;
	cand timestamptz;
BEGIN
	FOR i IN 0..2930 LOOP
		dom := (s[3] >> pg_catalog.date_part('day', d)::integer) & 1 = 1;
		dow := (s[5] >> pg_catalog.date_part('dow', d)::integer) & 1 = 1;
		day_ok := (s[4] >> pg_catalog.date_part('month', d)::integer) & 1 = 1
			AND CASE WHEN s[6] = 1 OR s[7] = 1 THEN dom AND dow ELSE dom OR dow END;
		IF day_ok THEN
			FOR h IN REVERSE max_h..0 LOOP
				CONTINUE WHEN (s[2] >> h) & 1 = 0;
				top_m := CASE WHEN h = max_h THEN max_m ELSE 59 END;
				FOR mi IN REVERSE top_m..0 LOOP
					CONTINUE WHEN (s[1] >> mi) & 1 = 0;
					local := d + pg_catalog.make_time(h, mi, 0);
					cand := local AT TIME ZONE tz;
					IF (cand AT TIME ZONE tz) <> local THEN
						-- Skipped by a change to summer time: the change itself.
						cand := (pg_catalog.date_trunc('hour', local) + interval '1 hour') AT TIME ZONE tz;
					ELSIF ((local - interval '1 hour') AT TIME ZONE tz) + interval '1 hour' < cand
						AND ((((local - interval '1 hour') AT TIME ZONE tz) + interval '1 hour') AT TIME ZONE tz) = local THEN
						-- Twice, at the change back: the first time.
						cand := ((local - interval '1 hour') AT TIME ZONE tz) + interval '1 hour';
					END IF;
					IF cand <= upto THEN
						RETURN cand;
					END IF;
				END LOOP;
			END LOOP;
		END IF;
		d := d - 1;
		max_h := 23;
		max_m := 59;
	END LOOP;
	RETURN NULL;
END
$$;

-- late_after: how long after an expected start a job without a run counts
-- as late: the given late_after, else half the period (for a schedule, the
-- gap between its two latest times at or before now_ts), at most 10 minutes.
CREATE OR REPLACE FUNCTION cron_lock.late_after(every interval, schedule text, tz text,
												late_after interval, now_ts timestamptz)
RETURNS interval
LANGUAGE plpgsql STABLE
AS $$
DECLARE
	last timestamptz;
	period interval := every;
BEGIN
	IF late_after IS NOT NULL OR (every IS NULL AND schedule IS NULL) THEN
		RETURN late_after;
	END IF;
	IF period IS NULL THEN
		last := cron_lock.cron_prev(schedule, tz, now_ts);
		period := last - cron_lock.cron_prev(schedule, tz, last - interval '1 minute');
	END IF;
	RETURN LEAST(period / 2, interval '10 minutes');
END
$$;

-- missed_start: the expected start a job has missed, or NULL when it is not
-- late.  With "every": the last start (or the time the expectation was set,
-- if later) plus the period is expected, and missed once late_after has
-- passed since.  With a schedule: the latest scheduled time E at least
-- late_after ago, set no earlier than the expectation itself, is missed
-- when no run started at or after E - late_after / 2 (the margin allows
-- for clocks of the hosts and of the server that differ a little).
CREATE OR REPLACE FUNCTION cron_lock.missed_start(every interval, schedule text, tz text,
												  late_after interval, set_at timestamptz,
												  last_start timestamptz, now_ts timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
DECLARE
	wait interval := cron_lock.late_after(every, schedule, tz, late_after, now_ts);
	due timestamptz;
BEGIN
	IF every IS NOT NULL THEN
		due := GREATEST(last_start, set_at) + every;
		RETURN CASE WHEN due + wait <= now_ts THEN due END;
	ELSIF schedule IS NOT NULL THEN
		due := cron_lock.cron_prev(schedule, tz, now_ts - wait);
		IF due < set_at OR last_start >= due - wait / 2 THEN
			RETURN NULL;
		END IF;
		RETURN due;
	END IF;
	RETURN NULL;
END
$$;

-- ----- schema/functions/20-jobs.sql -----
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
	PERFORM cron_lock.require_writable('set the expectation of', p_job);
	PERFORM cron_lock.refuse_foreign_objects();
	PERFORM cron_lock.commit_durably();
	IF every IS NULL AND schedule IS NULL THEN
		UPDATE cron_lock.jobs
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
	SELECT l.role INTO holder_role FROM cron_lock.leases l
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

	SELECT * INTO j FROM cron_lock.jobs WHERE job = p_job;
	IF NOT FOUND THEN
		INSERT INTO cron_lock.jobs (job) VALUES (p_job) ON CONFLICT (job) DO NOTHING;
		SELECT * INTO j FROM cron_lock.jobs WHERE job = p_job;
	END IF;
	now_ts := clock_timestamp();

	IF (every IS NOT NULL OR schedule IS NOT NULL)
		AND j.expectation_source IS DISTINCT FROM 'admin'
		AND (j.every, j.schedule, j.timezone, j.late_after)
			IS DISTINCT FROM ($3, $4, tz, $5) THEN
		n := 0;
		IF j.expectation_source IS NULL OR j.expectation_by = p_instance THEN
			UPDATE cron_lock.jobs
			   SET every = $3, schedule = $4, timezone = tz, late_after = $5,
				   expectation_source = 'run', expectation_by = p_instance, expectation_at = now_ts
			 WHERE job = p_job
			   AND (expectation_source IS NULL
					OR (expectation_source = 'run' AND expectation_by = p_instance));
			GET DIAGNOSTICS n = ROW_COUNT;
			IF n = 0 THEN
				-- Another declaration (or an administrator's) came first.
				SELECT * INTO j FROM cron_lock.jobs WHERE job = p_job;
			END IF;
		END IF;
		IF n = 0 AND j.expectation_source = 'run'
			AND (j.every, j.schedule, j.timezone, j.late_after) IS DISTINCT FROM ($3, $4, tz, $5)
			AND NOT EXISTS (SELECT FROM cron_lock.anomaly_log a
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
		UPDATE cron_lock.jobs SET warn_after_skips = p_warn WHERE job = p_job;
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
	IF octet_length(p_reason) > 4096 THEN
		RAISE EXCEPTION 'reason for pausing job "%" is too long', p_job
			USING ERRCODE = '22023',
				  DETAIL = format('It is %s bytes; the limit is %s bytes.', octet_length(p_reason), 4096);
	END IF;
	-- Above READ COMMITTED the lease row of a job first taken after the
	-- snapshot is invisible here: the pause would miss it without an error.
	IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'cannot pause job "%" at isolation level %', p_job,
			pg_catalog.upper(pg_catalog.current_setting('transaction_isolation'))
			USING ERRCODE = '0A000', HINT = 'Run it in autocommit or in a READ COMMITTED transaction.';
	END IF;
	PERFORM cron_lock.require_writable('pause', p_job);
	PERFORM cron_lock.refuse_foreign_objects();
	PERFORM cron_lock.commit_durably();
	INSERT INTO cron_lock.jobs AS j (job, paused_until, paused_by, paused_at, pause_reason)
	VALUES (p_job, p_until, cron_lock.outer_role(), now_ts, p_reason)
	ON CONFLICT (job) DO UPDATE
	   SET paused_until = excluded.paused_until, paused_by = excluded.paused_by,
		   paused_at = excluded.paused_at, pause_reason = excluded.pause_reason;
	PERFORM cron_lock.lock_new_job(p_job);
	UPDATE cron_lock.leases SET paused_until = p_until WHERE job = p_job;
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
	-- Above READ COMMITTED the lease row of a job first taken after the
	-- snapshot is invisible here: the pause would miss it without an error.
	IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'cannot resume job "%" at isolation level %', p_job,
			pg_catalog.upper(pg_catalog.current_setting('transaction_isolation'))
			USING ERRCODE = '0A000', HINT = 'Run it in autocommit or in a READ COMMITTED transaction.';
	END IF;
	PERFORM cron_lock.require_writable('resume', p_job);
	PERFORM cron_lock.refuse_foreign_objects();
	PERFORM cron_lock.commit_durably();
	SELECT paused_until > clock_timestamp() INTO was
	  FROM cron_lock.jobs WHERE job = p_job FOR NO KEY UPDATE;
	UPDATE cron_lock.jobs
	   SET paused_until = NULL, paused_by = NULL, paused_at = NULL, pause_reason = NULL
	 WHERE job = p_job AND paused_until IS NOT NULL;
	UPDATE cron_lock.leases SET paused_until = NULL WHERE job = p_job AND paused_until IS NOT NULL;
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
	IF octet_length(p_detail) > 4096 THEN
		RAISE EXCEPTION 'detail for job "%" is too long', p_job
			USING ERRCODE = '22023',
				  DETAIL = format('It is %s bytes; the limit is %s bytes.', octet_length(p_detail), 4096);
	END IF;
	PERFORM cron_lock.require_writable('report on', p_job);
	PERFORM cron_lock.refuse_foreign_objects();
	PERFORM cron_lock.commit_durably();
	SELECT * INTO r FROM cron_lock.job_runs WHERE job = p_job AND token = $2;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM cron_lock.require_authority('report on', p_job, r.role);
	IF NOT EXISTS (SELECT FROM cron_lock.anomaly_log a
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
-- while holder held job between since and until (NULL: now).  The one
-- place that counts contention for a run: the anomalies view and
-- cron_lock_skips use it.  The view's readers may not read contention,
-- hence SECURITY DEFINER: it gives a count, no rows.
CREATE OR REPLACE FUNCTION cron_lock.busy_answers(job text, holder text, since timestamptz,
												  until timestamptz)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
	SELECT pg_catalog.count(*)
	  FROM cron_lock.contention c
	 WHERE c.at >= $3 AND ($4 IS NULL OR c.at <= $4)
	   AND c.job = $1 AND c.holder = $2 AND c.instance <> $2
	   AND c.reason IN ('held', 'locked')
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
	SELECT * INTO r FROM cron_lock.job_runs WHERE job = p_job AND token = $2;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	RETURN cron_lock.busy_answers(p_job, r.instance, r.started_at, r.finished_at);
END
$$;

-- ----- schema/views/anomalies.sql -----
-- cron_lock.anomalies: the recorded anomalies, and two computed live: an
-- overlong run (still held more than one ttl, the last renewal's, past its
-- expiry, with nobody taking over) and a run that has made other instances
-- skip at least warn_after_skips times (cron_lock_declare), until its
-- runner reports many_skips itself.
CREATE OR REPLACE VIEW cron_lock.anomalies AS
SELECT a.kind, a.job, a.run_id, a.instance, a.detected_at, a.detail
  FROM cron_lock.anomaly_log a
UNION ALL
SELECT 'overlong_run', l.job, l.run_id, l.instance,
	   l.expires_at + (l.expires_at - l.heartbeat_at),
	   pg_catalog.format('Run %s of job "%s" by instance "%s" (backend pid %s) is still marked running %s after its lease expired and nobody has taken it over. Check whether that runner is stuck; if it is gone, free the job with cron_lock_force_release(%L, %s).',
						 l.run_id, l.job, l.instance,
						 coalesce(l.backend_pid::text, 'unknown'),
						 pg_catalog.date_trunc('second', pg_catalog.clock_timestamp() - l.expires_at),
						 l.job, l.token)
  FROM cron_lock.leases l
 WHERE l.held
   AND l.expires_at + (l.expires_at - l.heartbeat_at) < pg_catalog.clock_timestamp()
UNION ALL
SELECT 'many_skips', l.job, l.run_id, l.instance, pg_catalog.clock_timestamp(),
	   pg_catalog.format('Run %s of job "%s" by instance "%s", running since %s, has made other instances skip %s times (warn_after_skips is %s). Check whether it is stuck or the job runs longer than its schedule allows.',
						 l.run_id, l.job, l.instance,
						 pg_catalog.to_char(l.acquired_at, 'YYYY-MM-DD HH24:MI:SS TZ'),
						 b.n, j.warn_after_skips)
  FROM cron_lock.leases l
  JOIN cron_lock.jobs j ON j.job = l.job
 CROSS JOIN LATERAL (SELECT cron_lock.busy_answers(l.job, l.instance, l.acquired_at, NULL) AS n) b
 WHERE l.held AND j.warn_after_skips IS NOT NULL
   AND b.n >= j.warn_after_skips
   AND NOT EXISTS (SELECT FROM cron_lock.anomaly_log a
					WHERE a.kind = 'many_skips' AND a.run_id = l.run_id);

-- ----- schema/views/health.sql -----
-- cron_lock.health: per job (with a lease or a row in cron_lock.jobs), its
-- expectation, its latest runs and a state, the first that applies:
--   paused   a pause is in force (cron_lock_pause);
--   late     it has an expectation and missed a start (cron_lock.missed_start);
--   failing  a run failed or expired since its latest success;
--   running  a run holds its lease;
--   ok       it has an expectation and none of the above;
--   unknown  it has no expectation (not a failure).
-- late_after is the one in force (the default is half the period, at most
-- 10 minutes); last_status and last_duration are those of the latest
-- finished run; last_success is when the latest successful run finished.
-- expected_instances and stray_instances: filled in by issue 16 item 7.
CREATE OR REPLACE VIEW cron_lock.health AS
SELECT n.job,
	   j.every,
	   j.schedule,
	   j.timezone,
	   cron_lock.late_after(j.every, j.schedule, j.timezone, j.late_after, c.now) AS late_after,
	   j.expectation_source,
	   last.started_at AS last_start,
	   ok.finished_at AS last_success,
	   fin.status AS last_status,
	   fin.finished_at - fin.started_at AS last_duration,
	   fails.n AS consecutive_failures,
	   CASE WHEN j.paused_until > c.now THEN j.paused_until END AS paused_until,
	   CASE WHEN j.paused_until > c.now THEN 'paused'
			WHEN cron_lock.missed_start(j.every, j.schedule, j.timezone, j.late_after,
										j.expectation_at, last.started_at, c.now) IS NOT NULL THEN 'late'
			WHEN fails.n > 0 THEN 'failing'
			WHEN l.held THEN 'running'
			WHEN j.every IS NOT NULL OR j.schedule IS NOT NULL THEN 'ok'
			ELSE 'unknown' END AS state,
	   NULL::text[] AS expected_instances,
	   NULL::text[] AS stray_instances
  FROM (SELECT l.job FROM cron_lock.leases l UNION SELECT j.job FROM cron_lock.jobs j) n
 CROSS JOIN (SELECT pg_catalog.clock_timestamp() AS now) c
  LEFT JOIN cron_lock.jobs j ON j.job = n.job
  LEFT JOIN cron_lock.leases l ON l.job = n.job
  LEFT JOIN LATERAL (SELECT r.started_at FROM cron_lock.job_runs r
					  WHERE r.job = n.job ORDER BY r.token DESC LIMIT 1) last ON true
  LEFT JOIN LATERAL (SELECT r.token, r.finished_at FROM cron_lock.job_runs r
					  WHERE r.job = n.job AND r.status = 'succeeded'
					  ORDER BY r.token DESC LIMIT 1) ok ON true
  LEFT JOIN LATERAL (SELECT r.status, r.started_at, r.finished_at FROM cron_lock.job_runs r
					  WHERE r.job = n.job AND r.status <> 'running'
					  ORDER BY r.token DESC LIMIT 1) fin ON true
 CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS n FROM cron_lock.job_runs r
					  WHERE r.job = n.job AND r.status IN ('failed', 'expired')
						AND r.token > coalesce(ok.token, 0)) fails;

-- ----- schema/views/status.sql -----
-- cron_lock.status: the lease of each job.  A free job shows no holder,
-- backend or expiry (only its last token and run); last_success is when its
-- latest successful run finished; paused_until is set while it is paused.
CREATE OR REPLACE VIEW cron_lock.status AS
SELECT l.job,
	   CASE WHEN NOT l.held THEN 'free'
			WHEN l.expires_at > pg_catalog.clock_timestamp() THEN 'held'
			ELSE 'expired' END AS state,
	   CASE WHEN l.held THEN l.instance END AS holder,
	   l.token,
	   l.run_id,
	   CASE WHEN l.held THEN l.backend_pid END AS backend_pid,
	   CASE WHEN l.held THEN cron_lock.backend_alive(l.backend_pid, l.backend_start) END AS backend_alive,
	   l.acquired_at,
	   l.heartbeat_at,
	   CASE WHEN l.held THEN l.expires_at END AS expires_at,
	   (SELECT r.finished_at FROM cron_lock.job_runs r
		 WHERE r.job = l.job AND r.status = 'succeeded'
		 ORDER BY r.token DESC LIMIT 1) AS last_success,
	   CASE WHEN l.paused_until > pg_catalog.clock_timestamp() THEN l.paused_until END AS paused_until
  FROM cron_lock.leases l;

-- Kept by pg_dump with the other tables.
SELECT pg_catalog.pg_extension_config_dump('cron_lock.jobs', '');

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

GRANT SELECT ON cron_lock.health TO cron_lock_user, cron_lock_admin;
GRANT SELECT ON cron_lock.jobs TO cron_lock_admin;
