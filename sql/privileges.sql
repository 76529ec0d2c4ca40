-- Nothing for PUBLIC; cron_lock_user runs jobs; cron_lock_admin also frees
-- and prunes; nobody but the owner writes the tables.
CREATE ROLE regress_cron_lock_nobody LOGIN;
CREATE ROLE regress_cron_lock_runner LOGIN IN ROLE cron_lock_user;
CREATE ROLE regress_cron_lock_boss LOGIN IN ROLE cron_lock_admin;

SELECT p.proname, p.proacl FROM pg_proc p
 WHERE p.proname LIKE 'cron_lock%' OR p.proname = 'backend_alive' ORDER BY 1;
-- The owner's own entry lists PostgreSQL's defaults, which differ by major
-- (17 added MAINTAIN): only the grants are shown.
SELECT c.relname, (SELECT array_agg(a ORDER BY n) FROM unnest(c.relacl) WITH ORDINALITY u(a, n)
                    WHERE a::text NOT LIKE pg_get_userbyid(c.relowner) || '=%') AS relacl
  FROM pg_class c
 WHERE c.relnamespace = 'cron_lock'::regnamespace AND c.relkind IN ('r', 'v', 'S') ORDER BY 1;

SET ROLE regress_cron_lock_nobody;
SELECT stmt, error_of(stmt) FROM (VALUES
	($$SELECT cron_lock_try('priv.a', 'h', '1m')$$),
	($$SELECT * FROM cron_lock.status$$),
	($$SELECT * FROM cron_lock_duplicates()$$),
	($$SELECT * FROM cron_lock.leases$$)
) AS t(stmt);
RESET ROLE;

SET ROLE regress_cron_lock_runner;
SELECT reason, token FROM cron_lock_try('priv.a', 'runner', '1 hour');
SELECT job, state, holder FROM cron_lock.status WHERE job = 'priv.a';
SELECT count(*) >= 0 AS ok FROM cron_lock.anomalies;
SELECT count(*) >= 0 AS ok FROM cron_lock.sightings;
SELECT stmt, error_of(stmt) FROM (VALUES
	($$SELECT cron_lock_force_release('priv.a')$$),
	($$SELECT cron_lock_prune()$$),
	($$SELECT * FROM cron_lock.job_runs$$),
	($$INSERT INTO cron_lock.leases (job, token, run_id, instance, held, acquired_at, heartbeat_at, expires_at) VALUES ('priv.a', 0, 0, 'x', false, now(), now(), now())$$),
	($$DELETE FROM cron_lock.leases$$),
	($$UPDATE cron_lock.job_runs SET status = 'failed'$$)
) AS t(stmt);

-- A hostile search_path full of look-alikes changes nothing.
RESET ROLE;
CREATE SCHEMA regress_evil AUTHORIZATION regress_cron_lock_runner;
SET ROLE regress_cron_lock_runner;
CREATE TABLE regress_evil.leases (job text, token bigint);
CREATE TABLE regress_evil.job_runs (run_id bigint);
CREATE FUNCTION regress_evil.nextval(regclass) RETURNS bigint LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION regress_evil.inet_client_addr() RETURNS inet LANGUAGE sql AS $$SELECT '6.6.6.6'::inet$$;
CREATE FUNCTION regress_evil.current_setting(text) RETURNS text LANGUAGE sql AS $$SELECT 'evil'$$;
CREATE FUNCTION regress_evil.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS $$SELECT 'epoch'::timestamptz$$;
CREATE FUNCTION regress_evil.texteq(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR regress_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_evil.texteq);
CREATE FUNCTION regress_evil.to_char(timestamptz, text) RETURNS text LANGUAGE sql AS $$SELECT 'evil'$$;
CREATE FUNCTION regress_evil.int8eq(bigint, bigint) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR regress_evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = regress_evil.int8eq);
SET search_path = regress_evil, public;
SELECT reason, token FROM public.cron_lock_try('priv.b', 'runner', '1 hour');
SELECT reason, token FROM public.cron_lock_try('priv.b', 'rival', '1 hour');
SELECT public.cron_lock_release('priv.b', 1);
-- The statements of the rare paths too: a takeover, then a late release.
SELECT reason, token FROM public.cron_lock_try('priv.c', 'runner', '1 ms');
SELECT pg_sleep(0.01);
SELECT reason, token, took_over IS NOT NULL AS took_over FROM public.cron_lock_try('priv.c', 'rival', '1 hour');
SELECT public.cron_lock_release('priv.c', 1) AS late_release;
SELECT count(*) FROM regress_evil.leases;
RESET search_path;
RESET ROLE;
SELECT job, token, application_name, client_addr FROM cron_lock.job_runs WHERE job = 'priv.b';
SELECT job, token, status, reported_status FROM cron_lock.job_runs WHERE job = 'priv.c' ORDER BY token;
SELECT kind, detail LIKE '%evil%' AS hijacked FROM cron_lock.anomaly_log WHERE job = 'priv.c' ORDER BY kind;

SET ROLE regress_cron_lock_boss;
SELECT cron_lock_force_release('priv.a', 99) AS wrong_token;
SELECT cron_lock_force_release('priv.a', 1) AS freed;
SELECT cron_lock_force_release('priv.a') AS already_free;
SELECT status, message, forced_by FROM cron_lock.job_runs WHERE job = 'priv.a';
SELECT cron_lock_prune('30 days') >= 0 AS pruned;
SELECT error_of($$UPDATE cron_lock.leases SET token = 0$$);
RESET ROLE;

-- The holder learns it lost the lease.
SET ROLE regress_cron_lock_runner;
SELECT cron_lock_heartbeat('priv.a', 1, '1 minute') IS NULL AS lost;
SELECT cron_lock_release('priv.a', 1) AS released;
RESET ROLE;

DROP SCHEMA regress_evil CASCADE;
DROP ROLE regress_cron_lock_nobody, regress_cron_lock_runner, regress_cron_lock_boss;
