-- ALTER EXTENSION cron_lock UPDATE with a lease held (issue 13).  The
-- module is already the new one: a lease taken on the 1.0 tables records no
-- role; it stays renewable, checkable and releasable by its holder after
-- the update, and keeps the 1.0 rule (any cron_lock_user) until it ends.
DROP EXTENSION cron_lock;
CREATE EXTENSION cron_lock VERSION '1.0';
CREATE ROLE regress_upg_runner LOGIN IN ROLE cron_lock_user;
CREATE ROLE regress_upg_other LOGIN IN ROLE cron_lock_user;
SET ROLE regress_upg_runner;
SELECT reason, token FROM cron_lock_try('upg.held', 'host-1', '1 hour');
SELECT reason FROM cron_lock_try('upg.held', 'host-2', '1 hour');
SELECT cron_lock_heartbeat('upg.held', 1, '1 hour') IS NOT NULL AS renewed;
RESET ROLE;

ALTER EXTENSION cron_lock UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'cron_lock';
SELECT job, token, held, role FROM cron_lock.leases;

SET ROLE regress_upg_runner;
SELECT cron_lock_heartbeat('upg.held', 1, '1 hour') IS NOT NULL AS renewed;
BEGIN;
SELECT cron_lock_check('upg.held', 1);
COMMIT;
SET ROLE regress_upg_other;
SELECT cron_lock_heartbeat('upg.held', 1, '1 hour') IS NOT NULL AS renewed_under_the_old_rule;
SET ROLE regress_upg_runner;
SELECT cron_lock_release('upg.held', 1) AS released;

-- The next lease records its role, and the new rule applies.
SELECT reason, token FROM cron_lock_try('upg.held', 'host-1', '1 hour');
SET ROLE regress_upg_other;
SELECT error_of($$SELECT cron_lock_release('upg.held', 2)$$);
SET ROLE regress_upg_runner;
SELECT cron_lock_release('upg.held', 2) AS released;
RESET ROLE;
SELECT job, token, status, role FROM cron_lock.job_runs ORDER BY token;
SELECT timeline, epoch FROM cron_lock.token_epoch;

DROP ROLE regress_upg_runner, regress_upg_other;
