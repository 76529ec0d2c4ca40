-- What the data model makes a cycle write: the writes a lease with a run history
-- makes, as plain statements on copies of cron_lock's tables, two durable
-- commits like cron_lock's: take the lease and insert the run, then free the
-- lease and finish the run.  No row lock before the token change, no check of
-- expiry, attempt or gap, no function call.
\set j random(1, :jobs)
WITH lease AS (
	UPDATE leases_copy
	   SET token = token + 1, instance = 'bench-' || :client_id, held = true,
		   backend_pid = pg_backend_pid(), backend_start = now(), acquired_at = clock_timestamp(),
		   heartbeat_at = clock_timestamp(), expires_at = clock_timestamp() + interval '60 s'
	 WHERE job = 'cycle-' || :j
	RETURNING job, token)
INSERT INTO job_runs_copy (job, instance, token, status, started_at, heartbeat_at, expires_at,
							backend_pid, backend_start, client_addr, application_name)
SELECT job, 'bench-' || :client_id, token, 'running', clock_timestamp(), clock_timestamp(),
	   clock_timestamp() + interval '60 s', pg_backend_pid(), now(), inet_client_addr(),
	   current_setting('application_name')
  FROM lease
RETURNING run_id \gset
WITH lease AS (
	UPDATE leases_copy SET held = false WHERE job = 'cycle-' || :j)
UPDATE job_runs_copy
   SET status = 'succeeded', finished_at = clock_timestamp(), reported_status = 'succeeded',
	   reported_at = clock_timestamp()
 WHERE run_id = :run_id;
