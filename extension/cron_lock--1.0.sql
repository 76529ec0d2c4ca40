/* extension/cron_lock--1.0.sql: leases, fencing tokens, run history and
 * duplicate-runner evidence for scheduled jobs.  See CONTRACT.md and README.md. */

\echo Use "CREATE EXTENSION cron_lock" to load this file. \quit

-- The functions go into the schema the extension is installed in; the data
-- goes into schema cron_lock, which must stay the extension's own.
DO $$
BEGIN
	IF '@extschema@' = 'cron_lock' THEN
		RAISE EXCEPTION 'cron_lock cannot be installed into schema cron_lock'
			USING ERRCODE = '0A000',
				  DETAIL = 'Schema cron_lock holds the extension''s tables and views.',
				  HINT = 'Install it into another schema, for example: CREATE EXTENSION cron_lock SCHEMA public;';
	END IF;
END
$$;

-- Two NOLOGIN roles; an existing role of the same name is adopted only if it
-- is just as powerless, so installing never hands privileges to a login role.
DO $$
DECLARE
	r pg_catalog.pg_roles;
	want text;
BEGIN
	FOREACH want IN ARRAY ARRAY['cron_lock_user', 'cron_lock_admin'] LOOP
		SELECT * INTO r FROM pg_catalog.pg_roles WHERE rolname = want;
		IF NOT FOUND THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', want);
		ELSIF r.rolcanlogin OR r.rolsuper OR r.rolcreaterole OR r.rolcreatedb
			OR r.rolreplication OR r.rolbypassrls
			OR EXISTS (SELECT FROM pg_catalog.pg_auth_members m WHERE m.member = r.oid) THEN
			RAISE EXCEPTION 'role "%" already exists with powers cron_lock will not adopt', want
				USING ERRCODE = '42710',
					  DETAIL = 'cron_lock grants its functions to this role and expects a NOLOGIN role with no other attributes or memberships.',
					  HINT = 'Drop or rename that role, or remove its LOGIN, SUPERUSER, CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS attributes and role memberships, then try again.';
		END IF;
	END LOOP;
END
$$;

CREATE SCHEMA cron_lock;
GRANT USAGE ON SCHEMA cron_lock TO cron_lock_user, cron_lock_admin;

CREATE SEQUENCE cron_lock.job_runs_run_id_seq;

