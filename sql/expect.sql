-- Expectations of a job (issue 16 item 4): the crontab parser both editions
-- share, cron_lock_expect (admin), cron_lock_declare (runs), and the
-- expectation_mismatch anomaly.  Times are fixed, in UTC, so nothing here
-- depends on the clock.
SET TimeZone = 'UTC';

-- The roles of "who may" below (sql/privileges.sql drops its own).
CREATE ROLE regress_cron_lock_nobody LOGIN;
CREATE ROLE regress_cron_lock_runner LOGIN IN ROLE cron_lock_user;
CREATE ROLE regress_cron_lock_boss LOGIN IN ROLE cron_lock_admin;
GRANT regress_cron_lock_nobody, regress_cron_lock_runner, regress_cron_lock_boss TO CURRENT_USER;
-- cron_prev: the latest scheduled time at or before a moment.  2026-12-06
-- is a Sunday.
SELECT s, cron_lock.cron_prev(s, 'UTC', '2026-12-06 12:00:30+00') AS prev FROM (VALUES
	('* * * * *'),
	('*/15 * * * *'),
	('30 2 * * mon-fri'),        -- weekdays only: not Sunday, not Saturday
	('30 2 * * 1-5'),
	('0 9 * * 0'),               -- Sunday, as 0
	('0 9 * * 7'),               -- and as 7
	('0 9 * * sun'),
	('0 9 13 * fri'),            -- both restricted: the 13th or a Friday
	('0 9 */2 * fri'),           -- "*/2" starts with "*": odd days that are Fridays
	('5 4 * jan,dec *'),
	('0 0 29 2 *'),              -- a leap day
	('0 22-23/1,3 * * *'),
	('10/20 * * * *'),           -- N/S: from N to the end, every S
	('0 */6 1-10 * *'),
	('@hourly'),
	('@daily'),
	('@weekly'),
	('@monthly'),
	('@yearly'),
	('  0  12  *  *  SAT  ')     -- spaces, upper case
) AS t(s);

-- At the very minute of a scheduled time, that time; a second before, the one before.
SELECT cron_lock.cron_prev('0 12 * * *', 'UTC', '2026-12-06 12:00:00+00'),
	   cron_lock.cron_prev('0 12 * * *', 'UTC', '2026-12-06 11:59:59+00');

-- In the schedule's time zone: 09:00 in Berlin is 08:00 UTC in winter, 07:00 in summer.
SELECT cron_lock.cron_prev('0 9 * * *', 'Europe/Berlin', '2026-12-06 12:00:00+00'),
	   cron_lock.cron_prev('0 9 * * *', 'Europe/Berlin', '2026-07-06 12:00:00+00');
-- Daylight saving in New York, as cron runs jobs: 01:30 happens twice on
-- 2026-11-01 (05:30 and 06:30 UTC) and counts once, the first time; 02:30
-- does not happen on 2026-03-08 and counts as the change, 03:00 EDT (07:00 UTC).
SELECT cron_lock.cron_prev('30 1 * * *', 'America/New_York', '2026-11-01 05:45:00+00') AS first_of_two,
	   cron_lock.cron_prev('30 1 * * *', 'America/New_York', '2026-11-01 07:00:00+00') AS still_first,
	   cron_lock.cron_prev('30 2 * * *', 'America/New_York', '2026-03-08 12:00:00+00') AS skipped_hour,
	   cron_lock.cron_prev('30 3 * * *', 'America/New_York', '2026-03-08 12:00:00+00') AS after_change;

-- A schedule or time zone over 200 bytes is refused (health parses each on every read).
SELECT error_of(format('SELECT cron_lock_expect(%L, schedule => %L)', 'ex.long', repeat('1,', 150) || '1 * * * *')),
       error_of(format('SELECT cron_lock_expect(%L, schedule => %L, timezone => %L)', 'ex.long', '* * * * *', repeat('x', 201)));
-- Bad schedules: 22023, naming the field.
SELECT s, error_of(format('SELECT cron_lock.cron_parse(%L, %L)', s, 'ex.job')) FROM (VALUES
	('* * * *'), ('* * * * * *'), ('60 * * * *'), ('* 24 * * *'), ('* * 0 * *'),
	('* * * 13 *'), ('* * * * 8'), ('5-1 * * * *'), ('*/0 * * * *'), ('1,,2 * * * *'),
	('* * * * mon-sun'), ('* * * foo *'), ('* mon * * *'), ('@reboot'), (''), ('-1 * * * *')
) AS t(s);

-- The default late_after: half the period, at most 10 minutes.
SELECT cron_lock.late_after(interval '5 minutes', NULL, NULL, NULL, now()) AS every_5m,
	   cron_lock.late_after(interval '1 hour', NULL, NULL, NULL, now()) AS every_1h,
	   cron_lock.late_after(NULL, '*/4 * * * *', 'UTC', NULL, now()) AS schedule_4m,
	   cron_lock.late_after(NULL, '0 9 * * 1-5', 'UTC', NULL, now()) AS schedule_daily,
	   cron_lock.late_after(interval '1 hour', NULL, NULL, interval '3 minutes', now()) AS given;

-- cron_lock_expect: an administrator's expectation.
SELECT cron_lock_expect('ex.a', every => '5 minutes');
SELECT cron_lock_expect('ex.b', schedule => '30 2 * * mon-fri', timezone => 'Europe/Berlin', late_after => '15 minutes');
SELECT cron_lock_expect('ex.c', schedule => '0 * * * *');   -- the session's time zone
SELECT job, every, schedule, timezone, late_after, expectation_source, expectation_by = current_user AS by_me,
	   expectation_at IS NOT NULL AS has_at
  FROM cron_lock.jobs WHERE job LIKE 'ex.%' ORDER BY job;

