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
LANGUAGE plpgsql IMMUTABLE
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
