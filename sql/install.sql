-- Installation rules.  Runs last: it drops and recreates the extension.
-- Errors' context is left out: 18 adds the extension script's statement.
\set SHOW_CONTEXT never
DROP EXTENSION cron_lock;
SELECT count(*) AS leftover FROM pg_namespace WHERE nspname = 'cron_lock';

-- Not into its own data schema.
CREATE EXTENSION cron_lock SCHEMA cron_lock;
CREATE SCHEMA cron_lock;
CREATE EXTENSION cron_lock SCHEMA cron_lock;
DROP SCHEMA cron_lock;

-- A same-named role with powers is not adopted.
ALTER ROLE cron_lock_user LOGIN;
CREATE EXTENSION cron_lock;
ALTER ROLE cron_lock_user NOLOGIN;
GRANT pg_read_all_data TO cron_lock_admin;
CREATE EXTENSION cron_lock;
REVOKE pg_read_all_data FROM cron_lock_admin;
SELECT count(*) AS leftover FROM pg_namespace WHERE nspname = 'cron_lock';

-- Into another schema: the functions follow, the data stays in cron_lock.
CREATE SCHEMA regress_jobs;
CREATE EXTENSION cron_lock SCHEMA regress_jobs;
SELECT reason, token FROM regress_jobs.cron_lock_try('inst.a', 'host-1', '1 minute');
SELECT count(*) FROM cron_lock.leases;
ALTER EXTENSION cron_lock SET SCHEMA public;
DROP EXTENSION cron_lock;
DROP SCHEMA regress_jobs;

CREATE EXTENSION cron_lock;
ALTER EXTENSION cron_lock UPDATE;
SELECT rolname, rolcanlogin, rolsuper FROM pg_roles WHERE rolname LIKE 'cron_lock_%' ORDER BY 1;
