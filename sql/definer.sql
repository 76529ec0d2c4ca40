-- The SECURITY DEFINER functions run as the extension's owner: nothing a
-- caller controls may steer them (issue 13, item 2).
-- Every SECURITY DEFINER function of cron_lock (the API's, and those in
-- schema cron_lock), C or SQL, pins search_path, pg_temp last.
SELECT p.oid::regprocedure AS function, p.proconfig
  FROM pg_proc p
 WHERE p.prosecdef
   AND (p.proname LIKE 'cron\_lock\_%' OR p.pronamespace = 'cron_lock'::regnamespace)
 ORDER BY p.oid::regprocedure::text;
SELECT count(*) AS unpinned
  FROM pg_proc p
 WHERE p.prosecdef
   AND (p.proname LIKE 'cron\_lock\_%' OR p.pronamespace = 'cron_lock'::regnamespace)
   AND p.proconfig IS DISTINCT FROM ARRAY['search_path=pg_catalog, cron_lock, pg_temp'];

-- The attack the review ran: an administrator audits runs with a trigger
-- that names its table without a schema; a job runner creates a temporary
-- table of that name, whose own trigger makes the runner a superuser.  The
-- audit trigger is refused (the tables belong to the extension), so neither
-- trigger runs and the runner gains nothing.
CREATE ROLE regress_definer_runner LOGIN IN ROLE cron_lock_user;
GRANT regress_definer_runner TO CURRENT_USER;
CREATE TABLE public.regress_audit (job text);
CREATE FUNCTION public.regress_audit_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO regress_audit VALUES (NEW.job);
	RETURN NEW;
END
$$;
CREATE TRIGGER regress_audit_run AFTER INSERT ON cron_lock.job_runs
	FOR EACH ROW EXECUTE FUNCTION public.regress_audit_run();
SET ROLE regress_definer_runner;
SET search_path = public;
CREATE TEMP TABLE regress_audit (job text);
CREATE FUNCTION pg_temp.regress_escalate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	ALTER ROLE regress_definer_runner SUPERUSER;
	RETURN NEW;
END
$$;
CREATE TRIGGER regress_escalate BEFORE INSERT ON pg_temp.regress_audit
	FOR EACH ROW EXECUTE FUNCTION pg_temp.regress_escalate();
SELECT error_of($$SELECT cron_lock_try('definer.a', 'host-1', '1 hour')$$);
RESET search_path;
RESET ROLE;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_definer_runner';
SELECT count(*) AS audited FROM public.regress_audit;
SELECT count(*) AS runs FROM cron_lock.job_runs WHERE job = 'definer.a';
DROP TRIGGER regress_audit_run ON cron_lock.job_runs;
SELECT reason, token FROM cron_lock_try('definer.a', 'host-1', '1 hour');
DROP FUNCTION public.regress_audit_run();
DROP TABLE public.regress_audit;
DROP TABLE pg_temp.regress_audit;
DROP FUNCTION pg_temp.regress_escalate();
DROP ROLE regress_definer_runner;

-- The tables are checked once per session and again whenever they change:
-- a trigger attached after this session's calls (its checks cached) is
-- refused on the very next call, and the call runs again once it is gone.
SELECT reason FROM cron_lock_try('definer.b', 'host-1', '1 hour');
SELECT reason FROM cron_lock_try('definer.b', 'host-2', '1 hour');
CREATE FUNCTION public.regress_noop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RETURN NULL;
END
$$;
CREATE TRIGGER regress_noop AFTER INSERT ON cron_lock.contention
	FOR EACH ROW EXECUTE FUNCTION public.regress_noop();
SELECT error_of($$SELECT cron_lock_try('definer.b', 'host-2', '1 hour')$$);
SELECT error_of($$SELECT cron_lock_release('definer.b', 1)$$);
DROP TRIGGER regress_noop ON cron_lock.contention;
SELECT reason FROM cron_lock_try('definer.b', 'host-2', '1 hour');
CREATE UNIQUE INDEX regress_unique ON cron_lock.anomaly_log (job, detected_at, kind);
SELECT error_of($$SELECT cron_lock_heartbeat('definer.b', 1, '1 hour')$$);
DROP INDEX cron_lock.regress_unique;
SELECT cron_lock_heartbeat('definer.b', 1, '1 hour') IS NOT NULL AS renewed;
DROP FUNCTION public.regress_noop();
