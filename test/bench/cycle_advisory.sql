-- cycle, session advisory lock (reference only: held by the connection, so
-- not durable, and lost or leaked behind a transaction-mode pooler).
\set j random(1, :jobs)
SELECT pg_try_advisory_lock(:j) AS ok \gset
\if :ok
SELECT pg_advisory_unlock(:j);
\endif
