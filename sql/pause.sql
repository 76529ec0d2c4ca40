-- Pause and resume (issue 16 item 5): cron_lock_try answers "paused", after
-- replay and before held/locked/too_soon, records no contention, and a
-- pause with an end expires on its own.
CREATE FUNCTION contention_rows(j text) RETURNS bigint LANGUAGE sql
AS $$SELECT count(*) FROM cron_lock.contention WHERE job = j$$;

-- A job held by host-1 is paused: the run goes on, other tries are refused.
SELECT reason, token FROM cron_lock_try('pa.held', 'host-1', '1 hour', 'aaaaaaaa-0000-0000-0000-000000000001');
SELECT cron_lock_pause('pa.held', reason => 'maintenance');
SELECT acquired, reason, run_id, token, holder, holder_pid = pg_backend_pid() AS my_pid,
	   expires_at IS NOT NULL AS has_expiry
  FROM cron_lock_try('pa.held', 'host-2', '1 hour');
SELECT contention_rows('pa.held');
-- The holder's own retry is still replayed; it renews and releases as before.
SELECT reason, token FROM cron_lock_try('pa.held', 'host-1', '1 hour', 'aaaaaaaa-0000-0000-0000-000000000001');
SELECT cron_lock_heartbeat('pa.held', 1, '1 hour') IS NOT NULL AS renewed;
SELECT cron_lock_release('pa.held', 1);
-- Free and paused: no holder named; min_gap would say too_soon, paused comes first.
SELECT acquired, reason, holder, holder_pid, expires_at FROM cron_lock_try('pa.held', 'host-2', '1 hour', min_gap => '1 hour');
SELECT contention_rows('pa.held');
SELECT job, state, holder, paused_until FROM cron_lock.status WHERE job = 'pa.held';
SELECT job, paused_until, paused_by = current_user AS by_me, paused_at IS NOT NULL AS has_at, pause_reason
  FROM cron_lock.jobs WHERE job = 'pa.held';
SELECT job, state, paused_until FROM cron_lock.health WHERE job = 'pa.held';

-- Resume: true once, then false; the job runs again.
SELECT cron_lock_resume('pa.held');
SELECT cron_lock_resume('pa.held');
SELECT reason, token FROM cron_lock_try('pa.held', 'host-2', '1 hour');
SELECT job, paused_until, paused_by, pause_reason FROM cron_lock.jobs WHERE job = 'pa.held';
SELECT paused_until FROM cron_lock.status WHERE job = 'pa.held';

-- A job never run yet can be paused: no lease row is made while paused.
SELECT cron_lock_pause('pa.new', now() + interval '1 hour');
SELECT acquired, reason FROM cron_lock_try('pa.new', 'host-1', '1 hour');
SELECT count(*) AS lease_rows FROM cron_lock.leases WHERE job = 'pa.new';
SELECT contention_rows('pa.new');
SELECT job, state, paused_until > now() AS paused FROM cron_lock.health WHERE job = 'pa.new';

-- A pause with an end expires on its own: move its end into the past, as
-- time would (the owner may write the tables; nothing else changes).
UPDATE cron_lock.jobs SET paused_until = now() - interval '1 second' WHERE job = 'pa.new';
SELECT acquired, reason FROM cron_lock_try('pa.new', 'host-1', '1 hour');
SELECT cron_lock_pause('pa.new', now() + interval '1 hour');
SELECT acquired, reason FROM cron_lock_try('pa.new', 'host-2', '1 hour');
UPDATE cron_lock.jobs SET paused_until = now() - interval '1 second' WHERE job = 'pa.new';
UPDATE cron_lock.leases SET paused_until = now() - interval '1 second' WHERE job = 'pa.new';
SELECT acquired, reason FROM cron_lock_try('pa.new', 'host-2', '1 hour');
SELECT job, state, paused_until FROM cron_lock.health WHERE job = 'pa.new';
SELECT job, paused_until FROM cron_lock.status WHERE job = 'pa.new';
SELECT cron_lock_resume('pa.new');  -- had expired: false

-- Bad input: 22004 / 22023 / 25006, and nothing changes.
SELECT row_counts() AS before \gset
SELECT stmt, error_of(stmt) FROM (VALUES
	($$SELECT cron_lock_pause(NULL)$$),
	($$SELECT cron_lock_pause('')$$),
	($$SELECT cron_lock_pause('pa.x', now() - interval '1 minute')$$),
	($$SELECT cron_lock_pause('pa.x', reason => repeat('x', 4097))$$),
	($$SELECT cron_lock_resume(NULL)$$),
	($$SELECT cron_lock_resume(E'pa\tx')$$)
) AS t(stmt);
BEGIN READ ONLY;
SELECT error_of($$SELECT cron_lock_pause('pa.x')$$), error_of($$SELECT cron_lock_resume('pa.x')$$);
ROLLBACK;
SELECT row_counts() = :'before' AS unchanged, (SELECT count(*) FROM cron_lock.jobs WHERE job = 'pa.x') AS jobs_rows;

-- Only administrators pause and resume.
SET ROLE regress_cron_lock_runner;
SELECT error_of($$SELECT cron_lock_pause('pa.held')$$), error_of($$SELECT cron_lock_resume('pa.held')$$);
RESET ROLE;
SET ROLE regress_cron_lock_boss;
SELECT cron_lock_pause('pa.boss');
SELECT cron_lock_resume('pa.boss');
RESET ROLE;

-- cron_lock.jobs belongs to cron_lock like the other tables: anything that
-- would run code in its writes makes the functions that use it refuse (55000).
CREATE FUNCTION regress_jobs_trigger() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER regress_jobs_trg BEFORE INSERT OR UPDATE ON cron_lock.jobs
	FOR EACH ROW EXECUTE FUNCTION regress_jobs_trigger();
SELECT stmt, error_of(stmt) FROM (VALUES
	($$SELECT cron_lock_pause('pa.trg')$$),
	($$SELECT cron_lock_resume('pa.trg')$$),
	($$SELECT cron_lock_expect('pa.trg', every => '1 hour')$$),
	($$SELECT cron_lock_declare('pa.trg', 'h', '1 hour', NULL, NULL, NULL)$$),
	($$SELECT cron_lock_try('pa.trg', 'h', '1 hour')$$)
) AS t(stmt);
DROP TRIGGER regress_jobs_trg ON cron_lock.jobs;
DROP FUNCTION regress_jobs_trigger();
SELECT reason FROM cron_lock_try('pa.trg', 'h', '1 hour');
