-- cron_lock_check: LK001 unless the token is current and unexpired.
SELECT token FROM cron_lock_try('chk.a', 'host-1', '1 minute');
BEGIN;
SELECT cron_lock_check('chk.a', 1);
-- The guard's row lock lives until the transaction ends (the table-level
-- RowShareLock shows it is there; isolation specs show what it blocks).
SELECT locktype, mode, granted FROM pg_locks
 WHERE relation = 'cron_lock.leases'::regclass AND pid = pg_backend_pid();
COMMIT;

SELECT error_of($$SELECT cron_lock_check('chk.a', 2)$$);
SELECT error_of($$SELECT cron_lock_check('chk.never', 1)$$);
SELECT cron_lock_release('chk.a', 1);
SELECT error_of($$SELECT cron_lock_check('chk.a', 1)$$);

SELECT token FROM cron_lock_try('chk.b', 'host-1', '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT error_of($$SELECT cron_lock_check('chk.b', 1)$$);

-- The whole error, as a client sees it.
\set SHOW_CONTEXT never
SELECT cron_lock_check('chk.a', 5);
