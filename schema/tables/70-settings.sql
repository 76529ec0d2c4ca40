-- Settings an administrator makes (1.2): contention_retention (default 30
-- days) and run_retention (none: runs and anomalies are kept), written by
-- cron_lock_retention and read by cron_lock.sweep().
CREATE TABLE IF NOT EXISTS cron_lock.settings (
	name  text COLLATE "C" PRIMARY KEY,
	value interval
);
GRANT SELECT ON cron_lock.settings TO cron_lock_admin;
