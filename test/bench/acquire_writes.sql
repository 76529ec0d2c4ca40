-- What the data model makes a first acquisition write: the lease row and the run row
-- it needs, in copies of cron_lock.leases and cron_lock.job_runs with the same
-- indexes, as plain INSERTs in one durable commit.  No fencing token, no
-- never-wait lock on the new job, no function call.
\set j random(1, 1000000000000)
WITH lease AS (
	INSERT INTO leases_copy (job, token, run_id, instance, held, backend_pid, backend_start,
							  acquired_at, heartbeat_at, expires_at)
	VALUES ('fresh-' || :client_id || '-' || :j, 1, 0, 'bench-' || :client_id, true,
			pg_backend_pid(), now(), clock_timestamp(), clock_timestamp(),
			clock_timestamp() + interval '60 s'))
INSERT INTO job_runs_copy (job, instance, token, status, started_at, heartbeat_at, expires_at,
							backend_pid, backend_start, client_addr, application_name)
VALUES ('fresh-' || :client_id || '-' || :j, 'bench-' || :client_id, 1, 'running',
		clock_timestamp(), clock_timestamp(), clock_timestamp() + interval '60 s',
		pg_backend_pid(), now(), inet_client_addr(), current_setting('application_name'));
