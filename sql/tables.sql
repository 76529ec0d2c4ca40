-- The tables belong to the extension (issue 13).  Plain indexes an
-- administrator adds are kept up to date as by INSERT and UPDATE: amcheck
-- verifies that every B-tree agrees with its table; the BRIN index on
-- contention must find every event a sequential scan finds.  Anything that
-- would run other code or change what a write does is refused with 55000
-- naming it, before anything is read or written, and accepted again once
-- removed: the module checks a table again after every change to it.
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

-- What is refused, one object at a time; each call changes nothing.
SELECT reason, token FROM cron_lock_try('tab.r', 'host-1', '1 hour');
SELECT row_counts() AS before;
CREATE FUNCTION regress_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RETURN NEW;
END
$$;
CREATE TABLE regress_refs (run_id bigint);
CREATE FUNCTION refusal(ddl text, undo text) RETURNS TABLE (call text, error text)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE ddl;
	FOR call IN VALUES
		($q$SELECT cron_lock_try('tab.r', 'host-2', '1 hour')$q$),
		($q$SELECT cron_lock_heartbeat('tab.r', 1, '1 hour')$q$),
		($q$SELECT cron_lock_check('tab.r', 1)$q$)
	LOOP
		error := error_of(call);
		RETURN NEXT;
	END LOOP;
	EXECUTE undo;
END
$$;
SELECT * FROM refusal(
	'CREATE TRIGGER regress_before BEFORE UPDATE ON cron_lock.job_runs FOR EACH ROW EXECUTE FUNCTION regress_touch()',
	'DROP TRIGGER regress_before ON cron_lock.job_runs');
SELECT * FROM refusal(
	'CREATE TRIGGER regress_after AFTER INSERT ON cron_lock.leases FOR EACH STATEMENT EXECUTE FUNCTION regress_touch()',
	'DROP TRIGGER regress_after ON cron_lock.leases');
SELECT * FROM refusal(
	'ALTER TABLE cron_lock.job_runs ADD CONSTRAINT regress_check CHECK (instance <> $$forbidden$$) NOT VALID',
	'ALTER TABLE cron_lock.job_runs DROP CONSTRAINT regress_check');
SELECT * FROM refusal(
	'ALTER TABLE regress_refs ADD CONSTRAINT regress_fk FOREIGN KEY (run_id) REFERENCES cron_lock.job_runs',
	'ALTER TABLE regress_refs DROP CONSTRAINT regress_fk');
SELECT * FROM refusal(
	'CREATE RULE regress_rule AS ON INSERT TO cron_lock.contention DO ALSO NOTIFY regress',
	'DROP RULE regress_rule ON cron_lock.contention');
SELECT * FROM refusal(
	'ALTER TABLE cron_lock.anomaly_log ENABLE ROW LEVEL SECURITY',
	'ALTER TABLE cron_lock.anomaly_log DISABLE ROW LEVEL SECURITY');
SELECT * FROM refusal(
	'CREATE POLICY regress_policy ON cron_lock.leases USING (true)',
	'DROP POLICY regress_policy ON cron_lock.leases');
SELECT * FROM refusal(
	'ALTER TABLE cron_lock.contention ADD CONSTRAINT regress_excl EXCLUDE USING btree (job WITH =) WHERE (reason = $$never$$)',
	'ALTER TABLE cron_lock.contention DROP CONSTRAINT regress_excl');
SELECT * FROM refusal(
	'CREATE UNIQUE INDEX regress_unique ON cron_lock.leases (run_id)',
	'DROP INDEX cron_lock.regress_unique');
SELECT * FROM refusal(
	'ALTER TABLE cron_lock.job_runs ADD COLUMN regress_gen text GENERATED ALWAYS AS (job || instance) STORED',
	'ALTER TABLE cron_lock.job_runs DROP COLUMN regress_gen');
-- The layout: an added column, a changed type, a dropped NOT NULL.
SELECT * FROM refusal(
	'ALTER TABLE cron_lock.leases ADD COLUMN regress_extra int',
	'ALTER TABLE cron_lock.leases DROP COLUMN regress_extra');
SELECT * FROM refusal(
	'ALTER TABLE cron_lock.contention ALTER COLUMN reason TYPE varchar(20)',
	'ALTER TABLE cron_lock.contention ALTER COLUMN reason TYPE text COLLATE "C"');
SELECT * FROM refusal(
	'ALTER TABLE cron_lock.leases ALTER COLUMN token DROP NOT NULL',
	'ALTER TABLE cron_lock.leases ALTER COLUMN token SET NOT NULL');
-- 1.1's column is checked as the others are.
SELECT * FROM refusal(
	'ALTER TABLE cron_lock.job_runs ALTER COLUMN role TYPE varchar(63)',
	'ALTER TABLE cron_lock.job_runs ALTER COLUMN role TYPE text');
SELECT row_counts() AS after;
-- The whole message once: what, why, and how to remove it.
CREATE TRIGGER regress_before BEFORE UPDATE ON cron_lock.job_runs
	FOR EACH ROW EXECUTE FUNCTION regress_touch();
SELECT cron_lock_release('tab.r', 1);
DROP TRIGGER regress_before ON cron_lock.job_runs;
ALTER TABLE cron_lock.leases ADD COLUMN regress_extra int;
SELECT cron_lock_release('tab.r', 1);
ALTER TABLE cron_lock.leases DROP COLUMN regress_extra;
-- Everything removed (a dropped column stays behind, unseen): all works.
SELECT cron_lock_release('tab.r', 1);
SELECT reason, token FROM cron_lock_try('tab.r', 'host-2', '1 hour');
-- token_epoch too, when a new token reads it (in a new session: the epoch
-- is kept per backend once read); its own CHECK (id) is the only one allowed.
CREATE TRIGGER regress_epoch BEFORE UPDATE ON cron_lock.token_epoch
	FOR EACH ROW EXECUTE FUNCTION regress_touch();
