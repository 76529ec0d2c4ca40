-- cron_lock.status: held / expired / free, and whether the backend lives.
SELECT token FROM cron_lock_try('st.held', 'host-1', '1 hour');
SELECT token FROM cron_lock_try('st.expired', 'host-1', '10 milliseconds');
SELECT token FROM cron_lock_try('st.free', 'host-1', '1 hour');
SELECT cron_lock_release('st.free', 1);
SELECT pg_sleep(0.05);
SELECT job, state, holder, token, run_id IS NOT NULL AS has_run,
       backend_pid = pg_backend_pid() AS my_pid, backend_alive,
       acquired_at <= heartbeat_at AND heartbeat_at <= expires_at AS times_ordered
  FROM cron_lock.status WHERE job LIKE 'st.%' ORDER BY job;

-- A backend that went away (or a pid reused by a later backend) is not alive.
UPDATE cron_lock.leases SET backend_start = backend_start - interval '1 second' WHERE job = 'st.held';
SELECT backend_alive FROM cron_lock.status WHERE job = 'st.held';
SELECT cron_lock.backend_alive(NULL, now()), cron_lock.backend_alive(pg_backend_pid(), NULL);
