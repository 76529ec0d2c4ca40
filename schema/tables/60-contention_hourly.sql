-- Contention evidence folded (1.2): one row per (job, instance, holder,
-- reason, hour) with how many busy answers it counts and when the first and
-- last were given, so that the evidence grows with pairs of instances, not
-- with ticks.  Only cron_lock.sweep() writes here, one sweep at a time (the chores'
-- lock), so no unique index is needed; a busy answer never touches
-- this table.
CREATE TABLE IF NOT EXISTS cron_lock.contention_hourly (
	job              text COLLATE "C" NOT NULL,
	instance         text COLLATE "C" NOT NULL,
	holder           text COLLATE "C",
	reason           text COLLATE "C" NOT NULL,
	hour             timestamptz NOT NULL,
	busy             bigint NOT NULL,
	first_seen       timestamptz NOT NULL,
	last_seen        timestamptz NOT NULL,
	last_backend_pid integer,
	last_client_addr inet
);
CREATE INDEX IF NOT EXISTS contention_hourly_hour_idx
	ON cron_lock.contention_hourly (hour, job, instance);
ALTER TABLE cron_lock.contention_hourly REPLICA IDENTITY FULL;
GRANT SELECT ON cron_lock.contention_hourly TO cron_lock_admin;