\c
SELECT error_of($$SELECT cron_lock_try('tab.t', 'host-1', '1 hour')$$);
DROP TRIGGER regress_epoch ON cron_lock.token_epoch;
ALTER TABLE cron_lock.token_epoch ADD CONSTRAINT regress_epoch_check CHECK (epoch >= 0);
\c
SELECT error_of($$SELECT cron_lock_try('tab.t', 'host-1', '1 hour')$$);
ALTER TABLE cron_lock.token_epoch DROP CONSTRAINT regress_epoch_check;
SELECT reason, token FROM cron_lock_try('tab.t', 'host-1', '1 hour');
-- The tables of 1.2, checked when a function is about to write them: the
-- counters and settings by a release's sweep, settings and expected
-- instances by the administrators' functions.
SELECT reason, token FROM cron_lock_try('tab.s', 'host-1', '1 hour');
CREATE TRIGGER regress_counters BEFORE INSERT ON cron_lock.contention_hourly
	FOR EACH ROW EXECUTE FUNCTION regress_touch();
SELECT error_of($$SELECT cron_lock_release('tab.s', 1)$$);
SELECT error_of($$SELECT cron_lock_prune('30 days')$$);
DROP TRIGGER regress_counters ON cron_lock.contention_hourly;
ALTER TABLE cron_lock.settings ADD COLUMN regress_extra int;
SELECT error_of($$SELECT cron_lock_release('tab.s', 1)$$);
SELECT error_of($$SELECT cron_lock_retention()$$);
ALTER TABLE cron_lock.settings DROP COLUMN regress_extra;
CREATE RULE regress_expect AS ON INSERT TO cron_lock.expected_instances DO ALSO NOTIFY regress;
SELECT error_of($$SELECT cron_lock_expect_instances(ARRAY['host-1'], 'tab.s')$$);
DROP RULE regress_expect ON cron_lock.expected_instances;
SELECT cron_lock_release('tab.s', 1);
SELECT cron_lock_expect_instances(ARRAY['host-1'], 'tab.s');
SELECT cron_lock_expect_instances(NULL, 'tab.s');
DROP FUNCTION refusal(text, text);
DROP TABLE regress_refs;
DROP FUNCTION regress_touch();
DROP FUNCTION indexes_agree();
DROP EXTENSION amcheck;

-- Dropped and created again within one session: the module looks its tables
-- up anew, and its kept plans are made again (a takeover, a late release).
DROP EXTENSION cron_lock;
CREATE EXTENSION cron_lock;
SELECT reason, token FROM cron_lock_try('tab.e', 'host-1', '1 ms');
SELECT pg_sleep(0.01);
SELECT reason, token FROM cron_lock_try('tab.e', 'host-2', '1 hour');
SELECT cron_lock_release('tab.e', 1) AS late;
SELECT row_counts();

-- The C helpers the shared SQL functions call are not STRICT: a NULL from
-- the owner calling them directly is an error, not a crash of the backend.
\set VERBOSITY default
SELECT cron_lock.arg_name('x', NULL);
SELECT cron_lock.require_writable(NULL, 'j');
SELECT cron_lock.require_authority(NULL, 'j', 'r');
SELECT cron_lock.require_authority('a', NULL, 'r');
SELECT cron_lock.lock_new_job(NULL);

-- An inheritance child of a table is not cron_lock's (only a superuser can
-- add one here; the edition refuses any): the shared SQL functions and views,
-- like the C code, read and write ONLY their own tables.  Before, the prune
-- deleted the children's old rows and the views and duplicates showed them.
\set VERBOSITY terse
CREATE TABLE regress_kid_runs () INHERITS (cron_lock.job_runs);
CREATE TABLE regress_kid_busy () INHERITS (cron_lock.contention);
CREATE TABLE regress_kid_anomalies () INHERITS (cron_lock.anomaly_log);
INSERT INTO regress_kid_runs (run_id, job, instance, token, status, started_at, heartbeat_at, expires_at, finished_at)
VALUES (-1, 'tab.kid', 'host-1', 1, 'succeeded', now() - interval '1 year', now() - interval '1 year',
		now() - interval '1 year', now() - interval '1 year');
INSERT INTO regress_kid_busy (job, instance, holder, reason, at)
VALUES ('tab.kid', 'host-2', 'host-1', 'held', now() - interval '1 year');
INSERT INTO regress_kid_anomalies (kind, job, run_id, instance, detected_at, detail)
VALUES ('stale_takeover', 'tab.kid', -1, 'host-2', now() - interval '1 year', 'not cron_lock''s');
SELECT count(*) AS kid_anomalies FROM cron_lock.anomalies WHERE job = 'tab.kid';
SELECT count(*) AS kid_duplicates FROM cron_lock_duplicates('2 years') WHERE job = 'tab.kid';
SELECT cron_lock_prune('1 day') AS pruned;
SELECT (SELECT count(*) FROM regress_kid_runs) AS runs_kept, (SELECT count(*) FROM regress_kid_busy) AS busy_kept,
	   (SELECT count(*) FROM regress_kid_anomalies) AS anomalies_kept;
DROP TABLE regress_kid_runs, regress_kid_busy, regress_kid_anomalies;
