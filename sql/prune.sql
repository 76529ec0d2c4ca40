-- cron_lock_prune: old finished history goes; running runs, current leases
-- and referenced runs stay.
SELECT token FROM cron_lock_try('pr.done', 'host-1', '1 hour');
SELECT cron_lock_release('pr.done', 1);
SELECT token FROM cron_lock_try('pr.done', 'host-1', '1 hour');
SELECT cron_lock_release('pr.done', 2);
SELECT token FROM cron_lock_try('pr.running', 'host-1', '1 hour');
SELECT token FROM cron_lock_try('pr.over', 'host-1', '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT reason FROM cron_lock_try('pr.over', 'host-2', '1 hour');
SELECT cron_lock_release('pr.over', 2);
SELECT reason FROM cron_lock_try('pr.done', 'host-3', '1 hour', NULL, '1 hour');
-- A chain: run 1 taken over by run 2, which ended, then run 3 (the lease's).
SELECT token FROM cron_lock_try('pr.chain', 'host-1', '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT reason, token FROM cron_lock_try('pr.chain', 'host-2', '1 hour');
SELECT cron_lock_release('pr.chain', 2);
SELECT token FROM cron_lock_try('pr.chain', 'host-3', '1 hour');
SELECT cron_lock_release('pr.chain', 3);

-- Fold every busy answer into its counter first (releases fold a batch each).
SELECT cron_lock.sweep() >= 0 AS swept;
-- Age everything by 40 days.
UPDATE cron_lock.job_runs SET started_at = started_at - interval '40 days',
	finished_at = finished_at - interval '40 days' WHERE job LIKE 'pr.%';
UPDATE cron_lock.contention SET at = at - interval '40 days' WHERE job LIKE 'pr.%';
UPDATE cron_lock.contention_hourly SET hour = hour - interval '40 days', first_seen = first_seen - interval '40 days',
	last_seen = last_seen - interval '40 days' WHERE job LIKE 'pr.%';
UPDATE cron_lock.anomaly_log SET detected_at = detected_at - interval '40 days' WHERE job LIKE 'pr.%';
-- A late report arriving today keeps its run.
SELECT cron_lock_release('pr.over', 1);
-- ... and keeps run 1 of the chain, so run 2, which it points to, stays too.
SELECT cron_lock_release('pr.chain', 1, 'failed');

-- Logical replication of the tables: DELETE needs a replica identity.  (FOR
-- ALL TABLES would need a superuser; the owner publishes its own tables.)
SET client_min_messages = error;
CREATE PUBLICATION regress_cron_lock_all FOR TABLE cron_lock.job_runs, cron_lock.contention,
	cron_lock.contention_hourly, cron_lock.anomaly_log;
RESET client_min_messages;
SELECT cron_lock_prune('30 days') AS deleted;
DROP PUBLICATION regress_cron_lock_all;
SELECT job, token, status FROM cron_lock.job_runs WHERE job LIKE 'pr.%' ORDER BY job, token;
SELECT (SELECT count(*) FROM cron_lock.contention WHERE job LIKE 'pr.%')
	 + (SELECT count(*) FROM cron_lock.contention_hourly WHERE job LIKE 'pr.%') AS contention;
SELECT kind, job FROM cron_lock.anomaly_log WHERE job LIKE 'pr.%';
-- Every reference between runs still resolves.
SELECT count(*) AS dangling FROM cron_lock.job_runs r
 WHERE r.taken_over_by IS NOT NULL
   AND NOT EXISTS (SELECT FROM cron_lock.job_runs n WHERE n.run_id = r.taken_over_by);
SELECT count(*) AS dangling FROM cron_lock.leases l
 WHERE NOT EXISTS (SELECT FROM cron_lock.job_runs r WHERE r.run_id = l.run_id);
-- Tokens continue after pruning.
SELECT reason, token FROM cron_lock_try('pr.done', 'host-1', '1 hour');
SELECT cron_lock_prune() AS deleted_with_default;
