-- @every-call
-- Every held, locked or too_soon answer as it happened: who asked, who held.
-- A raw row is all a busy answer writes; cron_lock.sweep() folds these rows
-- into cron_lock.contention_hourly on ordinary calls.  Events arrive in time
-- order, so a BRIN index serves time scans; its inserts rarely write WAL and
-- do not all meet on the last leaf of a B-tree.
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
-- 1.2: each block range summarized (by autovacuum) once the inserts move
-- past it, so that a scan of the last minutes (cron_lock.busy_answers)
-- reads those blocks, not every range not yet summarized.
ALTER INDEX cron_lock.contention_at_idx SET (autosummarize = on);
-- With a FOR ALL TABLES publication, DELETE needs a replica identity: the
-- event tables have no key.
ALTER TABLE cron_lock.contention REPLICA IDENTITY FULL;
GRANT SELECT ON cron_lock.contention TO cron_lock_admin;
