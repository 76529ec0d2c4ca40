-- test/faults/check_history.sql: the soak's checker (run by soak.sh with psql).
--
-- Input: soak_attempts (one row per `cronlock run`: exit status, what its log
-- says, when its COMMAND started and ended), soak_faults (what the nemesis did,
-- when), soak_hist (the COMMANDs' accepted guarded writes), and the extension's
-- own cron_lock.job_runs.  psql variables: t_start, t_healed, t_done (epoch ms),
-- ttl, grace, resume_bound (s), cores (core files found).
--
-- Prints the fault and outcome tables, then one row per property:
-- "ok | property | detail" or "FAIL | property | detail".

\pset footer off

-- Every attempt gets exactly one class.
CREATE TEMP VIEW classified AS
SELECT a.*,
	   CASE
		   WHEN a.killed = 1 AND a.rc = 137 THEN 'killed'
		   WHEN a.rc = 124 OR (a.rc = 137 AND a.killed = 0) THEN 'hang'
		   WHEN a.rc IN (129, 130, 131, 132, 134, 135, 136, 139, 159) THEN 'crash'
		   WHEN a.rc = 75 AND a.lost_ts IS NOT NULL THEN 'lost'
		   WHEN a.rc = 0 AND a.run_ts IS NOT NULL AND a.done_ts IS NOT NULL AND a.lost_ts IS NULL THEN 'ran'
		   WHEN a.rc = 0 AND a.run_ts IS NULL AND a.skip_reason IN ('BUSY', 'TOO_SOON') THEN 'busy'
		   WHEN a.rc = 0 AND a.run_ts IS NULL AND a.skip_reason = 'DB_UNAVAILABLE' THEN 'skipped'
		   ELSE 'unaccounted'
	   END AS class
  FROM soak_attempts a;

\echo
\echo 'Faults injected'
SELECT kind AS fault, count(*) AS injected,
	   round(sum(t1_ms - t0_ms) / 1000.0, 1) AS total_s,
	   count(attempt) FILTER (WHERE attempt <> '') AS wrappers_hit
  FROM soak_faults GROUP BY kind ORDER BY kind;

\echo 'Outcomes per instance (w1.. via the proxy, the last via PgBouncer)'
SELECT instance, count(*) AS attempts,
	   count(*) FILTER (WHERE class = 'ran') AS ran,
	   count(*) FILTER (WHERE class = 'busy') AS busy,
	   count(*) FILTER (WHERE class = 'skipped') AS skipped,
	   count(*) FILTER (WHERE class = 'lost') AS lost,
	   count(*) FILTER (WHERE class = 'killed') AS killed,
	   count(*) FILTER (WHERE class IN ('crash', 'hang', 'unaccounted')) AS bad
  FROM classified GROUP BY ROLLUP (instance) ORDER BY instance NULLS LAST;

\echo 'Exit statuses'
SELECT rc AS exit_status, class, count(*) FROM classified GROUP BY rc, class ORDER BY rc, class;

\echo 'Runs on the server'
SELECT status, count(*) FROM cron_lock.job_runs GROUP BY status ORDER BY status;

\echo 'Properties'
WITH
crashes AS (
	SELECT count(*) FILTER (WHERE class IN ('crash', 'hang')) AS bad,
		   count(*) FILTER (WHERE sanitizer = 1) AS san,
		   string_agg(attempt || ' rc=' || rc, ', ') FILTER (WHERE class IN ('crash', 'hang')) AS which
	  FROM classified
),
unaccounted AS (
	SELECT count(*) AS n, string_agg(attempt || ' rc=' || rc, ', ') AS which
	  FROM classified WHERE class = 'unaccounted'
),
-- Accepted guarded writes in commit order (id) never go back in token order.
back AS (
	SELECT count(*) AS n FROM (
		SELECT token, max(token) OVER (PARTITION BY job ORDER BY id
									   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
		  FROM soak_hist) s
	 WHERE before > token
),
-- The accepted writes of two tokens of a job never interleave in time.
spans AS (
	SELECT job, token, min(at) AS first_at, max(at) AS last_at FROM soak_hist GROUP BY job, token
),
interleave AS (
	SELECT count(*) AS n FROM spans a JOIN spans b
	    ON a.job = b.job AND a.token < b.token AND a.last_at >= b.first_at
),
-- COMMAND lifetimes (not paused wrappers: a SIGSTOPped wrapper cannot stop its
-- COMMAND, that is what fencing is for).  A COMMAND that did not finish by
-- itself was reaped before [CRON_DONE], and killed at the latest grace after
-- [CRON_LOST] (SIGKILL), or when its wrapper died (parent-death signal).
lives AS (
	SELECT attempt, job, token, cmd_start_ms AS s,
		   coalesce(cmd_end_ms,
					least((extract(epoch FROM done_ts) * 1000)::bigint,
						  (extract(epoch FROM lost_ts) * 1000)::bigint + :grace * 1000 + 200),
					t1_ms) AS e
	  FROM classified
	 WHERE token IS NOT NULL AND cmd_start_ms IS NOT NULL AND stopped = 0
),
overlap AS (
	SELECT count(*) AS n,
		   string_agg(a.attempt || '/' || b.attempt, ', ') AS which
	  FROM lives a JOIN lives b
		ON a.job = b.job AND a.token < b.token AND a.s < b.e AND b.s < a.e
),
-- Tokens: per job strictly increasing with run_id, never issued twice.
tokens AS (
	SELECT count(*) AS n FROM (
		SELECT token, lag(token) OVER (PARTITION BY job ORDER BY run_id) AS prev
		  FROM cron_lock.job_runs) s
	 WHERE prev >= token
),
-- One logical acquisition (attempt uuid) never yields two runs.
attempts_twice AS (
	SELECT count(*) AS n FROM (
		SELECT attempt FROM cron_lock.job_runs WHERE attempt IS NOT NULL
		 GROUP BY attempt HAVING count(*) > 1) s
),
-- Every token a wrapper ran with is a run of that job and instance on the server.
unknown_tokens AS (
	SELECT count(*) AS n FROM classified c
	 WHERE c.token IS NOT NULL
	   AND NOT EXISTS (SELECT FROM cron_lock.job_runs r
						WHERE r.job = c.job AND r.token = c.token AND r.instance = c.instance)
),
-- Runs no wrapper reported: acquired, then the reply and every retry were lost.
orphans AS (
	SELECT count(*) AS n FROM cron_lock.job_runs r
	 WHERE NOT EXISTS (SELECT FROM classified c WHERE c.job = r.job AND c.token = r.token)
),
-- After the faults stop, every job runs again within the bound.
resumed AS (
	SELECT j.job,
		   (SELECT min(c.cmd_start_ms) FROM classified c
			 WHERE c.job = j.job AND c.class = 'ran' AND c.cmd_start_ms >= :t_healed) - :t_healed AS after_ms
	  FROM (SELECT DISTINCT job FROM soak_attempts) j
),
late AS (
	SELECT count(*) FILTER (WHERE after_ms IS NULL OR after_ms > :resume_bound * 1000) AS n,
		   max(after_ms) AS worst,
		   string_agg(job || '=' || coalesce(after_ms::text, 'never'), ' ') AS each
	  FROM resumed
),
-- Once healed (and a TTL for stale leases later), nothing is skipped or lost.
after_heal AS (
	SELECT count(*) AS n, string_agg(attempt || ':' || class, ', ') AS which
	  FROM classified
	 WHERE t0_ms > :t_healed + (:ttl + 1) * 1000 AND class IN ('skipped', 'lost')
)
SELECT * FROM (VALUES
	(CASE WHEN (SELECT bad + san FROM crashes) = 0 AND :cores = 0 THEN 'ok' ELSE 'FAIL' END,
	 'zero crashes: exit statuses in the documented set, no hang, no sanitizer report, no core',
	 (SELECT format('%s crashed/hung %s, %s sanitizer reports, %s cores', bad, coalesce(which, ''), san, :cores) FROM crashes)),
	(CASE WHEN (SELECT n FROM unaccounted) = 0 THEN 'ok' ELSE 'FAIL' END,
	 'every attempt accounted as ran / busy / skipped / lost (or killed by the nemesis)',
	 (SELECT format('%s unaccounted %s', n, coalesce(left(which, 300), '')) FROM unaccounted)),
	(CASE WHEN (SELECT n FROM back) = 0 THEN 'ok' ELSE 'FAIL' END,
	 'accepted guarded writes never go back in token order',
	 (SELECT format('%s writes below an earlier token; %s accepted writes', n, (SELECT count(*) FROM soak_hist)) FROM back)),
	(CASE WHEN (SELECT n FROM interleave) = 0 THEN 'ok' ELSE 'FAIL' END,
	 'the accepted writes of two runs of a job never interleave in time',
	 (SELECT format('%s interleaving pairs; %s runs wrote', n, (SELECT count(*) FROM spans)) FROM interleave)),
	(CASE WHEN (SELECT n FROM overlap) = 0 THEN 'ok' ELSE 'FAIL' END,
	 'no two COMMANDs of a job alive at once (wrappers not paused)',
	 (SELECT format('%s overlapping pairs %s; %s lifetimes checked', n, coalesce(left(which, 300), ''), (SELECT count(*) FROM lives)) FROM overlap)),
	(CASE WHEN (SELECT n FROM tokens) = 0 THEN 'ok' ELSE 'FAIL' END,
	 'tokens strictly increase per job, never issued twice',
	 (SELECT format('%s violations over %s runs', n, (SELECT count(*) FROM cron_lock.job_runs)) FROM tokens)),
	(CASE WHEN (SELECT n FROM attempts_twice) = 0 THEN 'ok' ELSE 'FAIL' END,
	 'an attempt (retried acquisition) never yields a second run',
	 (SELECT format('%s attempts with two runs', n) FROM attempts_twice)),
	(CASE WHEN (SELECT n FROM unknown_tokens) = 0 THEN 'ok' ELSE 'FAIL' END,
	 'every token a wrapper ran with is a run of its job and instance',
	 (SELECT format('%s unknown; %s runs nobody reported (acquired, reply and retries lost; they expire)', n, (SELECT n FROM orphans)) FROM unknown_tokens)),
	(CASE WHEN (SELECT n FROM late) = 0 THEN 'ok' ELSE 'FAIL' END,
	 format('runs resume within %ss (TTL + retry budget + one command) after the faults stop', :resume_bound),
	 (SELECT format('ms after heal: %s', each) FROM late)),
	(CASE WHEN (SELECT n FROM after_heal) = 0 THEN 'ok' ELSE 'FAIL' END,
	 'after the faults stop (+ TTL) no attempt is skipped or lost',
	 (SELECT format('%s %s', n, coalesce(left(which, 300), '')) FROM after_heal))
) AS p(result, property, detail);
