/*-------------------------------------------------------------------------
 * store.c
 *	  Every access to cron_lock's tables: SQL statements run by SPI.
 *
 * Each statement is parameterised, prepared on first use and kept for the
 * life of the backend.  Names resolve under the search_path that every
 * SECURITY DEFINER function of the extension pins (pg_catalog, cron_lock,
 * pg_temp), and the plan cache re-plans when a table changes.  Going
 * through the executor keeps every guarantee an INSERT or UPDATE has on
 * every PostgreSQL major (indexes, NOT NULL, concurrent-update rechecks);
 * what could run other code on these tables is refused first (tables.c).
 *
 * One SQL function call is one SPI connection: StoreBegin, any of the
 * functions below, StoreEnd.  Values read come back copied into the
 * caller's memory context.  Times are passed in by the callers, taken after
 * the lease row lock (cron_lock.h has the lock protocol), except where a
 * statement says otherwise.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#define MAX_ARGS 12

typedef struct Statement
{
	const char *sql;
	int			nargs;
	Oid			types[MAX_ARGS];
	SPIPlanPtr	plan;			/* prepared on first use, kept */
} Statement;

/*
 * Run a statement (StoreBegin has connected to SPI), preparing and keeping
 * its plan on first use.  values/nulls as SPI_execute_plan takes them.  The
 * first row's first ncols columns are copied to row/isnull, in the memory
 * context that was current at StoreBegin.  Raises on any result but
 * expected; returns the number of rows.
 */
static uint64
Execute(Statement *stmt, Datum *values, const char *nulls, int expected,
		int ncols, Datum *row, bool *isnull)
{
	uint64		processed;
	int			rc;

	if (stmt->plan == NULL)
	{
		/* One-row statements by key: a custom plan per value gains nothing. */
		SPIPlanPtr	plan = SPI_prepare_cursor(stmt->sql, stmt->nargs, stmt->types,
											  CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL)
			elog(ERROR, "cron_lock: SPI_prepare failed: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "cron_lock: SPI_keepplan failed");
		stmt->plan = plan;
	}
	rc = SPI_execute_plan(stmt->plan, values, nulls, false, 0);
	if (rc != expected)
		elog(ERROR, "cron_lock: unexpected SPI result %s for \"%.60s\"",
			 SPI_result_code_string(rc), stmt->sql);
	processed = SPI_processed;
	for (int i = 0; processed > 0 && i < ncols; i++)
	{
		Form_pg_attribute att = TupleDescAttr(SPI_tuptable->tupdesc, i);
		Datum		value = SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, i + 1, &isnull[i]);

		row[i] = isnull[i] ? (Datum) 0 :
			SPI_datumTransfer(value, att->attbyval, att->attlen);
	}
	if (SPI_tuptable != NULL)
		SPI_freetuptable(SPI_tuptable);
	return processed;
}

/*
 * StoreBegin: lock and check cron_lock's tables (tables.c), then connect to
 * SPI.  cron_lock_check locks only leases, as SELECT ... FOR KEY SHARE
 * does; every other function locks the tables as an UPDATE does, from the
 * start.  Raises 55000 when a table is not as the extension made it.
 */
void
StoreBegin(Store *st, bool guard_only)
{
	TablesUse(guard_only ? RowShareLock : RowExclusiveLock, guard_only);
	st->roles = TablesHaveRoles(guard_only);
	st->pause = st->roles && TablesHavePause();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "cron_lock: SPI_connect failed");
	st->connected = true;

	/*
	 * 1.1's functions pin the path; 1.0's definitions, still in place between
	 * a package upgrade and ALTER EXTENSION UPDATE, do not: pin it here then,
	 * so that no operator or function of the caller's path runs as the owner.
	 */
	st->guc_level = 0;
	if (strcmp(namespace_search_path, CRON_LOCK_SEARCH_PATH) != 0)
	{
		st->guc_level = NewGUCNestLevel();
		(void) set_config_option("search_path", CRON_LOCK_SEARCH_PATH,
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
	}
}

/* StoreEnd: disconnect from SPI.  (On an error, the abort cleans SPI up.) */
void
StoreEnd(Store *st)
{
	if (!st->connected)
		return;
	st->connected = false;
	if (st->guc_level > 0)
		AtEOXact_GUC(true, st->guc_level);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "cron_lock: SPI_finish failed");
}

