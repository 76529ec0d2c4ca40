-- busy, hand-rolled helper: ask for a lock that 'holder' holds (setup.sql).
\set j random(1, :jobs)
SELECT app_try_lock('busy-' || :j, 'bench-' || :client_id, '60s');
