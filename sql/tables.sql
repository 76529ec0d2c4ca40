-- The functions write cron_lock's tables directly (no SQL statement on the
-- hot paths).  What an administrator adds to those tables still holds, as it
-- would for INSERT and UPDATE: indexes of any kind, CHECK constraints, row
-- triggers.  amcheck verifies that every B-tree agrees with its table; the
-- BRIN index on contention must find every event a sequential scan finds.
CREATE EXTENSION amcheck;
CREATE FUNCTION indexes_agree() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	btrees text;
	via_brin bigint;
	via_heap bigint;
BEGIN
	SELECT string_agg(c.relname, ' ' ORDER BY c.relname) INTO btrees
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid,
		   LATERAL bt_index_check(c.oid, true)
	 WHERE i.indrelid IN ('cron_lock.job_runs'::regclass, 'cron_lock.leases'::regclass,
						  'cron_lock.contention'::regclass, 'cron_lock.anomaly_log'::regclass)
	   AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree');
	PERFORM brin_summarize_new_values('cron_lock.contention_at_idx');
	SET LOCAL enable_seqscan = off;
	SELECT count(*) INTO via_brin FROM cron_lock.contention WHERE at > '-infinity';
	SET LOCAL enable_seqscan = on;
	SET LOCAL enable_bitmapscan = off;
	SELECT count(*) INTO via_heap FROM cron_lock.contention WHERE at > '-infinity';
	RESET enable_seqscan;
	RESET enable_bitmapscan;
	RETURN btrees || CASE WHEN via_brin = via_heap
						  THEN ' contention_at_idx (brin)'
						  ELSE format(' contention_at_idx finds %s of %s events', via_brin, via_heap) END;
END
$$;

-- Indexes an administrator adds: plain, partial with an expression.
CREATE INDEX regress_runs_started ON cron_lock.job_runs (started_at);
CREATE INDEX regress_runs_running ON cron_lock.job_runs (lower(instance)) WHERE status = 'running';
CREATE INDEX regress_leases_expiry ON cron_lock.leases (expires_at);
SELECT reason, token FROM cron_lock_try('tab.a', 'Host-1', '1 hour');
SELECT cron_lock_heartbeat('tab.a', 1, '2 hours') IS NOT NULL AS renewed;
SELECT cron_lock_release('tab.a', 1);
SELECT reason, token FROM cron_lock_try('tab.a', 'Host-2', '1 hour');
SELECT reason FROM cron_lock_try('tab.a', 'Host-3', '1 hour');
SELECT reason, token FROM cron_lock_try('tab.b', 'Host-3', '1 ms');
SELECT pg_sleep(0.01);
SELECT reason, token FROM cron_lock_try('tab.b', 'Host-4', '1 hour');
SELECT cron_lock_release('tab.b', 1) AS late;
SELECT indexes_agree();
SET enable_seqscan = off;
SELECT job, instance FROM cron_lock.job_runs
 WHERE lower(instance) IN ('host-1', 'host-2', 'host-4') AND status = 'running'
   AND job LIKE 'tab.%' ORDER BY job;
SELECT job, token FROM cron_lock.leases
 WHERE expires_at > now() + interval '50 minutes' AND job LIKE 'tab.%' ORDER BY job;
RESET enable_seqscan;
DROP INDEX cron_lock.regress_runs_started, cron_lock.regress_runs_running,
	cron_lock.regress_leases_expiry;

-- A CHECK constraint an administrator adds is enforced (23514), and the
-- failed try leaves nothing behind.
ALTER TABLE cron_lock.job_runs ADD CONSTRAINT regress_not_forbidden CHECK (instance <> 'forbidden');
SELECT row_counts() AS before;
SELECT error_of($$SELECT cron_lock_try('tab.c', 'forbidden', '1 hour')$$);
SELECT row_counts() AS after;
SELECT reason, token FROM cron_lock_try('tab.c', 'allowed', '1 hour');
ALTER TABLE cron_lock.job_runs DROP CONSTRAINT regress_not_forbidden;