/* The client's address (NULL on a unix socket), fixed for the session. */
static Datum
ClientAddr(char *null)
{
	static bool known = false;
	static bool addr_null;
	static Datum addr;

	if (!known)
	{
		LOCAL_FCINFO(fcinfo, 0);
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		Datum		value;

		InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
		value = inet_client_addr(fcinfo);
		addr_null = fcinfo->isnull;
		addr = addr_null ? (Datum) 0 : value;
		MemoryContextSwitchTo(old);
		known = true;
	}
	*null = addr_null ? 'n' : ' ';
	return addr;
}

/* application_name as the runner set it, NULL when empty. */
static Datum
ApplicationName(char *null)
{
	bool		empty = application_name == NULL || application_name[0] == '\0';

	*null = empty ? 'n' : ' ';
	return empty ? (Datum) 0 : CStringGetTextDatum(application_name);
}

/* --- the lease row ------------------------------------------------------ */

#define LEASE_COLUMNS(role) \
	"SELECT token, run_id, instance, held, attempt, backend_pid, acquired_at," \
	"       expires_at, " role \
	"  FROM ONLY cron_lock.leases WHERE job = $1"
#define LEASE_NCOLS 10

/*
 * The plain read before a busy answer: only what deciding it needs (each
 * column read costs executor set-up on every call).
 */
#define LEASE_PEEK_COLUMNS(paused) \
	"SELECT instance, held, attempt, backend_pid, acquired_at, expires_at, " paused \
	"  FROM ONLY cron_lock.leases WHERE job = $1"
#define LEASE_PEEK_NCOLS 7

/*
 * Indexed by the layout of the tables (0: 1.0's, 1: with 1.1's role
 * column, 2: with 1.2's paused_until too; older layouts last until ALTER
 * EXTENSION cron_lock UPDATE) and by LeaseLock: the read, and the row lock
 * it takes.  cron_lock_try (PEEK, TAKE) needs the pause, not the role; the
 * others need the role, not the pause: each reads only what it uses, which
 * keeps a busy answer as cheap as before 1.2.
 */
#define LEASE_READS(role, paused) { \
	[LEASE_PEEK] = {LEASE_PEEK_COLUMNS(paused), 1, {TEXTOID}}, \
	[LEASE_TAKE] = {LEASE_COLUMNS("NULL::text, " paused) " FOR UPDATE SKIP LOCKED", 1, {TEXTOID}}, \
	[LEASE_RENEW] = {LEASE_COLUMNS(role ", NULL::timestamptz") " FOR NO KEY UPDATE", 1, {TEXTOID}}, \
	[LEASE_GUARD] = {LEASE_COLUMNS(role ", NULL::timestamptz") " FOR KEY SHARE", 1, {TEXTOID}}}
static Statement lease_read[3][4] = {
	LEASE_READS("NULL::text", "NULL::timestamptz"),
	LEASE_READS("role", "NULL::timestamptz"),
	LEASE_READS("role", "paused_until")
};

/*
 * LeaseFetch: read the lease row of a job, locked as mode says.  False when
 * there is no row, or (LEASE_TAKE) when another transaction has it locked.
 * In READ COMMITTED a row updated since the statement's snapshot is
 * followed to its newest version, as SELECT ... FOR UPDATE does; above it,
 * that raises 40001.  LEASE_RENEW and LEASE_GUARD may wait, but only behind
 * a transaction that holds LEASE_TAKE, and those never wait themselves.
 * LEASE_PEEK is a plain read with a snapshot taken now, of what a busy
 * answer needs: token, run_id and role are left 0 and NULL.
 */
