-- What the contract makes a busy answer write (CONTRACT 1.1, 1.4): one event row,
-- shaped and indexed like cron_lock.contention's, committed without waiting for
-- the WAL flush (run.sh starts this workload with synchronous_commit = off).
-- No lease is read and no function is called: cron_lock's busy answer does both.
\set j random(1, :jobs)
INSERT INTO contention_copy (job, instance, holder, reason, at, backend_pid, client_addr)
VALUES ('busy-' || :j, 'bench-' || :client_id, 'holder', 'held', clock_timestamp(),
		pg_backend_pid(), inet_client_addr());
