-- acquire, cron_lock: take the lease of a job never seen before (left held),
-- with the arguments a psql user sends (cronlock also passes an attempt uuid).
\set j random(1, 1000000000000)
SELECT * FROM cron_lock_try('fresh-' || :client_id || '-' || :j, 'bench-' || :client_id, '60s');
