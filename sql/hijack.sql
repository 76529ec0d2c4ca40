-- A search_path hijack by a job runner changes nothing: temporary tables and
-- functions named like what cron_lock uses, with pg_temp first in the path.
CREATE ROLE regress_cron_lock_hijacker LOGIN IN ROLE cron_lock_user;
GRANT regress_cron_lock_hijacker TO CURRENT_USER;
SET ROLE regress_cron_lock_hijacker;
CREATE TEMP TABLE leases (job text, token bigint, run_id bigint, instance text, held boolean,
	attempt uuid, backend_pid integer, backend_start timestamptz, acquired_at timestamptz,
	heartbeat_at timestamptz, expires_at timestamptz);
INSERT INTO leases VALUES ('hij.a', 1000, 1000, 'evil', true, NULL, 1, now(), now(), now(), 'infinity');
CREATE TEMP TABLE job_runs (run_id bigint, job text, token bigint, status text);
CREATE TEMP TABLE contention (job text, instance text, holder text, reason text, at timestamptz);
CREATE TEMP TABLE anomaly_log (kind text, job text, detail text);
CREATE TEMP TABLE try_result (acquired boolean);
CREATE FUNCTION pg_temp.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS $$SELECT 'epoch'::timestamptz$$;
CREATE FUNCTION pg_temp.pg_try_advisory_xact_lock(integer, integer) RETURNS boolean LANGUAGE sql AS 'SELECT false';
CREATE FUNCTION pg_temp.hashtext(text) RETURNS integer LANGUAGE sql AS 'SELECT 0';
CREATE FUNCTION pg_temp.nextval(regclass) RETURNS bigint LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION pg_temp.current_setting(text) RETURNS text LANGUAGE sql AS $$SELECT 'off'$$;
CREATE FUNCTION pg_temp.pg_is_in_recovery() RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION pg_temp.format(text, VARIADIC text[]) RETURNS text LANGUAGE sql AS $$SELECT 'evil'$$;
CREATE FUNCTION pg_temp.arg_name(text, text) RETURNS void LANGUAGE sql AS 'SELECT';
CREATE FUNCTION pg_temp.refuse_foreign_objects() RETURNS void LANGUAGE sql AS 'SELECT';
CREATE FUNCTION pg_temp.next_token(bigint, text) RETURNS bigint LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION pg_temp.texteq(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR pg_temp.= (LEFTARG = text, RIGHTARG = text, FUNCTION = pg_temp.texteq);
SET search_path = pg_temp, public;

SELECT acquired, reason, token, holder FROM public.cron_lock_try('hij.a', 'runner', '1 hour');
SELECT acquired, reason, token, holder FROM public.cron_lock_try('hij.a', 'rival', '1 hour');
SELECT public.cron_lock_heartbeat('hij.a', 1, '1 hour') > statement_timestamp() AS renewed;
BEGIN;
SELECT public.cron_lock_check('hij.a', 1);
COMMIT;
SELECT public.cron_lock_release('hij.a', 1, 'succeeded', 'done');
SELECT acquired, reason, token FROM public.cron_lock_try('hij.a', 'runner', '1 ms');
SELECT pg_sleep(0.01);
SELECT acquired, reason, token, took_over IS NOT NULL AS took_over
  FROM public.cron_lock_try('hij.a', 'rival', '1 hour');
SELECT public.cron_lock_release('hij.a', 2) AS late_release;
SELECT job, instances, instance_ids FROM public.cron_lock_duplicates('1 hour') WHERE job = 'hij.a';
-- The look-alikes are untouched.
SELECT (SELECT count(*) FROM pg_temp.leases) AS leases, (SELECT count(*) FROM pg_temp.job_runs) AS runs,
	   (SELECT count(*) FROM pg_temp.contention) AS contention, (SELECT count(*) FROM pg_temp.anomaly_log) AS anomalies;
RESET search_path;
RESET ROLE;

SELECT token, instance, status, message, reported_status, started_at > 'epoch' AS real_clock
  FROM cron_lock.job_runs WHERE job = 'hij.a' ORDER BY token;
SELECT instance, holder, reason FROM cron_lock.contention WHERE job = 'hij.a'
UNION ALL
SELECT instance, holder, reason FROM cron_lock.contention_hourly WHERE job = 'hij.a';
SELECT kind, detail LIKE '%evil%' AS hijacked FROM cron_lock.anomaly_log WHERE job = 'hij.a' ORDER BY kind;
SELECT job, token, instance, held FROM cron_lock.leases WHERE job = 'hij.a';
DROP OWNED BY regress_cron_lock_hijacker;
DROP ROLE regress_cron_lock_hijacker;
