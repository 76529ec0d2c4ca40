-- cycle, hand-rolled PL/pgSQL helper (setup.sql): lock then unlock a random job.
\set j random(1, :jobs)
SELECT app_try_lock('cycle-' || :j, 'bench-' || :client_id, '60s') AS ok \gset
\if :ok
SELECT app_unlock('cycle-' || :j, 'bench-' || :client_id);
\endif
