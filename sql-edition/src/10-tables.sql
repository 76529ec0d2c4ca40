/* sql-edition/src/10-tables.sql: schema cron_lock, its tables, indexes and
 * result type: the same layout as the extension (extension/cron_lock--*.sql).
 * Created only when absent, so that a reinstall over kept history (after an
 * uninstall without --purge) continues the run ids and the tokens. */

CREATE SCHEMA IF NOT EXISTS cron_lock;
GRANT USAGE ON SCHEMA cron_lock TO cron_lock_user, cron_lock_admin;

CREATE SEQUENCE IF NOT EXISTS cron_lock.job_runs_run_id_seq;

-- One row per acquisition.  Statuses are not CHECK constraints, as in the
-- extension: only the edition's functions write here.
CREATE TABLE IF NOT EXISTS cron_lock.job_runs (
	run_id           bigint PRIMARY KEY DEFAULT nextval('cron_lock.job_runs_run_id_seq'),
	job              text COLLATE "C" NOT NULL,
	instance         text COLLATE "C" NOT NULL,
	token            bigint NOT NULL,
	attempt          uuid,
	status           text COLLATE "C" NOT NULL,  -- running, succeeded, failed, cancelled, expired
	started_at       timestamptz NOT NULL,
	heartbeat_at     timestamptz NOT NULL,
	expires_at       timestamptz NOT NULL,
	finished_at      timestamptz,
	backend_pid      integer,
	backend_start    timestamptz,
	client_addr      inet,
	application_name text,
	message          text,
	taken_over_by    bigint,
	reported_status  text COLLATE "C",          -- succeeded, failed, cancelled
	reported_at      timestamptz,
	forced_by        text,
	role             text,                      -- the role that took it (authority)
	CONSTRAINT job_runs_job_token_key UNIQUE (job, token)
) WITH (fillfactor = 90);
ALTER SEQUENCE cron_lock.job_runs_run_id_seq OWNED BY cron_lock.job_runs.run_id;

-- The current lease per job.  The primary key must stay its only unique
-- index: updates that keep job are then "no key" updates, which is what lets
-- cron_lock_check's FOR KEY SHARE block takeovers but not heartbeats.
CREATE TABLE IF NOT EXISTS cron_lock.leases (
	job           text COLLATE "C" PRIMARY KEY,
	token         bigint NOT NULL,
	run_id        bigint NOT NULL,
	instance      text COLLATE "C" NOT NULL,
	held          boolean NOT NULL,
	attempt       uuid,
	backend_pid   integer,
	backend_start timestamptz,
	acquired_at   timestamptz NOT NULL,
	heartbeat_at  timestamptz NOT NULL,
	expires_at    timestamptz NOT NULL,
	role          text                  -- the role that took it (authority)
) WITH (fillfactor = 50);

-- Every held, locked or too_soon answer: who asked, who held.
CREATE TABLE IF NOT EXISTS cron_lock.contention (
	job         text COLLATE "C" NOT NULL,
	instance    text COLLATE "C" NOT NULL,
	holder      text COLLATE "C",
	reason      text COLLATE "C" NOT NULL,  -- held, locked, too_soon
	at          timestamptz NOT NULL,
	backend_pid integer,
	client_addr inet
);
CREATE INDEX IF NOT EXISTS contention_at_idx ON cron_lock.contention USING brin (at);

-- Recorded anomalies; overlong runs are computed live in the view.
CREATE TABLE IF NOT EXISTS cron_lock.anomaly_log (
	kind        text COLLATE "C" NOT NULL,  -- stale_takeover, late_release, late_heartbeat, lost_heartbeat
	job         text COLLATE "C" NOT NULL,
	run_id      bigint,
	instance    text COLLATE "C",
	detected_at timestamptz NOT NULL,
	detail      text NOT NULL
);
CREATE INDEX IF NOT EXISTS anomaly_log_detected_at_idx ON cron_lock.anomaly_log (detected_at);

-- The token epoch: the floor of every new token is (epoch << 32) + 1, and
-- the epoch grows whenever the cluster may have lost commits (a promotion,
-- a copy of the cluster), derived from the (system identifier, WAL
-- timeline) pair recorded here; see next_token.
CREATE TABLE IF NOT EXISTS cron_lock.token_epoch (
	id                boolean PRIMARY KEY DEFAULT true CHECK (id),
	system_identifier bigint NOT NULL,   -- pg_control_system().system_identifier
	timeline          integer NOT NULL,  -- WAL timeline the epoch was recorded on
	epoch             bigint NOT NULL,
	recorded_at       timestamptz NOT NULL
);

-- Tables kept from an earlier layout (a reinstall over kept history, or the
-- extension's 1.0 tables) get what 1.1 added.
ALTER TABLE cron_lock.leases ADD COLUMN IF NOT EXISTS role text;
ALTER TABLE cron_lock.job_runs ADD COLUMN IF NOT EXISTS role text;

-- With a FOR ALL TABLES publication, DELETE needs a replica identity: the
-- event tables have no key, and only cron_lock_prune deletes from them.
ALTER TABLE cron_lock.contention REPLICA IDENTITY FULL;
ALTER TABLE cron_lock.anomaly_log REPLICA IDENTITY FULL;

-- What cron_lock_try returns.
DO $$
BEGIN
	IF pg_catalog.to_regtype('cron_lock.try_result') IS NULL THEN
		CREATE TYPE cron_lock.try_result AS (
			acquired boolean, reason text, run_id bigint, token bigint,
			holder text COLLATE "C", holder_pid integer, expires_at timestamptz, took_over bigint);
	END IF;
END
$$;