-- Bad input: 22004 / 22023, and nothing changes.
SELECT stmt, error_of(stmt) FROM (VALUES
	($$SELECT cron_lock_expect(NULL, every => '1 minute')$$),
	($$SELECT cron_lock_expect('', every => '1 minute')$$),
	($$SELECT cron_lock_expect('ex.a', every => '1 minute', schedule => '* * * * *')$$),
	($$SELECT cron_lock_expect('ex.a', every => '1 month')$$),
	($$SELECT cron_lock_expect('ex.a', every => '0 seconds')$$),
	($$SELECT cron_lock_expect('ex.a', every => '-1 minute')$$),
	($$SELECT cron_lock_expect('ex.a', every => '400 days')$$),
	($$SELECT cron_lock_expect('ex.a', late_after => '1 minute')$$),
	($$SELECT cron_lock_expect('ex.a', every => '1 minute', late_after => '0')$$),
	($$SELECT cron_lock_expect('ex.a', schedule => '* * * *')$$),
	($$SELECT cron_lock_expect('ex.a', schedule => '0 0 31 2 *')$$),
	($$SELECT cron_lock_expect('ex.a', schedule => '0 * * * *', timezone => 'Mars/Olympus')$$),
	($$SELECT cron_lock_declare('ex.a', NULL, '1 minute', NULL, NULL, NULL)$$),
	($$SELECT cron_lock_declare('ex.a', 'h1', '1 minute', NULL, NULL, NULL, 0)$$)
) AS t(stmt);
SELECT job, every, schedule, late_after FROM cron_lock.jobs WHERE job LIKE 'ex.%' ORDER BY job;

-- A read-only transaction: 25006.
BEGIN READ ONLY;
SELECT error_of($$SELECT cron_lock_expect('ex.a', every => '1 minute')$$);
ROLLBACK;

-- Runs declare; an administrator's expectation wins over theirs.
SELECT held_declare('ex.a', 'host-1', '1 minute', NULL, NULL, 'UTC', 3);
SELECT job, every, expectation_source, warn_after_skips FROM cron_lock.jobs WHERE job = 'ex.a';
-- Cleared by the administrator, the next declaration counts.
SELECT cron_lock_expect('ex.a');
SELECT job, every, expectation_source FROM cron_lock.jobs WHERE job = 'ex.a';
SELECT held_declare('ex.a', 'host-1', '1 minute', NULL, NULL, 'UTC');
SELECT job, every, timezone, expectation_source, expectation_by FROM cron_lock.jobs WHERE job = 'ex.a';

-- The first declaring instance keeps its expectation and may change it;
-- another instance declaring something else is an anomaly, once an hour.
SELECT held_declare('ex.r', 'host-1', NULL, '*/5 * * * *', NULL, 'UTC');
SELECT held_declare('ex.r', 'host-2', NULL, '*/5 * * * *', NULL, 'UTC');  -- the same: fine
SELECT held_declare('ex.r', 'host-2', NULL, '*/10 * * * *', NULL, 'UTC');
SELECT held_declare('ex.r', 'host-2', NULL, '*/10 * * * *', NULL, 'UTC');
SELECT job, schedule, expectation_by FROM cron_lock.jobs WHERE job = 'ex.r';
SELECT kind, job, run_id, instance, regexp_replace(detail, 'on \d{4}-\S+ \S+ \S+', 'on (time)') AS detail
  FROM cron_lock.anomalies WHERE job = 'ex.r';
SELECT held_declare('ex.r', 'host-1', NULL, '*/10 * * * *', NULL, 'UTC');
SELECT job, schedule, expectation_by FROM cron_lock.jobs WHERE job = 'ex.r';
-- Declaring the same again writes nothing (the row version stays).
SELECT ctid AS before FROM cron_lock.jobs WHERE job = 'ex.r' \gset
SELECT held_declare('ex.r', 'host-1', NULL, '*/10 * * * *', NULL, 'UTC');
SELECT ctid = :'before' AS unchanged FROM cron_lock.jobs WHERE job = 'ex.r';

-- Who may: runs declare, only administrators expect.
SET ROLE regress_cron_lock_runner;
SELECT reason FROM cron_lock_try('ex.p', 'runner', '1 hour');
SELECT cron_lock_declare('ex.p', 'runner', '1 hour', NULL, NULL, NULL);
-- Not the holder: another instance name, or a free job (42501).
SELECT error_of($$SELECT cron_lock_declare('ex.p', 'other', '2 hours', NULL, NULL, NULL)$$),
       error_of($$SELECT cron_lock_declare('ex.free', 'runner', '2 hours', NULL, NULL, NULL)$$);
SELECT error_of($$SELECT cron_lock_expect('ex.p', every => '1 minute')$$);
SELECT error_of($$SELECT * FROM cron_lock.jobs$$);
SELECT job, every, expectation_source FROM cron_lock.health WHERE job = 'ex.p';
RESET ROLE;
SET ROLE regress_cron_lock_boss;
SELECT cron_lock_expect('ex.p', every => '2 hours');
SELECT job, every, expectation_source FROM cron_lock.jobs WHERE job = 'ex.p';
RESET ROLE;
SET ROLE regress_cron_lock_nobody;
SELECT error_of($$SELECT cron_lock_declare('ex.p', 'x', '1 hour', NULL, NULL, NULL)$$);
SELECT error_of($$SELECT * FROM cron_lock.health$$);
RESET ROLE;
RESET TimeZone;
DROP ROLE regress_cron_lock_nobody, regress_cron_lock_runner, regress_cron_lock_boss;