-- One row per acquisition.  Statuses and kinds are not CHECK constraints:
-- PostgreSQL re-plans those on every INSERT and UPDATE statement (a quarter
-- of an acquisition's CPU), and only this extension's functions write here,
-- with constants or validated values.
CREATE TABLE cron_lock.job_runs (
	run_id           bigint PRIMARY KEY DEFAULT nextval('cron_lock.job_runs_run_id_seq'),
	job              text COLLATE "C" NOT NULL,
	instance         text COLLATE "C" NOT NULL,
	token            bigint NOT NULL,
	attempt          uuid,
	status           text COLLATE "C" NOT NULL,  -- running, succeeded, failed, cancelled, expired
	started_at       timestamptz NOT NULL,
	heartbeat_at     timestamptz NOT NULL,
	expires_at       timestamptz NOT NULL,
	finished_at      timestamptz,
	backend_pid      integer,
	backend_start    timestamptz,
	client_addr      inet,
	application_name text,
	message          text,
	taken_over_by    bigint,
	reported_status  text COLLATE "C",          -- succeeded, failed, cancelled
	reported_at      timestamptz,
	forced_by        text,
	-- Enforces "never issued twice" and serves per-job history in token order.
	CONSTRAINT job_runs_job_token_key UNIQUE (job, token)
) WITH (fillfactor = 90);
-- A run is inserted at the end of the table and updated soon after (release,
-- heartbeats); the room left on its page keeps those updates HOT, so they
-- touch no index.
ALTER SEQUENCE cron_lock.job_runs_run_id_seq OWNED BY cron_lock.job_runs.run_id;
-- No index on taken_over_by: only cron_lock_prune looks runs up by it, and
-- every new run would pay for one (a partial index's predicate is compiled
-- again for each insert).

-- The current lease per job.  The primary key must stay its only unique
-- index: updates that keep job are then "no key" updates, which is what lets
-- cron_lock_check's FOR KEY SHARE block takeovers but not heartbeats.
CREATE TABLE cron_lock.leases (
	job           text COLLATE "C" PRIMARY KEY,
	token         bigint NOT NULL,
	run_id        bigint NOT NULL,
	instance      text COLLATE "C" NOT NULL,
	held          boolean NOT NULL,
	attempt       uuid,
	backend_pid   integer,
	backend_start timestamptz,
	acquired_at   timestamptz NOT NULL,
	heartbeat_at  timestamptz NOT NULL,
	expires_at    timestamptz NOT NULL
) WITH (fillfactor = 50);
-- Each run updates its lease row twice.  On full pages every read must prune
-- the dead versions first (measured: 50k of a cycle's instructions); half-full
-- pages keep that to 6.5k, for a table of one row per job.

-- Every held, locked or too_soon answer: who asked, who held.
CREATE TABLE cron_lock.contention (
	job         text COLLATE "C" NOT NULL,
	instance    text COLLATE "C" NOT NULL,
	holder      text COLLATE "C",
	reason      text COLLATE "C" NOT NULL,  -- held, locked, too_soon
	at          timestamptz NOT NULL,
	backend_pid integer,
	client_addr inet
);
-- Events arrive in time order, so a BRIN index serves "since" and prune scans.
-- Its inserts rarely write WAL and do not all meet on the last leaf of a B-tree: busy
-- answers at 8 and 32 clients, 8-15 % faster than with a B-tree.
CREATE INDEX contention_at_idx ON cron_lock.contention USING brin (at);

-- Recorded anomalies; overlong runs are computed live in the view.
CREATE TABLE cron_lock.anomaly_log (
	kind        text COLLATE "C" NOT NULL,  -- stale_takeover, late_release, late_heartbeat, lost_heartbeat
	job         text COLLATE "C" NOT NULL,
	run_id      bigint,
	instance    text COLLATE "C",
	detected_at timestamptz NOT NULL,
	detail      text NOT NULL
);
CREATE INDEX anomaly_log_detected_at_idx ON cron_lock.anomaly_log (detected_at);

-- Kept by pg_dump, so history, run ids and tokens continue after a restore.
SELECT pg_catalog.pg_extension_config_dump('cron_lock.job_runs', '');
SELECT pg_catalog.pg_extension_config_dump('cron_lock.job_runs_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('cron_lock.leases', '');
SELECT pg_catalog.pg_extension_config_dump('cron_lock.contention', '');
SELECT pg_catalog.pg_extension_config_dump('cron_lock.anomaly_log', '');

CREATE FUNCTION cron_lock.backend_alive(pid integer, started timestamptz)
RETURNS boolean
AS 'MODULE_PATHNAME', 'backend_alive'
LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE VIEW cron_lock.status AS
SELECT l.job,
	   CASE WHEN NOT l.held THEN 'free'
			WHEN l.expires_at > pg_catalog.clock_timestamp() THEN 'held'
			ELSE 'expired' END AS state,
	   CASE WHEN l.held THEN l.instance END AS holder,
	   l.token,
	   l.run_id,
	   l.backend_pid,
	   cron_lock.backend_alive(l.backend_pid, l.backend_start) AS backend_alive,
	   l.acquired_at,
	   l.heartbeat_at,
	   l.expires_at
  FROM cron_lock.leases l;

-- An overlong run: still held more than one ttl (the last renewal's) past
-- its expiry, with nobody taking over.
CREATE VIEW cron_lock.anomalies AS
SELECT a.kind, a.job, a.run_id, a.instance, a.detected_at, a.detail
  FROM cron_lock.anomaly_log a
UNION ALL
SELECT 'overlong_run', l.job, l.run_id, l.instance,
	   l.expires_at + (l.expires_at - l.heartbeat_at),
	   pg_catalog.format('Run %s of job "%s" by instance "%s" (backend pid %s) is still marked running %s after its lease expired and nobody has taken it over. Check whether that runner is stuck; if it is gone, free the job with cron_lock_force_release(%L, %s).',
						 l.run_id, l.job, l.instance,
						 coalesce(l.backend_pid::text, 'unknown'),
						 pg_catalog.date_trunc('second', pg_catalog.clock_timestamp() - l.expires_at),
						 l.job, l.token)
  FROM cron_lock.leases l
 WHERE l.held
   AND l.expires_at + (l.expires_at - l.heartbeat_at) < pg_catalog.clock_timestamp();

-- Per (job, instance): every acquisition and every busy answer kept.
CREATE VIEW cron_lock.sightings AS
WITH seen AS (
	SELECT r.job, r.instance, r.started_at AS at, 1 AS acquired, 0 AS busy,
		   r.backend_pid, r.client_addr
	  FROM cron_lock.job_runs r
	UNION ALL
	SELECT c.job, c.instance, c.at, 0, 1, c.backend_pid, c.client_addr
	  FROM cron_lock.contention c
)
SELECT s.job, s.instance,
	   pg_catalog.min(s.at) AS first_seen,
	   pg_catalog.max(s.at) AS last_seen,
	   pg_catalog.count(*) AS attempts,
	   pg_catalog.sum(s.acquired) AS acquired,
	   pg_catalog.sum(s.busy) AS busy,
	   (pg_catalog.array_agg(s.backend_pid ORDER BY s.at DESC))[1] AS last_backend_pid,
	   (pg_catalog.array_agg(s.client_addr ORDER BY s.at DESC))[1] AS last_client_addr
  FROM seen s
 GROUP BY s.job, s.instance;

-- A named row type: its descriptor comes from the type cache, where OUT
-- parameters would be rebuilt from the catalog on every call.
CREATE TYPE cron_lock.try_result AS (
	acquired boolean, reason text, run_id bigint, token bigint,
	holder text COLLATE "C", holder_pid integer, expires_at timestamptz, took_over bigint);

-- The C functions carry no SET search_path (a GUC save and restore on every
-- call): their hot paths resolve no names, and their few SQL statements run
-- under search_path = pg_catalog, cron_lock, pg_temp set by the module itself.
CREATE FUNCTION @extschema@.cron_lock_try(
	job text, instance text, ttl interval,
	attempt uuid DEFAULT NULL, min_gap interval DEFAULT NULL)
RETURNS cron_lock.try_result
AS 'MODULE_PATHNAME', 'cron_lock_try'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION @extschema@.cron_lock_heartbeat(job text, token bigint, ttl interval)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'cron_lock_heartbeat'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION @extschema@.cron_lock_release(
	job text, token bigint, status text DEFAULT 'succeeded', message text DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'cron_lock_release'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION @extschema@.cron_lock_check(job text, token bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'cron_lock_check'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION @extschema@.cron_lock_force_release(job text, token bigint DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'cron_lock_force_release'
LANGUAGE C VOLATILE SECURITY DEFINER;

-- Deletes finished runs and events older than keep; returns the rows deleted.
-- Never a running run or the run of a lease, never a run that a kept
-- anomaly or a kept run refers to.
CREATE FUNCTION @extschema@.cron_lock_prune(keep interval DEFAULT '30 days')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
DECLARE
	cutoff timestamptz;
	n bigint;
	total bigint := 0;
BEGIN
	IF keep IS NULL THEN
		RAISE EXCEPTION 'keep must not be null' USING ERRCODE = '22004';
	END IF;
	IF keep < interval '0' THEN
		RAISE EXCEPTION 'keep must not be negative'
			USING ERRCODE = '22023', HINT = 'Give how much history to keep, for example ''30 days''.';
	END IF;
	-- The same refusal, words and hint as the C functions' RequireWritable.
	IF pg_is_in_recovery() THEN
		RAISE EXCEPTION 'cannot prune the history on a standby'
			USING ERRCODE = '25006',
				  DETAIL = 'The server is in recovery; leases change only on the primary.',
				  HINT = 'Connect to the primary, for example with target_session_attrs=read-write.';
	END IF;
	IF current_setting('transaction_read_only')::boolean THEN
		RAISE EXCEPTION 'cannot prune the history in a read-only transaction'
			USING ERRCODE = '25006', HINT = 'Call it outside a READ ONLY transaction.';
	END IF;
	cutoff := clock_timestamp() - keep;

	DELETE FROM cron_lock.contention c WHERE c.at < cutoff;
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;

	DELETE FROM cron_lock.anomaly_log a WHERE a.detected_at < cutoff;
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;

	DELETE FROM cron_lock.job_runs r
	 WHERE r.status <> 'running'
	   AND r.finished_at < cutoff
	   AND NOT EXISTS (SELECT FROM cron_lock.leases l WHERE l.run_id = r.run_id)
	   AND NOT EXISTS (SELECT FROM cron_lock.anomaly_log a WHERE a.run_id = r.run_id)
	   AND NOT EXISTS (SELECT FROM cron_lock.job_runs o
						WHERE o.taken_over_by = r.run_id
						  AND (o.finished_at IS NULL OR o.finished_at >= cutoff));
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN total + n;
END
$$;

-- Jobs whose contention events within since involve two different
-- instances: the proof (or disproof) that duplicate runners exist.
CREATE FUNCTION @extschema@.cron_lock_duplicates(since interval DEFAULT '1 day')
RETURNS TABLE (job text, instances integer, instance_ids text[], busy_answers bigint,
			   first_seen timestamptz, last_seen timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, cron_lock, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	IF since IS NULL THEN
		RAISE EXCEPTION 'since must not be null' USING ERRCODE = '22004';
	END IF;
	IF since <= interval '0' THEN
		RAISE EXCEPTION 'since must be greater than zero' USING ERRCODE = '22023';
	END IF;
	RETURN QUERY
	WITH e AS (
		SELECT c.job, c.instance, c.holder, c.at
		  FROM cron_lock.contention c
		 WHERE c.at >= clock_timestamp() - since
		   AND c.holder IS NOT NULL
		   AND c.holder <> c.instance
	), who AS (
		SELECT e.job, e.instance AS id FROM e
		UNION
		SELECT e.job, e.holder FROM e
	)
	SELECT e.job,
		   (SELECT count(*)::integer FROM who w WHERE w.job = e.job),
		   (SELECT array_agg(w.id ORDER BY w.id) FROM who w WHERE w.job = e.job),
		   count(*),
		   min(e.at),
		   max(e.at)
	  FROM e
	 GROUP BY e.job
	 ORDER BY e.job;
END
$$;

-- Nothing for PUBLIC.  Users run jobs and read the views; admins also free
-- leases, prune, and read the tables.  Nobody but the owner writes the tables.
REVOKE ALL ON FUNCTION
	@extschema@.cron_lock_try(text, text, interval, uuid, interval),
	@extschema@.cron_lock_heartbeat(text, bigint, interval),
	@extschema@.cron_lock_release(text, bigint, text, text),
	@extschema@.cron_lock_check(text, bigint),
	@extschema@.cron_lock_force_release(text, bigint),
	@extschema@.cron_lock_prune(interval),
	@extschema@.cron_lock_duplicates(interval),
	cron_lock.backend_alive(integer, timestamptz)
FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
	@extschema@.cron_lock_try(text, text, interval, uuid, interval),
	@extschema@.cron_lock_heartbeat(text, bigint, interval),
	@extschema@.cron_lock_release(text, bigint, text, text),
	@extschema@.cron_lock_check(text, bigint),
	@extschema@.cron_lock_duplicates(interval),
	cron_lock.backend_alive(integer, timestamptz)
TO cron_lock_user, cron_lock_admin;

GRANT EXECUTE ON FUNCTION
	@extschema@.cron_lock_force_release(text, bigint),
	@extschema@.cron_lock_prune(interval)
TO cron_lock_admin;

GRANT SELECT ON cron_lock.status, cron_lock.anomalies, cron_lock.sightings
TO cron_lock_user, cron_lock_admin;

GRANT SELECT ON cron_lock.job_runs, cron_lock.leases, cron_lock.contention,
	cron_lock.anomaly_log
TO cron_lock_admin;