bool
LeaseFetch(Store *st, text *job, LeaseLock mode, Lease *lease)
{
	Datum		args[1] = {PointerGetDatum(job)};
	Datum		v[LEASE_NCOLS];
	bool		n[LEASE_NCOLS];

	if (mode == LEASE_PEEK)
	{
		if (Execute(&lease_read[st->roles + st->pause][mode], args, NULL, SPI_OK_SELECT,
					LEASE_PEEK_NCOLS, v, n) == 0)
			return false;
		lease->job = job;
		lease->token = 0;
		lease->run_id = 0;
		lease->instance = DatumGetTextPP(v[0]);
		lease->held = DatumGetBool(v[1]);
		lease->has_attempt = !n[2];
		if (lease->has_attempt)
			lease->attempt = *DatumGetUUIDP(v[2]);
		lease->has_pid = !n[3];
		lease->backend_pid = lease->has_pid ? DatumGetInt32(v[3]) : 0;
		lease->acquired_at = DatumGetTimestampTz(v[4]);
		lease->expires_at = DatumGetTimestampTz(v[5]);
		lease->role = NULL;
		lease->paused_until = n[6] ? DT_NOBEGIN : DatumGetTimestampTz(v[6]);
		return true;
	}
	if (Execute(&lease_read[st->roles + st->pause][mode], args, NULL, SPI_OK_SELECT,
				LEASE_NCOLS, v, n) == 0)
		return false;
	lease->job = job;
	lease->token = DatumGetInt64(v[0]);
	lease->run_id = DatumGetInt64(v[1]);
	lease->instance = DatumGetTextPP(v[2]);
	lease->held = DatumGetBool(v[3]);
	lease->has_attempt = !n[4];
	if (lease->has_attempt)
		lease->attempt = *DatumGetUUIDP(v[4]);
	lease->has_pid = !n[5];
	lease->backend_pid = lease->has_pid ? DatumGetInt32(v[5]) : 0;
	lease->acquired_at = DatumGetTimestampTz(v[6]);
	lease->expires_at = DatumGetTimestampTz(v[7]);
	lease->role = n[8] ? NULL : DatumGetTextPP(v[8]);
	lease->paused_until = n[9] ? DT_NOBEGIN : DatumGetTimestampTz(v[9]);
	return true;
}

/*
 * LeaseTryLockNewJob: the right to insert the first lease row of a job,
 * without waiting.  INSERT waits for a concurrent inserter of the same key,
 * so every first insert happens under this transaction-scoped lock; field4
 * keeps it apart from the keys of pg_advisory_xact_lock().  A hash
 * collision only makes one of two brand-new jobs answer "locked".
 */
static void
NewJobTag(text *job, LOCKTAG *tag)
{
	uint64		hash = hash_bytes_extended((const unsigned char *) VARDATA_ANY(job),
										   VARSIZE_ANY_EXHDR(job), 0);

	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (hash >> 32),
						 (uint32) hash, 0x434C);
}

bool
LeaseTryLockNewJob(text *job)
{
	LOCKTAG		tag;

	NewJobTag(job, &tag);
	return LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL;
}

/*
 * LeaseLockNewJob: the same lock, waited for: a first insert in progress
 * has committed or aborted when this returns, and none starts before this
 * transaction ends (cron_lock_pause, so that a new lease row gets its
 * pause).
 */
void
LeaseLockNewJob(text *job)
{
	LOCKTAG		tag;

	NewJobTag(job, &tag);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * LockChores: the lock of the chores (cron_lock.sweep, cron_lock_prune),
 * waited for or not; true when had.  Transaction-scoped, with a field4 that
 * no pg_advisory_*lock() key has, so no other role can take it first.
 */
bool
LockChores(bool wait)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, 0, 0x434E);
	return LockAcquire(&tag, ExclusiveLock, false, !wait) != LOCKACQUIRE_NOT_AVAIL;
}

/* $1 job, $2 now */
static Statement job_paused = {
	"SELECT FROM ONLY cron_lock.jobs WHERE job = $1 AND paused_until > $2",
	2, {TEXTOID, TIMESTAMPTZOID}
};

/*
 * JobPausedAt: whether cron_lock_pause has paused a job at time now, read
 * from cron_lock.jobs (1.2's layout), for a job that has no lease row yet:
 * a lease row carries its own copy of the pause.
 */
bool
JobPausedAt(text *job, TimestampTz now)
{
	Datum		args[2] = {PointerGetDatum(job), TimestampTzGetDatum(now)};

	TablesUseJobs();
	return Execute(&job_paused, args, NULL, SPI_OK_SELECT, 0, NULL, NULL) > 0;
}

/*
 * The arguments of a new run: $1 job, $2 instance, $3 token, $4 attempt,
 * $5 now, $6 expires_at, $7 backend_pid, $8 backend_start, $9 client_addr,
 * $10 application_name, $11 run_id, $12 role (unused with 1.0 tables).
 */
