-- Nothing for PUBLIC; cron_lock_user runs jobs; cron_lock_admin also frees
-- and prunes; nobody but the owner writes the tables.
CREATE ROLE regress_cron_lock_nobody LOGIN;
CREATE ROLE regress_cron_lock_runner LOGIN IN ROLE cron_lock_user;
CREATE ROLE regress_cron_lock_boss LOGIN IN ROLE cron_lock_admin;
-- The test switches to these roles; a database owner without superuser (the
-- plain-SQL edition's suite) must be a member of them to do so.
GRANT regress_cron_lock_nobody, regress_cron_lock_runner, regress_cron_lock_boss TO CURRENT_USER;

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

-- Authority: only the role that took a lease (or a member of it) and
-- cron_lock_admin renew, release or check it; anyone else gets 42501 and
-- nothing changes.
CREATE ROLE regress_cron_lock_other LOGIN IN ROLE cron_lock_user;
CREATE ROLE regress_cron_lock_deputy LOGIN IN ROLE regress_cron_lock_runner;
GRANT regress_cron_lock_other, regress_cron_lock_deputy TO CURRENT_USER;
SET ROLE regress_cron_lock_runner;
SELECT reason, token FROM cron_lock_try('priv.auth', 'runner', '1 hour');
SELECT reason, token FROM cron_lock_try('priv.member', 'runner', '1 hour');
SELECT reason, token FROM cron_lock_try('priv.gone', 'runner', '1 ms');
SELECT pg_sleep(0.01);
SELECT reason, token FROM cron_lock_try('priv.gone', 'runner', '1 hour');
RESET ROLE;
SELECT job, token, role FROM cron_lock.job_runs WHERE job LIKE 'priv.%' AND role IS NOT NULL ORDER BY job, token;
SELECT row_counts() AS before \gset
SELECT expires_at AS auth_expires FROM cron_lock.leases WHERE job = 'priv.auth' \gset
SET ROLE regress_cron_lock_other;
SELECT stmt, error_of(stmt) FROM (VALUES
	($$SELECT cron_lock_heartbeat('priv.auth', 1, '2 hours')$$),
	($$SELECT cron_lock_release('priv.auth', 1, 'failed')$$),
	($$SELECT cron_lock_check('priv.auth', 1)$$),
	-- a token that is not current: no lost_heartbeat, no late report either
	($$SELECT cron_lock_heartbeat('priv.auth', 7, '1 hour')$$),
	($$SELECT cron_lock_heartbeat('priv.gone', 1, '1 hour')$$),
	($$SELECT cron_lock_release('priv.gone', 1, 'failed')$$)
) AS t(stmt);
-- A check with a token that is not current is LK001 for anyone.
SELECT error_of($$SELECT cron_lock_check('priv.auth', 2)$$);
RESET ROLE;
SELECT row_counts() = :'before' AS nothing_changed;
SELECT held, expires_at = :'auth_expires' AS same_expiry FROM cron_lock.leases WHERE job = 'priv.auth';
SELECT status, reported_status FROM cron_lock.job_runs WHERE job = 'priv.gone' ORDER BY token;
-- A member of the acquiring role may.
SET ROLE regress_cron_lock_deputy;
SELECT cron_lock_heartbeat('priv.auth', 1, '1 hour') IS NOT NULL AS renewed;
SELECT cron_lock_release('priv.member', 1) AS released_by_a_member;
BEGIN;
SELECT cron_lock_check('priv.auth', 1);
COMMIT;
-- So may cron_lock_admin.
SET ROLE regress_cron_lock_boss;
SELECT cron_lock_heartbeat('priv.auth', 1, '1 hour') IS NOT NULL AS renewed;
BEGIN;
SELECT cron_lock_check('priv.auth', 1);
COMMIT;
SELECT cron_lock_release('priv.gone', 2, 'cancelled') AS released_by_admin;
-- And the holder itself, to the end.
SET ROLE regress_cron_lock_runner;
SELECT cron_lock_heartbeat('priv.auth', 1, '1 hour') IS NOT NULL AS renewed;
SELECT cron_lock_release('priv.auth', 1) AS released;
SELECT cron_lock_release('priv.gone', 1, 'failed') AS late_release;
RESET ROLE;
SELECT job, token, status, reported_status, role FROM cron_lock.job_runs WHERE job IN ('priv.auth', 'priv.gone', 'priv.member') ORDER BY job, token;

DROP SCHEMA regress_evil CASCADE;
DROP ROLE regress_cron_lock_deputy, regress_cron_lock_other;
DROP ROLE regress_cron_lock_nobody, regress_cron_lock_runner, regress_cron_lock_boss;
