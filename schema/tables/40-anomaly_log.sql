-- @every-call
-- Recorded anomalies; overlong runs and stray instances are computed live
-- in the view cron_lock.anomalies.
CREATE TABLE IF NOT EXISTS cron_lock.anomaly_log (
	kind        text COLLATE "C" NOT NULL,  -- stale_takeover, late_release, late_heartbeat, lost_heartbeat
	job         text COLLATE "C" NOT NULL,
	run_id      bigint,
	instance    text COLLATE "C",
	detected_at timestamptz NOT NULL,
	detail      text NOT NULL
);
CREATE INDEX IF NOT EXISTS anomaly_log_detected_at_idx ON cron_lock.anomaly_log (detected_at);
ALTER TABLE cron_lock.anomaly_log REPLICA IDENTITY FULL;
GRANT SELECT ON cron_lock.anomaly_log TO cron_lock_admin;
