-- @every-call
-- The current lease per job.  The primary key must stay its only unique
-- index: updates that keep job are then "no key" updates, which is what lets
-- cron_lock_check's FOR KEY SHARE block takeovers but not heartbeats.
-- Each run updates its lease row twice.  On full pages every read must prune
-- the dead versions first (measured: 50k of a cycle's instructions); half-full
-- pages keep that to 6.5k, for a table of one row per job.
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
	expires_at    timestamptz NOT NULL
) WITH (fillfactor = 50);
-- 1.1: the role that took the lease (authority); NULL for leases taken
-- before.  A name, not an OID, so that it survives dump/restore.
ALTER TABLE cron_lock.leases ADD COLUMN IF NOT EXISTS role text;
-- 1.2: the pause (cron_lock_pause; the row of cron_lock.jobs has the rest),
-- kept here too because every cron_lock_try reads this row already: a busy
-- answer pays no extra lookup for it.
ALTER TABLE cron_lock.leases ADD COLUMN IF NOT EXISTS paused_until timestamptz;
GRANT SELECT ON cron_lock.leases TO cron_lock_admin;