-- Row triggers fire, BEFORE and AFTER, on every insert and update; a BEFORE
-- trigger's change to the row is what gets stored.
CREATE TABLE regress_seen (n serial, tg text, job text, token bigint, status text, held boolean);
CREATE FUNCTION regress_see() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_TABLE_NAME = 'job_runs' THEN
		IF TG_WHEN = 'BEFORE' AND NEW.message IS NULL AND NEW.status <> 'running' THEN
			NEW.message := 'stamped by a trigger';
		END IF;
		INSERT INTO regress_seen (tg, job, token, status)
		VALUES (TG_WHEN || ' ' || TG_OP || ' runs', NEW.job, NEW.token, NEW.status);
	ELSE
		INSERT INTO regress_seen (tg, job, token, held)
		VALUES (TG_WHEN || ' ' || TG_OP || ' leases', NEW.job, NEW.token, NEW.held);
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER regress_before BEFORE INSERT OR UPDATE ON cron_lock.job_runs
	FOR EACH ROW EXECUTE FUNCTION regress_see();
CREATE TRIGGER regress_after AFTER INSERT OR UPDATE ON cron_lock.job_runs
	FOR EACH ROW EXECUTE FUNCTION regress_see();
CREATE TRIGGER regress_before BEFORE INSERT OR UPDATE ON cron_lock.leases
	FOR EACH ROW EXECUTE FUNCTION regress_see();
CREATE TRIGGER regress_after AFTER INSERT OR UPDATE ON cron_lock.leases
	FOR EACH ROW EXECUTE FUNCTION regress_see();
SELECT reason, token FROM cron_lock_try('tab.d', 'host-1', '1 hour');
SELECT cron_lock_heartbeat('tab.d', 1, '1 hour') IS NOT NULL AS renewed;
SELECT cron_lock_release('tab.d', 1);
SELECT reason, token FROM cron_lock_try('tab.d', 'host-2', '1 hour');
SELECT tg, job, token, status, held FROM regress_seen ORDER BY n;
SELECT token, status, message FROM cron_lock.job_runs WHERE job = 'tab.d' ORDER BY token;
DROP TRIGGER regress_before ON cron_lock.job_runs;
DROP TRIGGER regress_after ON cron_lock.job_runs;
DROP TRIGGER regress_before ON cron_lock.leases;
DROP TRIGGER regress_after ON cron_lock.leases;
DROP TABLE regress_seen;
DROP FUNCTION regress_see();

-- Each backend remembers where it last found a row and looks there first.
-- A row rewritten elsewhere (VACUUM FULL), or gone with its slot taken by
-- another job's row, is noticed, and the index asked instead.
SELECT reason, token FROM cron_lock_try('tab.f', 'host-1', '1 hour');
VACUUM FULL cron_lock.leases;
SELECT reason, holder FROM cron_lock_try('tab.f', 'host-2', '1 hour');
SELECT cron_lock_release('tab.f', 1);
SELECT reason, token FROM cron_lock_try('tab.g', 'host-1', '1 hour');
SELECT ctid AS g_ctid FROM cron_lock.leases WHERE job = 'tab.g' \gset
SELECT cron_lock_release('tab.g', 1);
DELETE FROM cron_lock.job_runs WHERE job IN ('tab.f', 'tab.g');
DELETE FROM cron_lock.leases WHERE job = 'tab.g';
VACUUM cron_lock.leases;
SELECT reason, token FROM cron_lock_try('tab.h', 'host-1', '1 hour');
-- The scenario holds: tab.h's row sits where tab.g's was.
SELECT ctid = :'g_ctid' AS in_g_slot FROM cron_lock.leases WHERE job = 'tab.h';
SELECT reason, token, holder FROM cron_lock_try('tab.g', 'host-2', '1 hour');
SELECT indexes_agree();
DROP FUNCTION indexes_agree();
DROP EXTENSION amcheck;

-- Dropped and created again within one session: the module looks its tables
-- up anew, on the direct paths and the SQL ones (a takeover, a late release).
DROP EXTENSION cron_lock;
CREATE EXTENSION cron_lock;
SELECT reason, token FROM cron_lock_try('tab.e', 'host-1', '1 ms');
SELECT pg_sleep(0.01);
SELECT reason, token FROM cron_lock_try('tab.e', 'host-2', '1 hour');
SELECT cron_lock_release('tab.e', 1) AS late;
SELECT row_counts();
