-- Contention evidence ends as counters per (job, instance, holder, reason,
-- hour): a busy answer writes one raw row, and ordinary calls (each
-- release) fold a small batch of them into cron_lock.contention_hourly and
-- enforce the retention (cron_lock.sweep()).  Issue 16 item 8.

-- Counters are per hour: a test that straddles the top of an hour would see
-- twice the counters, so it starts after the hour turns when it is close.
DO $$
BEGIN
	IF 3600 - extract(epoch FROM clock_timestamp())::numeric % 3600 < 90 THEN
		PERFORM pg_sleep(3601 - extract(epoch FROM clock_timestamp())::numeric % 3600);
	END IF;
END
$$;

-- A real storm: ten instances ask for ten jobs, each held by one of them,
-- 20 times each: 1800 busy answers, 1800 raw rows.
SELECT count(*) AS taken FROM generate_series(1, 10) j, cron_lock_try('cnt.' || j, 'h' || j, '1 hour') t
 WHERE t.acquired;
DO $$
BEGIN
	FOR n IN 1..20 LOOP
		FOR j IN 1..10 LOOP
			FOR i IN 1..10 LOOP
				IF i <> j AND (SELECT reason FROM cron_lock_try('cnt.' || j, 'h' || i, '1 hour')) <> 'held' THEN
					RAISE EXCEPTION 'not busy';
				END IF;
			END LOOP;
		END LOOP;
	END LOOP;
END
$$;
SELECT count(*) AS raw FROM cron_lock.contention WHERE job LIKE 'cnt.%';

-- Ordinary calls fold them: one release in 8 folds a batch of up to 2000;
-- 200 runs of another job (that none of them folds: a chance of 3e-12).
DO $$
BEGIN
	FOR n IN 1..200 LOOP
		IF NOT cron_lock_release('cnt.other', (SELECT token FROM cron_lock_try('cnt.other', 'h1', '1 hour'))) THEN
			RAISE EXCEPTION 'not released';
		END IF;
	END LOOP;
END
$$;
SELECT (SELECT count(*) FROM cron_lock.contention WHERE job LIKE 'cnt.%') AS raw,
	   count(*) AS counters, sum(busy) AS busy,
	   count(DISTINCT (job, instance)) AS pairs, bool_and(holder <> instance) AS holder_named,
	   bool_and(first_seen <= last_seen AND hour <= first_seen AND last_seen < hour + interval '1 hour') AS in_hour,
	   bool_and(last_backend_pid = pg_backend_pid()) AS last_pid
  FROM cron_lock.contention_hourly WHERE job LIKE 'cnt.%';
-- The views read both: the same totals.
SELECT sum(busy) AS sightings_busy FROM cron_lock.sightings WHERE job LIKE 'cnt.%';
SELECT count(*) AS jobs, sum(busy_answers) AS busy, min(instances) AS instances
  FROM cron_lock_duplicates('1 hour') WHERE job LIKE 'cnt.%';
-- So does the count of the busy answers a run caused (cron_lock_skips, the
-- many_skips anomaly): 9 other instances times 20, all folded by now.
SELECT cron_lock_skips('cnt.1', l.token) AS skips FROM cron_lock.leases l WHERE l.job = 'cnt.1';
-- More busy answers of the same pairs land in the same counters.
SELECT count(*) AS answers FROM generate_series(2, 10) i, cron_lock_try('cnt.1', 'h' || i, '1 hour');
SELECT cron_lock.sweep() AS folded;
SELECT count(*) AS counters, sum(busy) AS busy FROM cron_lock.contention_hourly WHERE job = 'cnt.1';

-- A million busy answers from ten instances on ten jobs over three whole hours,
-- written in bulk, then folded: a few hundred rows of evidence remain.
INSERT INTO cron_lock.contention (job, instance, holder, reason, at, backend_pid, client_addr)
SELECT 'mil.' || (n % 10), 'm' || (n / 10 % 10), 'm' || (n % 10), 'held',
	   date_trunc('hour', now()) - interval '3 hours' + (n % 10800) * interval '1 second', 4242, NULL
  FROM generate_series(0, 999999) n;
SELECT cron_lock.sweep(300000) AS folded;
SELECT cron_lock.sweep(300000) AS folded;
SELECT cron_lock.sweep(300000) AS folded;
SELECT cron_lock.sweep(300000) AS folded;
SELECT (SELECT count(*) FROM cron_lock.contention WHERE job LIKE 'mil.%') AS raw,
	   count(*) <= 400 AS few_hundred, count(*) AS counters, sum(busy) AS busy,
	   count(DISTINCT (job, instance)) AS pairs
  FROM cron_lock.contention_hourly WHERE job LIKE 'mil.%';

-- Retention: busy answers older than 30 days (the default) go on ordinary
-- calls; runs and anomalies stay until an administrator sets a run retention.
UPDATE cron_lock.contention_hourly SET hour = hour - interval '40 days',
	first_seen = first_seen - interval '40 days', last_seen = last_seen - interval '40 days'
 WHERE job LIKE 'mil.%';