#define NEW_RUN_TYPES \
	{TEXTOID, TEXTOID, INT8OID, UUIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID, \
	 INT4OID, TIMESTAMPTZOID, INETOID, TEXTOID, INT8OID, TEXTOID}

/* Each statement twice: for 1.0 tables, then with 1.1's role column. */
#define INSERT_RUN(role) \
	" INSERT INTO cron_lock.job_runs (run_id, job, instance, token, attempt," \
	"    status, started_at, heartbeat_at, expires_at, backend_pid," \
	"    backend_start, client_addr, application_name" role ")"

/*
 * The first lease of a job, then its run.  ON CONFLICT: a first insert that
 * committed after the caller's snapshot (READ COMMITTED: nothing is
 * inserted; above it: 40001).  No other first insert can be in progress
 * (LeaseTryLockNewJob), so this does not wait.
 */
#define INSERT_FIRST(role, value, unless) { \
	"WITH lease AS (" \
	"  INSERT INTO cron_lock.leases (job, token, run_id, instance, held, attempt," \
	"      backend_pid, backend_start, acquired_at, heartbeat_at, expires_at" role ")" \
	"  SELECT $1, $3, $11, $2, true, $4, $7, $8, $5, $5, $6" value unless \
	"  ON CONFLICT (job) DO NOTHING" \
	"  RETURNING job)" \
	INSERT_RUN(role) \
	" SELECT $11, $1, $2, $3, $4, 'running', $5, $5, $6, $7, $8, $9, $10" value " FROM lease", \
	12, NEW_RUN_TYPES}
/* With 1.2's layout, nothing either while cron_lock_pause has paused the job. */
static Statement insert_first[3] = {
	INSERT_FIRST("", "", ""),
	INSERT_FIRST(", role", ", $12", ""),
	INSERT_FIRST(", role", ", $12",
				 " WHERE NOT EXISTS (SELECT FROM ONLY cron_lock.jobs j"
				 "                    WHERE j.job = $1 AND j.paused_until > $5)")
};

/* A new run on a lease row this transaction has locked FOR UPDATE. */
#define ACQUIRE(role, value, set) { \
	"WITH run AS (" \
	INSERT_RUN(role) \
	"  VALUES ($11, $1, $2, $3, $4, 'running', $5, $5, $6, $7, $8, $9, $10" value "))" \
	" UPDATE ONLY cron_lock.leases SET token = $3, run_id = $11, instance = $2," \
	"     held = true, attempt = $4, backend_pid = $7, backend_start = $8," \
	"     acquired_at = $5, heartbeat_at = $5, expires_at = $6" set \
	"  WHERE job = $1", \
	12, NEW_RUN_TYPES}
static Statement acquire[2] = {
	ACQUIRE("", "", ""),
	ACQUIRE(", role", ", $12", ", role = $12")
};

static void
NewRunArgs(const NewRun *run, Datum *v, char *n)
{
	memset(n, ' ', MAX_ARGS);
	v[0] = PointerGetDatum(run->job);
	v[1] = PointerGetDatum(run->instance);
	v[2] = Int64GetDatum(run->token);
	v[3] = run->attempt ? UUIDPGetDatum(run->attempt) : (Datum) 0;
	n[3] = run->attempt ? ' ' : 'n';
	v[4] = TimestampTzGetDatum(run->now);
	v[5] = TimestampTzGetDatum(run->expires_at);
	v[6] = Int32GetDatum(MyProcPid);
	v[7] = TimestampTzGetDatum(MyStartTimestamp);
	v[8] = ClientAddr(&n[8]);
	v[9] = ApplicationName(&n[9]);
	v[10] = Int64GetDatum(nextval_internal(TablesRunIdSequence(), false));
	v[11] = PointerGetDatum(OuterRoleName());
}

/*
 * LeaseInsertFirst: the first lease of a job and its run; returns run_id,
 * or 0 when a lease row of the job committed after the caller's snapshot
 * (READ COMMITTED only: the caller then reads it and decides again), or
 * when the job is paused (JobPausedAt tells).
 */
int64
LeaseInsertFirst(Store *st, const NewRun *run)
{
	Datum		v[MAX_ARGS];
	char		n[MAX_ARGS];

	NewRunArgs(run, v, n);
	if (st->pause)
		TablesUseJobs();
	if (Execute(&insert_first[st->roles + st->pause], v, n, SPI_OK_INSERT, 0, NULL, NULL) == 0)
		return 0;
	return DatumGetInt64(v[10]);
}

