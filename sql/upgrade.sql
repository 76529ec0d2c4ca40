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

-- 1.0's definitions pin no search_path: the module pins it itself, so an
-- operator a runner puts before pg_catalog never runs as the owner.
CREATE SCHEMA regress_upg_evil AUTHORIZATION regress_upg_runner;
SET ROLE regress_upg_runner;
CREATE FUNCTION regress_upg_evil.eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	ALTER ROLE regress_upg_runner SUPERUSER;
	RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR regress_upg_evil.= (FUNCTION = regress_upg_evil.eq, LEFTARG = text, RIGHTARG = text);
SET search_path = regress_upg_evil, pg_catalog, public;
SELECT reason FROM cron_lock_try('upg.evil', 'host-1', '1 hour');
SELECT cron_lock_heartbeat('upg.held', 1, '1 hour') IS NOT NULL AS renewed;
RESET search_path;
RESET ROLE;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_upg_runner';
DROP SCHEMA regress_upg_evil CASCADE;

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

-- From 1.1 to 1.2 with a lease held (issue 16): the new module answers on
-- 1.1's tables (no pause there yet); after the update the lease row takes
-- a pause, and the job shows in health.
DROP EXTENSION cron_lock;
CREATE EXTENSION cron_lock VERSION '1.1';
SELECT reason, token FROM cron_lock_try('upg.b', 'host-1', '1 hour');
SELECT reason FROM cron_lock_try('upg.b', 'host-2', '1 hour');
SELECT reason, token FROM cron_lock_try('upg.c', 'host-1', '1 hour');
ALTER EXTENSION cron_lock UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'cron_lock';
SELECT job, token, held, paused_until FROM cron_lock.leases ORDER BY job;
SELECT cron_lock_pause('upg.b');
SELECT reason, holder FROM cron_lock_try('upg.b', 'host-2', '1 hour');
SELECT cron_lock_release('upg.b', 1), cron_lock_resume('upg.b');
SELECT reason, token FROM cron_lock_try('upg.b', 'host-2', '1 hour');
SELECT job, state, last_status FROM cron_lock.health ORDER BY job;
SELECT pg_catalog.pg_describe_object(classid, objid, 0) AS config_dump
  FROM pg_catalog.pg_depend
 WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'cron_lock')
   AND objid = 'cron_lock.jobs'::regclass;
SELECT 'cron_lock.jobs'::regclass::oid = ANY (extconfig) AS jobs_dumped FROM pg_extension WHERE extname = 'cron_lock';
