-- The instances an administrator expects to run a job (1.2), set by
-- cron_lock_expect_instances: rows with a job name apply to that job, rows
-- with job NULL to every job that has no rows of its own.  Any other
-- instance seen on the job since declared_at is a stray.
CREATE TABLE IF NOT EXISTS cron_lock.expected_instances (
	job         text COLLATE "C",
	instance    text COLLATE "C" NOT NULL,
	declared_at timestamptz NOT NULL,
	declared_by text NOT NULL
);
ALTER TABLE cron_lock.expected_instances REPLICA IDENTITY FULL;
GRANT SELECT ON cron_lock.expected_instances TO cron_lock_admin;
