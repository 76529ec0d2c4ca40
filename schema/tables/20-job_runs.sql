-- @every-call
-- One row per acquisition.  Statuses and kinds are not CHECK constraints:
-- PostgreSQL re-plans those on every INSERT and UPDATE statement (a quarter
-- of an acquisition's CPU), and only cron_lock's functions write here, with
-- constants or validated values.  A run is inserted at the end of the table
-- and updated soon after (release, heartbeats); the room left on its page
-- keeps those updates HOT, so they touch no index.  No index on
-- taken_over_by: only pruning looks runs up by it, and every new run would
-- pay for one.
CREATE SEQUENCE IF NOT EXISTS cron_lock.job_runs_run_id_seq;
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
	-- Enforces "never issued twice" and serves per-job history in token order.
	CONSTRAINT job_runs_job_token_key UNIQUE (job, token)
) WITH (fillfactor = 90);
ALTER SEQUENCE cron_lock.job_runs_run_id_seq OWNED BY cron_lock.job_runs.run_id;
-- 1.1: the role that took the run (authority).
ALTER TABLE cron_lock.job_runs ADD COLUMN IF NOT EXISTS role text;
-- cron_lock_stray (1.2) asks whether a run is its instance's first on the
-- job since a time: one probe here, not a read of the job's history.  Every
-- new run pays for it (3-4 % of a try + release cycle's instructions, both
-- editions); renewals and releases stay HOT (they change no indexed column).
CREATE INDEX IF NOT EXISTS job_runs_job_instance_started_idx
	ON cron_lock.job_runs (job, instance, started_at);
GRANT SELECT ON cron_lock.job_runs TO cron_lock_admin;
