-- test/bench/setup.sql: the rivals cron_lock is measured against, and the
-- leases the busy benchmarks run into.  Run once per database by run.sh as
-- the cluster's superuser, after CREATE EXTENSION cron_lock.
--   psql -v jobs=1000 -f setup.sql
\set ON_ERROR_STOP on
SET client_min_messages = warning;

-- ShedLock (net.javacrumbs.shedlock, JdbcTemplateLockProvider with
-- usingDbTime(), PostgreSQL: PostgresSqlServerTimeStatementsSource).  The
-- table is the one its README gives for PostgreSQL; the statements it sends
-- are in shedlock_cycle.sql.
CREATE TABLE shedlock (
	name       VARCHAR(64) NOT NULL,
	lock_until TIMESTAMP NOT NULL,
	locked_at  TIMESTAMP NOT NULL,
	locked_by  VARCHAR(255) NOT NULL,
	PRIMARY KEY (name)
);

-- A hand-rolled lock helper, written the way an application team writes
-- one: a table of named locks, SELECT ... FOR UPDATE, compare with now(),
-- update.  It has no fencing token and no history, and it waits on a row
-- that another session has locked.
CREATE TABLE job_locks (
	name         text PRIMARY KEY,
	locked_by    text,
	locked_at    timestamptz,
	locked_until timestamptz NOT NULL DEFAULT '-infinity'
);

CREATE FUNCTION app_try_lock(p_name text, p_owner text, p_ttl interval)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
	r job_locks%ROWTYPE;
BEGIN
	SELECT * INTO r FROM job_locks WHERE name = p_name FOR UPDATE;
	IF NOT FOUND THEN
		INSERT INTO job_locks (name, locked_by, locked_at, locked_until)
		VALUES (p_name, p_owner, now(), now() + p_ttl)
		ON CONFLICT (name) DO NOTHING;
		RETURN FOUND;
	END IF;
	IF r.locked_until > now() THEN
		RETURN false;
	END IF;
	UPDATE job_locks
	   SET locked_by = p_owner, locked_at = now(), locked_until = now() + p_ttl
	 WHERE name = p_name;
	RETURN true;
END
$$;

CREATE FUNCTION app_unlock(p_name text, p_owner text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
	UPDATE job_locks SET locked_until = now()
	 WHERE name = p_name AND locked_by = p_owner;
	RETURN FOUND;
END
$$;

-- The WAL-flush floor: one row written and committed.
CREATE TABLE kv (
	k text PRIMARY KEY,
	v timestamptz NOT NULL
);

-- For the contract's writes alone, measured beside cron_lock (busy_writes.sql,
-- acquire_writes.sql, cycle_writes.sql): copies of its tables with the same
-- columns, indexes and fillfactors, and a lease row per cycle job.
CREATE TABLE contention_copy (LIKE cron_lock.contention INCLUDING ALL);
CREATE TABLE leases_copy (LIKE cron_lock.leases INCLUDING ALL) WITH (fillfactor = 50);
CREATE TABLE job_runs_copy (LIKE cron_lock.job_runs INCLUDING ALL) WITH (fillfactor = 90);
INSERT INTO leases_copy (job, token, run_id, instance, held, acquired_at, heartbeat_at, expires_at)
SELECT 'cycle-' || g, 0, 0, 'warm-up', false, now(), now(), now()
  FROM generate_series(1, :jobs) g;

-- Leases held by somebody else for a day: what the busy benchmarks ask for.
SELECT count(*) AS busy_leases
  FROM generate_series(1, :jobs) g,
	   LATERAL cron_lock_try('busy-' || g, 'holder', '1 day') t
 WHERE t.acquired;
SELECT count(*) AS busy_app_locks
  FROM generate_series(1, :jobs) g
 WHERE app_try_lock('busy-' || g, 'holder', '1 day');

-- Every rival's cycle jobs exist before the first measured run, so that no
-- run measures first-time inserts (acquire does that on purpose).
SELECT count(*) AS cycle_leases
  FROM generate_series(1, :jobs) g,
	   LATERAL cron_lock_try('cycle-' || g, 'warm-up', '60s') t
 WHERE cron_lock_release('cycle-' || g, t.token);
INSERT INTO shedlock (name, lock_until, locked_at, locked_by)
SELECT 'cycle-' || g, timezone('utc', CURRENT_TIMESTAMP), timezone('utc', CURRENT_TIMESTAMP), 'warm-up'
  FROM generate_series(1, :jobs) g;
SELECT count(*) AS cycle_app_locks
  FROM generate_series(1, :jobs) g
 WHERE app_try_lock('cycle-' || g, 'warm-up', '0 s');