UPDATE cron_lock.job_runs SET started_at = started_at - interval '40 days',
	finished_at = finished_at - interval '40 days' WHERE job = 'cnt.other';
SELECT cron_lock.sweep(1000, 1) > 0 AS swept;
SELECT (SELECT count(*) FROM cron_lock.contention_hourly WHERE job LIKE 'mil.%') AS old_counters,
	   (SELECT count(*) FROM cron_lock.contention_hourly WHERE job LIKE 'cnt.%') > 0 AS recent_kept,
	   (SELECT count(*) FROM cron_lock.job_runs WHERE job = 'cnt.other') AS runs_kept;
-- Counters last seen more than a retention ago go; so do runs, once a run
-- retention is set (never a lease's run).
UPDATE cron_lock.contention_hourly SET hour = hour - interval '4 days',
	first_seen = first_seen - interval '4 days', last_seen = last_seen - interval '4 days'
 WHERE job = 'cnt.1' AND instance = 'h2';
SELECT cron_lock_retention('3 days', '30 days');
SELECT name, value FROM cron_lock.settings ORDER BY name;
SELECT cron_lock.sweep(1000, 1) > 0 AS swept;
SELECT (SELECT count(*) FROM cron_lock.contention_hourly WHERE job LIKE 'cnt.%') AS recent_counters,
	   (SELECT count(*) FROM cron_lock.contention_hourly WHERE job = 'cnt.1' AND instance = 'h2') AS stale_counter,
	   (SELECT count(*) FROM cron_lock.job_runs WHERE job = 'cnt.other') AS old_runs;
SELECT cron_lock_retention();
SELECT name, value FROM cron_lock.settings ORDER BY name;
-- Bad input.
SELECT cron_lock_retention(NULL);
SELECT cron_lock_retention('0 days');
SELECT cron_lock_retention('1 day', '-1 day');

-- Folding does not wait for a release: busy answers of a job whose runs
-- only ever expire and are taken over are folded too, on one acquisition
-- or takeover in 8 (200 takeovers: none sweeping has chance (7/8)^200).
SELECT reason FROM cron_lock_try('cnt.tk', 'h1', '1 hour');
SELECT count(*) AS busy FROM generate_series(1, 50) i, cron_lock_try('cnt.tk', 'h' || (i % 5 + 2), '1 hour') t;
DO $$
BEGIN
	FOR i IN 1..200 LOOP
		UPDATE cron_lock.leases SET expires_at = clock_timestamp() - interval '1 second' WHERE job = 'cnt.tk';
		PERFORM cron_lock_try('cnt.tk', 'h' || (i % 3 + 1), '1 hour');
	END LOOP;
END
$$;
SELECT (SELECT count(*) FROM cron_lock.job_runs WHERE job = 'cnt.tk' AND status = 'expired') AS taken_over,
	   (SELECT count(*) FROM cron_lock.job_runs WHERE job = 'cnt.tk' AND status NOT IN ('expired', 'running')) AS released,
	   (SELECT count(*) FROM cron_lock.contention WHERE job = 'cnt.tk') AS raw,
	   (SELECT sum(busy) FROM cron_lock.contention_hourly WHERE job = 'cnt.tk') AS counted;

-- Nor for a run to end: a long run's renewals fold them too (one in 8;
-- 200 renewals).
SELECT reason FROM cron_lock_try('cnt.hb', 'h1', '1 hour');
SELECT count(*) AS busy FROM generate_series(1, 50) i, cron_lock_try('cnt.hb', 'h' || (i % 5 + 2), '1 hour') t;
DO $$
BEGIN
	FOR i IN 1..200 LOOP
		IF cron_lock_heartbeat('cnt.hb', (SELECT token FROM cron_lock.leases WHERE job = 'cnt.hb'), '1 hour') IS NULL THEN
			RAISE EXCEPTION 'not renewed';
		END IF;
	END LOOP;
END
$$;
SELECT (SELECT count(*) FROM cron_lock.contention WHERE job = 'cnt.hb') AS raw,
	   (SELECT sum(busy) FROM cron_lock.contention_hourly WHERE job = 'cnt.hb') AS counted;

-- Leave nothing behind for the tests that count rows.
DELETE FROM cron_lock.leases WHERE job LIKE 'cnt.%';
DELETE FROM cron_lock.job_runs WHERE job LIKE 'cnt.%';
DELETE FROM cron_lock.anomaly_log WHERE job = 'cnt.tk';
DELETE FROM cron_lock.contention WHERE job LIKE 'cnt.%' OR job LIKE 'mil.%';
DELETE FROM cron_lock.contention_hourly WHERE job LIKE 'cnt.%' OR job LIKE 'mil.%';
DELETE FROM cron_lock.settings;
