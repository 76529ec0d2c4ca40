-- cycle, cron_lock: take a random job's lease, then release it.
-- Two statements, each its own transaction, as cronlock sends them.
\set j random(1, :jobs)
SELECT coalesce(token, 0) AS tok FROM cron_lock_try('cycle-' || :j, 'bench-' || :client_id, '60s') \gset
\if :tok > 0
SELECT cron_lock_release('cycle-' || :j, :tok);
\endif