/* LeaseAcquire: a new run holding an existing lease row, locked FOR UPDATE. */
int64
LeaseAcquire(Store *st, const Lease *lease, const NewRun *run)
{
	Datum		v[MAX_ARGS];
	char		n[MAX_ARGS];

	NewRunArgs(run, v, n);
	if (Execute(&acquire[st->roles], v, n, SPI_OK_UPDATE, 0, NULL, NULL) != 1)
		elog(ERROR, "cron_lock: locked lease row of job \"%s\" vanished",
			 text_to_cstring(run->job));
	return DatumGetInt64(v[10]);
}

/* $1 job, $2 run, $3 now, $4 expires_at */
static Statement renew = {
	"WITH lease AS ("
	"  UPDATE ONLY cron_lock.leases SET heartbeat_at = $3, expires_at = $4"
	"   WHERE job = $1)"
	" UPDATE ONLY cron_lock.job_runs SET heartbeat_at = $3, expires_at = $4"
	"  WHERE run_id = $2",
	4, {TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID}
};

/*
 * LeaseRenew: move the expiry of a lease this transaction has locked, and
 * of its run.  Another transaction updating the run row (an administrator)
 * is waited for and followed, as UPDATE does.
 */
void
LeaseRenew(Store *st, const Lease *lease, TimestampTz now, TimestampTz expires_at)
{
	Datum		v[4] = {PointerGetDatum(lease->job), Int64GetDatum(lease->run_id),
	TimestampTzGetDatum(now), TimestampTzGetDatum(expires_at)};

	if (Execute(&renew, v, NULL, SPI_OK_UPDATE, 0, NULL, NULL) != 1)
		elog(ERROR, "cron_lock: run " INT64_FORMAT " of job \"%s\" is missing",
			 lease->run_id, text_to_cstring(lease->job));
}

/* $1 job, $2 run, $3 status, $4 message, $5 now, $6 forced_by */
static Statement end_run = {
	"WITH lease AS ("
	"  UPDATE ONLY cron_lock.leases SET held = false, attempt = NULL"
	"   WHERE job = $1)"
	" UPDATE ONLY cron_lock.job_runs"
	"    SET status = $3, message = $4, finished_at = $5, forced_by = $6"
	"  WHERE run_id = $2",
	6, {TEXTOID, INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID}
};

/* LeaseEnd: finish the current run of a locked lease and free the lease. */
void
LeaseEnd(Store *st, const Lease *lease, text *status, text *message,
		 TimestampTz now, const char *forced_by)
{
	Datum		v[6] = {PointerGetDatum(lease->job), Int64GetDatum(lease->run_id),
		PointerGetDatum(status), PointerGetDatum(message),
		TimestampTzGetDatum(now),
	forced_by ? CStringGetTextDatum(forced_by) : (Datum) 0};
	char		n[6] = {' ', ' ', ' ', message ? ' ' : 'n', ' ', forced_by ? ' ' : 'n'};

	if (Execute(&end_run, v, n, SPI_OK_UPDATE, 0, NULL, NULL) != 1)
		elog(ERROR, "cron_lock: run " INT64_FORMAT " of job \"%s\" is missing",
			 lease->run_id, text_to_cstring(lease->job));
}

/*
 * $1 job, $2 token, $3 status, $4 message.  The finish time is read by the
 * outer UPDATE, after the lease row is ours: the subquery, which updates
 * (and so locks) the lease row, runs before any row of job_runs is read.
 */
#define RELEASE_HELD(by_role) { \
	"WITH lease AS (" \
	"  UPDATE ONLY cron_lock.leases SET held = false, attempt = NULL" \
	"   WHERE job = $1 AND held AND token = $2" by_role \
	"  RETURNING run_id)" \
	" UPDATE ONLY cron_lock.job_runs" \
	"    SET status = $3, message = $4, finished_at = pg_catalog.clock_timestamp()" \
	"  WHERE run_id = (SELECT run_id FROM lease)", \
	5, {TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID}}
/* $5: the releasing role; a lease another role took is left alone (NULL: any) */
static Statement release_held[2] = {
	RELEASE_HELD(""),
	RELEASE_HELD(" AND ($5 IS NULL OR role IS NULL OR role = $5)")
};

