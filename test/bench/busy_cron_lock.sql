-- busy, cron_lock: ask for a lease that 'holder' holds (setup.sql), with the
-- arguments a psql user sends (cronlock also passes an attempt uuid).
\set j random(1, :jobs)
SELECT * FROM cron_lock_try('busy-' || :j, 'bench-' || :client_id, '60s');
