-- Contention events, sightings and cron_lock_duplicates: are two runners alive?
SELECT reason FROM cron_lock_try('dup.a', 'host-1', '1 hour');
SELECT reason FROM cron_lock_try('dup.a', 'host-2', '1 hour');
SELECT reason FROM cron_lock_try('dup.a', 'host-3', '1 hour');
SELECT reason FROM cron_lock_try('dup.a', 'host-2', '1 hour');
-- The holder asking again is contention with itself, not a duplicate.
SELECT reason FROM cron_lock_try('dup.self', 'host-1', '1 hour');
SELECT reason FROM cron_lock_try('dup.self', 'host-1', '1 hour');
-- too_soon blames whoever started the job last.
SELECT reason FROM cron_lock_try('dup.gap', 'host-1', '1 hour', NULL, '1 hour');
SELECT cron_lock_release('dup.gap', 1);
SELECT reason FROM cron_lock_try('dup.gap', 'host-9', '1 hour', NULL, '1 hour');

-- Busy answers, raw or folded into hourly counters by a release's sweep.
SELECT job, instance, holder, reason, sum(n) AS busy, bool_and(pid = pg_backend_pid()) AS my_pid
  FROM (SELECT job, instance, holder, reason, 1 AS n, backend_pid AS pid FROM cron_lock.contention
		UNION ALL
		SELECT job, instance, holder, reason, busy, last_backend_pid FROM cron_lock.contention_hourly) e
 WHERE job LIKE 'dup.%' GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;
SELECT job, instances, instance_ids, busy_answers, first_seen <= last_seen AS ordered
  FROM cron_lock_duplicates('1 hour') WHERE job LIKE 'dup.%';
SELECT job, instance, attempts, acquired, busy, last_backend_pid = pg_backend_pid() AS my_pid
  FROM cron_lock.sightings WHERE job LIKE 'dup.%' ORDER BY job, instance;

-- Events outside the window do not count.
UPDATE cron_lock.contention SET at = at - interval '2 days' WHERE job = 'dup.gap';
UPDATE cron_lock.contention_hourly SET hour = hour - interval '2 days', first_seen = first_seen - interval '2 days',
	last_seen = last_seen - interval '2 days' WHERE job = 'dup.gap';
SELECT job FROM cron_lock_duplicates('1 day') WHERE job LIKE 'dup.%';
SELECT job FROM cron_lock_duplicates('3 days') WHERE job LIKE 'dup.%';
