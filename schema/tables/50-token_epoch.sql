-- The token epoch (1.1): the floor of every new token, (epoch << 32) + 1,
-- derived from the (system identifier, WAL timeline) pair recorded here, so
-- that a promotion, pg_upgrade or dump/restore never reissues a token.  One
-- row, written when the pair changes; none until the first acquisition.
CREATE TABLE IF NOT EXISTS cron_lock.token_epoch (
	id                boolean PRIMARY KEY DEFAULT true CHECK (id),
	system_identifier bigint NOT NULL,   -- pg_control_system().system_identifier
	timeline          integer NOT NULL,  -- WAL timeline the epoch was recorded on
	epoch             bigint NOT NULL,
	recorded_at       timestamptz NOT NULL
);
GRANT SELECT ON cron_lock.token_epoch TO cron_lock_admin;