/*
 * LeaseReleaseHeld: end the run of a held lease with this token; false if
 * the lease is not held with it, or (role not NULL) was taken by another
 * role: the caller then decides whether it may act (authority.c).  One UPDATE: a lease row that does not
 * match is left alone without waiting; a match is updated (a no-key
 * update, like a heartbeat's, so a guarded transaction's KEY SHARE lock
 * does not hold it up), and if a concurrent transaction committed a newer
 * version first, that version is checked again.
 */
bool
LeaseReleaseHeld(Store *st, text *job, int64 token, text *role, text *status,
				 text *message)
{
	Datum		v[5] = {PointerGetDatum(job), Int64GetDatum(token),
	PointerGetDatum(status), PointerGetDatum(message), PointerGetDatum(role)};
	char		n[5] = {' ', ' ', ' ', message ? ' ' : 'n', role ? ' ' : 'n'};

	return Execute(&release_held[st->roles], v, n, SPI_OK_UPDATE, 0, NULL, NULL) == 1;
}

/* $1 job, $2 instance, $3 holder, $4 reason, $5 at, $6 backend_pid, $7 client_addr */
static Statement insert_contention = {
	"INSERT INTO cron_lock.contention (job, instance, holder, reason, at,"
	"    backend_pid, client_addr)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7)",
	7, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID, INETOID}
};

/* RecordContention: one busy answer, the evidence of duplicate runners. */
void
RecordContention(text *job, text *instance, text *holder, const char *reason,
				 TimestampTz now)
{
	Datum		v[7] = {PointerGetDatum(job), PointerGetDatum(instance),
		PointerGetDatum(holder), CStringGetTextDatum(reason),
	TimestampTzGetDatum(now), Int32GetDatum(MyProcPid)};
	char		n[7] = {' ', ' ', holder ? ' ' : 'n', ' ', ' ', ' '};

	v[6] = ClientAddr(&n[6]);
	Execute(&insert_contention, v, n, SPI_OK_INSERT, 0, NULL, NULL);
}

/* $1 kind, $2 job, $3 run_id, $4 instance, $5 detected_at, $6 detail */
static Statement insert_anomaly = {
	"INSERT INTO cron_lock.anomaly_log (kind, job, run_id, instance, detected_at,"
	"    detail)"
	" VALUES ($1, $2, $3, $4, $5, $6)",
	6, {TEXTOID, TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID}
};

/* RecordAnomaly: something a person should look at; see the anomalies view. */
void
RecordAnomaly(const char *kind, text *job, int64 run_id, text *instance,
			  TimestampTz now, const char *detail)
{
	Datum		v[6] = {CStringGetTextDatum(kind), PointerGetDatum(job),
		Int64GetDatum(run_id), PointerGetDatum(instance),
	TimestampTzGetDatum(now), CStringGetTextDatum(detail)};
	char		n[6] = {' ', ' ', run_id ? ' ' : 'n', instance ? ' ' : 'n', ' ', ' '};

	Execute(&insert_anomaly, v, n, SPI_OK_INSERT, 0, NULL, NULL);
}

/* The chores: schema/functions/10-sweep.sql. */
static Statement sweep = {"SELECT cron_lock.sweep()", 0};

/*
 * One release, acquisition or renewal in SWEEP_EVERY sweeps: a sweep's fixed cost
 * (measured: 350k instructions, more than the rest of a cycle) is then
 * shared, and its batch (2000 rows) still outruns the busy answers of a
 * hundred instances per run.  The plain-SQL edition uses the same chance
 * (cron_lock.maybe_sweep, 20-internal.sql).
 */
#define SWEEP_EVERY 8

/*
 * StoreSweep: now and then, fold a batch of busy answers into the
 * contention counters and enforce the retention (cron_lock.sweep(), which
 * never waits), once the tables it writes are checked.  Nothing while the
 * extension's SQL objects are older than 1.2 (no counters yet).
 */
void
StoreSweep(Store *st)
{
	/* Checked on every call, so that what is refused always is. */
	if (!TablesUseOnDemand("contention_hourly") || !TablesUseOnDemand("settings"))
		return;
	if (pg_prng_uint32(&pg_global_prng_state) % SWEEP_EVERY != 0)
		return;
	/* cron_lock.sweep() folds nothing under a transaction snapshot. */
	if (IsolationUsesXactSnapshot())
		return;
	Execute(&sweep, NULL, NULL, SPI_OK_SELECT, 0, NULL, NULL);
}

