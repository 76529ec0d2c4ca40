-- Lease changes commit with synchronous_commit at least on; a busy answer
-- alone skips the flush, but never inside the caller's transaction.
SET synchronous_commit = off;
BEGIN;
SELECT reason FROM cron_lock_try('dur.a', 'host-1', '1 minute');
SHOW synchronous_commit;
COMMIT;
SHOW synchronous_commit;

SET synchronous_commit = local;
BEGIN;
SELECT cron_lock_heartbeat('dur.a', 1, '1 minute') IS NOT NULL AS renewed;
SHOW synchronous_commit;
COMMIT;
BEGIN;
SELECT cron_lock_release('dur.a', 1);
SHOW synchronous_commit;
COMMIT;

-- Stronger settings are kept.
SET synchronous_commit = remote_apply;
BEGIN;
SELECT reason FROM cron_lock_try('dur.b', 'host-1', '1 minute');
SHOW synchronous_commit;
COMMIT;

-- A busy answer that is its own transaction skips the flush, for itself
-- only.  That is decided at pre-commit, once nothing else can be written
-- (test/server/durability.sh watches the commits): during the call the
-- setting is still the caller's.
SET synchronous_commit = on;
SELECT reason, current_setting('synchronous_commit') AS during
  FROM cron_lock_try('dur.b', 'host-2', '1 minute');
SHOW synchronous_commit;
-- A busy answer inside the caller's transaction leaves its setting alone.
BEGIN;
SELECT reason FROM cron_lock_try('dur.b', 'host-2', '1 minute');
SHOW synchronous_commit;
COMMIT;
-- ... and so does a busy answer after the caller already wrote.
CREATE TEMP TABLE mine (x int);
BEGIN;
INSERT INTO mine VALUES (1);
SELECT reason FROM cron_lock_try('dur.b', 'host-2', '1 minute');
SHOW synchronous_commit;
COMMIT;
-- ... and so does a busy answer followed by more statements in one query
-- string (an implicit transaction block).
SELECT reason FROM cron_lock_try('dur.b', 'host-2', '1 minute') \; SHOW synchronous_commit;
-- An acquisition after a busy answer in one statement commits durably.
SELECT string_agg(reason, ',' ORDER BY j) AS reasons, current_setting('synchronous_commit') AS setting
  FROM (SELECT j, (cron_lock_try(j, 'host-2', '1 minute')).reason
		  FROM unnest(ARRAY['dur.b', 'dur.c']) AS j) s;
RESET synchronous_commit;

-- Read-only transactions are refused before anything is read.
BEGIN READ ONLY;
SELECT error_of($$SELECT cron_lock_try('dur.ro', 'host-1', '1 minute')$$);
SELECT error_of($$SELECT cron_lock_heartbeat('dur.a', 1, '1 minute')$$);
SELECT error_of($$SELECT cron_lock_release('dur.a', 1)$$);
SELECT error_of($$SELECT cron_lock_check('dur.a', 1)$$);
SELECT error_of($$SELECT cron_lock_force_release('dur.a')$$);
SELECT error_of($$SELECT cron_lock_prune()$$);
-- Reading still works.
SELECT count(*) >= 0 AS readable FROM cron_lock.status;
SELECT count(*) >= 0 AS readable FROM cron_lock_duplicates();
COMMIT;
