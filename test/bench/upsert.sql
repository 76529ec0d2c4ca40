-- The WAL-flush floor: one single-row upsert, committed (same key space as
-- acquire_cron_lock.sql, so nearly always an insert).
\set j random(1, 1000000000000)
INSERT INTO kv (k, v) VALUES ('fresh-' || :client_id || '-' || :j, now())
ON CONFLICT (k) DO UPDATE SET v = excluded.v;