/* --- the rare paths ----------------------------------------------------- */

/* $1 old run, $2 new run, $3 now */
static Statement mark_taken_over = {
	"WITH old AS ("
	"  UPDATE ONLY cron_lock.job_runs SET status = 'expired', finished_at = $3,"
	"      taken_over_by = $2"
	"   WHERE run_id = $1 AND status = 'running'"
	"  RETURNING run_id, job, instance, backend_pid, expires_at),"
	" new AS (SELECT instance, token FROM ONLY cron_lock.job_runs WHERE run_id = $2)"
	" INSERT INTO cron_lock.anomaly_log (kind, job, run_id, instance, detected_at, detail)"
	" SELECT 'stale_takeover', old.job, old.run_id, old.instance, $3,"
	"     pg_catalog.format('Run %s of job \"%s\" by instance \"%s\" (backend pid %s) stopped renewing its lease,"
	" which expired at %s; instance \"%s\" took over as run %s with token %s. The old runner may"
	" still be working: check that host for a stuck or partitioned process.',"
	"         old.run_id, old.job, old.instance,"
	"         coalesce(old.backend_pid::text, 'unknown'),"
	"         pg_catalog.to_char(old.expires_at, 'YYYY-MM-DD HH24:MI:SS.MS TZ'),"
	"         new.instance, $2, new.token)"
	"   FROM old, new",
	3, {INT8OID, INT8OID, TIMESTAMPTZOID}
};

static Statement find_run = {
	"SELECT run_id, instance, status, forced_by IS NOT NULL, reported_status IS NOT NULL,"
	"    pg_catalog.to_jsonb(r) OPERATOR(pg_catalog.->>) 'role'"	/* none in 1.0 */
	"  FROM ONLY cron_lock.job_runs r WHERE job = $1 AND token = $2",
	2, {TEXTOID, INT8OID}
};

/* $1 run, $2 status, $3 message, $4 now */
static Statement late_report = {
	"UPDATE ONLY cron_lock.job_runs SET reported_status = $2, reported_at = $4,"
	"    message = coalesce(message, $3)"
	" WHERE run_id = $1 AND reported_status IS NULL",
	4, {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID}
};

/* LeaseMarkTakenOver: end a stale run as expired and record the anomaly. */
void
LeaseMarkTakenOver(int64 old_run_id, int64 new_run_id, TimestampTz now)
{
	Datum		values[3] = {Int64GetDatum(old_run_id), Int64GetDatum(new_run_id),
	TimestampTzGetDatum(now)};

	Execute(&mark_taken_over, values, NULL, SPI_OK_INSERT, 0, NULL, NULL);
}

/* RunFindByToken: the run a job issued a token to, if any. */
bool
RunFindByToken(text *job, int64 token, RunReport *run)
{
	Datum		values[2] = {PointerGetDatum(job), Int64GetDatum(token)};
	Datum		row[6];
	bool		isnull[6];

	if (Execute(&find_run, values, NULL, SPI_OK_SELECT, 6, row, isnull) == 0)
		return false;
	for (int i = 0; i < 5; i++)
		if (isnull[i])
			elog(ERROR, "cron_lock: unexpected NULL in column %d", i + 1);
	run->run_id = DatumGetInt64(row[0]);
	run->instance = DatumGetTextPP(row[1]);
	run->status = DatumGetTextPP(row[2]);
	run->forced = DatumGetBool(row[3]);
	run->reported = DatumGetBool(row[4]);
	run->role = isnull[5] ? NULL : DatumGetTextPP(row[5]);
	return true;
}

/* RunStoreLateReport: keep what a holder said after losing its lease. */
void
RunStoreLateReport(int64 run_id, text *status, text *message, TimestampTz now)
{
	Datum		values[4] = {Int64GetDatum(run_id), PointerGetDatum(status),
	PointerGetDatum(message), TimestampTzGetDatum(now)};
	char		nulls[4] = {' ', ' ', message ? ' ' : 'n', ' '};

	Execute(&late_report, values, nulls, SPI_OK_UPDATE, 0, NULL, NULL);
}
