/*-------------------------------------------------------------------------
 * store.c
 *	  Every access to cron_lock's tables.
 *
 * The one-row reads and writes of every try, heartbeat and release go
 * directly to the tables (rows.c): a primary-key probe, a row lock, an
 * insert, an update.  The rare paths that read or write several rows
 * (takeover, late reports) are SQL statements, prepared once per backend
 * and run by SPI under a fixed search path.  Times are always passed in by
 * the caller, taken after the lease row lock (see cron_lock.h for the lock
 * protocol).
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#define MAX_ARGS 10

/* Columns of the tables, in table order (see cron_lock--1.0.sql). */
enum
{
	LEASES_JOB = 1, LEASES_TOKEN, LEASES_RUN_ID, LEASES_INSTANCE, LEASES_HELD,
	LEASES_ATTEMPT, LEASES_BACKEND_PID, LEASES_BACKEND_START, LEASES_ACQUIRED_AT,
	LEASES_HEARTBEAT_AT, LEASES_EXPIRES_AT, LEASES_ROLE,
	LEASES_NATTS = LEASES_ROLE
};

enum
{
	RUNS_RUN_ID = 1, RUNS_JOB, RUNS_INSTANCE, RUNS_TOKEN, RUNS_ATTEMPT,
	RUNS_STATUS, RUNS_STARTED_AT, RUNS_HEARTBEAT_AT, RUNS_EXPIRES_AT,
	RUNS_FINISHED_AT, RUNS_BACKEND_PID, RUNS_BACKEND_START, RUNS_CLIENT_ADDR,
	RUNS_APPLICATION_NAME, RUNS_MESSAGE, RUNS_TAKEN_OVER_BY,
	RUNS_REPORTED_STATUS, RUNS_REPORTED_AT, RUNS_FORCED_BY, RUNS_ROLE,
	RUNS_NATTS = RUNS_ROLE
};

enum
{
	CONTENTION_JOB = 1, CONTENTION_INSTANCE, CONTENTION_HOLDER,
	CONTENTION_REASON, CONTENTION_AT, CONTENTION_BACKEND_PID,
	CONTENTION_CLIENT_ADDR, CONTENTION_NATTS = CONTENTION_CLIENT_ADDR
};

enum
{
	ANOMALY_KIND = 1, ANOMALY_JOB, ANOMALY_RUN_ID, ANOMALY_INSTANCE,
	ANOMALY_DETECTED_AT, ANOMALY_DETAIL, ANOMALY_NATTS = ANOMALY_DETAIL
};

/* A row being built: values and nulls, 1-based like attnums. */
#define SET(v, n, col, datum) ((v)[(col) - 1] = (datum), (n)[(col) - 1] = false)

/* The client's address (NULL on a unix socket), fixed for the session. */
static Datum
ClientAddr(bool *isnull)
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
	*isnull = addr_null;
	return addr;
}

/* application_name as the runner set it, NULL when empty. */
static Datum
ApplicationName(bool *isnull)
{
	*isnull = application_name == NULL || application_name[0] == '\0';
	return *isnull ? (Datum) 0 : CStringGetTextDatum(application_name);
}

/* --- the lease row ------------------------------------------------------ */

static void
LeaseFromRow(TupleTableSlot *row, Lease *lease)
{
	Datum	   *v;
	bool	   *n;

	slot_getallattrs(row);
	v = row->tts_values;
	n = row->tts_isnull;
	lease->tid = row->tts_tid;
	lease->token = DatumGetInt64(v[LEASES_TOKEN - 1]);
	lease->run_id = DatumGetInt64(v[LEASES_RUN_ID - 1]);
	lease->instance = DatumGetTextPCopy(v[LEASES_INSTANCE - 1]);
	lease->held = DatumGetBool(v[LEASES_HELD - 1]);
	lease->has_attempt = !n[LEASES_ATTEMPT - 1];
	if (lease->has_attempt)
		lease->attempt = *DatumGetUUIDP(v[LEASES_ATTEMPT - 1]);
	lease->has_pid = !n[LEASES_BACKEND_PID - 1];
	lease->backend_pid = lease->has_pid ? DatumGetInt32(v[LEASES_BACKEND_PID - 1]) : 0;
	lease->acquired_at = DatumGetTimestampTz(v[LEASES_ACQUIRED_AT - 1]);
	lease->expires_at = DatumGetTimestampTz(v[LEASES_EXPIRES_AT - 1]);
	lease->role = row->tts_tupleDescriptor->natts < LEASES_ROLE || n[LEASES_ROLE - 1] ?
		NULL : DatumGetTextPCopy(v[LEASES_ROLE - 1]);
}

void
StoreBegin(Store *st)
{
	memset(st, 0, sizeof(*st));
}

/*
 * StoreEnd: close the tables, the one written last first, so that each
 * closes the AFTER trigger query level it began (see rows.c).
 */
void
StoreEnd(Store *st)
{
	bool		runs_last = st->runs.write_order > st->leases.write_order;

	TableClose(runs_last ? &st->runs : &st->leases);
	TableClose(runs_last ? &st->leases : &st->runs);
}

/*
 * The columns cron_lock.NAME has: natts, or one fewer for a table of 1.0,
 * without role (this module before ALTER EXTENSION cron_lock UPDATE).
 * Looked up once per backend, again after any change of the table.
 */
static struct
{
	const char *name;
	Oid			relid;			/* InvalidOid: look again */
	bool		has_role;
}			layouts[] = {{"leases"}, {"job_runs"}};

static void
ForgetLayouts(Datum arg, Oid relid)
{
	for (int i = 0; i < lengthof(layouts); i++)
		if (!OidIsValid(relid) || layouts[i].relid == relid)
			layouts[i].relid = InvalidOid;
}

static int
LayoutNatts(Table *t, const char *name, int natts)
{
	static bool callback_registered = false;
	Oid			relid;

	if (t->rel != NULL)
		return natts;
	relid = CronLockRelid(name);
	for (int i = 0; i < lengthof(layouts); i++)
	{
		if (strcmp(layouts[i].name, name) != 0)
			continue;
		if (layouts[i].relid != relid)
		{
			if (!callback_registered)
			{
				CacheRegisterRelcacheCallback(ForgetLayouts, (Datum) 0);
				callback_registered = true;
			}
			layouts[i].has_role = get_attnum(relid, "role") != InvalidAttrNumber;
			layouts[i].relid = relid;
		}
		return layouts[i].has_role ? natts : natts - 1;
	}
	elog(ERROR, "cron_lock: unknown table %s", name);
	return natts;				/* keep the compiler quiet */
}

/* Whether an open table has the role column (attnum role_col) of 1.1. */
static bool
HasRole(Table *t, int role_col)
{
	return RelationGetDescr(t->rel)->natts >= role_col;
}

/*
 * Every function but cron_lock_check may write the lease row, so the table
 * is locked as an UPDATE locks it (RowExclusiveLock) from the first read on:
 * one lock per transaction instead of three.  cron_lock_check only reads
 * and locks rows, as SELECT ... FOR KEY SHARE does (RowShareLock).
 */
static Table *
Leases(Store *st, LOCKMODE lockmode)
{
	TableUse(&st->leases, "leases", LayoutNatts(&st->leases, "leases", LEASES_NATTS),
			 lockmode);
	return &st->leases;
}

static Table *
Runs(Store *st)
{
	TableUse(&st->runs, "job_runs", LayoutNatts(&st->runs, "job_runs", RUNS_NATTS),
			 RowExclusiveLock);
	return &st->runs;
}

static const LockTupleMode row_lock[] = {
	[LEASE_TAKE] = LockTupleExclusive,
	[LEASE_RENEW] = LockTupleNoKeyExclusive,
	[LEASE_GUARD] = LockTupleKeyShare,
};

/*
 * LeaseFetch: read the lease row of a job, locked as mode says.  False when
 * there is no row, or (LEASE_TAKE) when another transaction has it locked.
 * LEASE_RENEW and LEASE_GUARD may wait, but only behind a transaction that
 * holds LEASE_TAKE, and those never wait themselves.  LEASE_PEEK is a plain
 * read with a snapshot taken now, the first step of every try.
 */
bool
LeaseFetch(Store *st, text *job, LeaseLock mode, Lease *lease)
{
	Table	   *t = Leases(st, mode == LEASE_GUARD ? RowShareLock : RowExclusiveLock);
	bool		found;

	found = TableFind(t, PointerGetDatum(job), F_TEXTEQ, C_COLLATION_OID);
	if (found && mode != LEASE_PEEK)
		found = TableLockRow(t, &t->row->tts_tid, row_lock[mode],
							 mode == LEASE_TAKE ? LockWaitSkip : LockWaitBlock) == TM_Ok;
	if (found)
		LeaseFromRow(t->row, lease);
	return found;
}

/* LeaseSeenBefore: whether this backend has found the job's lease row before. */
bool
LeaseSeenBefore(Store *st, text *job)
{
	return TableHinted(Leases(st, RowExclusiveLock), PointerGetDatum(job), F_TEXTEQ);
}

/*
 * LeaseTake: LEASE_TAKE on the row a peek just read, without probing the
 * index again: the newest version of that row is locked FOR UPDATE, or
 * false comes back at once if another transaction has it locked.
 */
bool
LeaseTake(Store *st, text *job, const Lease *seen, Lease *lease)
{
	Table	   *t = Leases(st, RowExclusiveLock);

	switch (TableLockRow(t, (ItemPointer) &seen->tid, LockTupleExclusive, LockWaitSkip))
	{
		case TM_Ok:
			LeaseFromRow(t->row, lease);
			return true;
		case TM_Deleted:
			/* Deleted and maybe inserted anew: look it up again. */
			return LeaseFetch(st, job, LEASE_TAKE, lease);
		default:
			return false;
	}
}

/*
 * LeaseTryLockNewJob: the right to insert the first lease row of a job,
 * without waiting.  INSERT waits for a concurrent inserter of the same key,
 * so every first insert happens under this transaction-scoped lock; field4
 * keeps it apart from the keys of pg_advisory_xact_lock().  A hash
 * collision only makes one of two brand-new jobs answer "locked".
 */
bool
LeaseTryLockNewJob(text *job)
{
	LOCKTAG		tag;
	uint64		hash = hash_bytes_extended((const unsigned char *) VARDATA_ANY(job),
										   VARSIZE_ANY_EXHDR(job), 0);

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (hash >> 32),
						 (uint32) hash, 0x434C);
	return LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL;
}

/* The columns a new run sets on its lease row, in table order after job. */
static const int lease_run_cols[] = {
	LEASES_TOKEN, LEASES_RUN_ID, LEASES_INSTANCE, LEASES_HELD, LEASES_ATTEMPT,
	LEASES_BACKEND_PID, LEASES_BACKEND_START, LEASES_ACQUIRED_AT,
	LEASES_HEARTBEAT_AT, LEASES_EXPIRES_AT, LEASES_ROLE
};

/* The lease row of a new run (job and the lease_run_cols). */
static void
NewLeaseRow(const NewRun *run, int64 run_id, Datum *v, bool *n)
{
	memset(n, true, LEASES_NATTS * sizeof(bool));
	SET(v, n, LEASES_JOB, PointerGetDatum(run->job));
	SET(v, n, LEASES_TOKEN, Int64GetDatum(run->token));
	SET(v, n, LEASES_RUN_ID, Int64GetDatum(run_id));
	SET(v, n, LEASES_INSTANCE, PointerGetDatum(run->instance));
	SET(v, n, LEASES_HELD, BoolGetDatum(true));
	if (run->attempt != NULL)
		SET(v, n, LEASES_ATTEMPT, UUIDPGetDatum(run->attempt));
	SET(v, n, LEASES_BACKEND_PID, Int32GetDatum(MyProcPid));
	SET(v, n, LEASES_BACKEND_START, TimestampTzGetDatum(MyStartTimestamp));
	SET(v, n, LEASES_ACQUIRED_AT, TimestampTzGetDatum(run->now));
	SET(v, n, LEASES_HEARTBEAT_AT, TimestampTzGetDatum(run->now));
	SET(v, n, LEASES_EXPIRES_AT, TimestampTzGetDatum(run->expires_at));
	SET(v, n, LEASES_ROLE, PointerGetDatum(OuterRoleName()));
}

/* Insert the run row of a new run; returns its run_id. */
static int64
InsertRun(Store *st, const NewRun *run)
{
	int64		run_id = nextval_internal(CronLockRelid("job_runs_run_id_seq"), false);
	Datum		v[RUNS_NATTS];
	bool		n[RUNS_NATTS];

	memset(n, true, sizeof(n));
	SET(v, n, RUNS_RUN_ID, Int64GetDatum(run_id));
	SET(v, n, RUNS_JOB, PointerGetDatum(run->job));
	SET(v, n, RUNS_INSTANCE, PointerGetDatum(run->instance));
	SET(v, n, RUNS_TOKEN, Int64GetDatum(run->token));
	if (run->attempt != NULL)
		SET(v, n, RUNS_ATTEMPT, UUIDPGetDatum(run->attempt));
	SET(v, n, RUNS_STATUS, CStringGetTextDatum("running"));
	SET(v, n, RUNS_STARTED_AT, TimestampTzGetDatum(run->now));
	SET(v, n, RUNS_HEARTBEAT_AT, TimestampTzGetDatum(run->now));
	SET(v, n, RUNS_EXPIRES_AT, TimestampTzGetDatum(run->expires_at));
	SET(v, n, RUNS_BACKEND_PID, Int32GetDatum(MyProcPid));
	SET(v, n, RUNS_BACKEND_START, TimestampTzGetDatum(MyStartTimestamp));
	v[RUNS_CLIENT_ADDR - 1] = ClientAddr(&n[RUNS_CLIENT_ADDR - 1]);
	v[RUNS_APPLICATION_NAME - 1] = ApplicationName(&n[RUNS_APPLICATION_NAME - 1]);
	SET(v, n, RUNS_ROLE, PointerGetDatum(OuterRoleName()));

	TableInsert(Runs(st), v, n);
	return run_id;
}

/* LeaseInsertFirst: the first lease of a job and its run; returns run_id. */
int64
LeaseInsertFirst(Store *st, const NewRun *run)
{
	int64		run_id = InsertRun(st, run);
	Datum		v[LEASES_NATTS];
	bool		n[LEASES_NATTS];

	NewLeaseRow(run, run_id, v, n);
	TableInsert(Leases(st, RowExclusiveLock), v, n);
	return run_id;
}

/* LeaseAcquire: a new run holding an existing lease row, locked FOR UPDATE. */
int64
LeaseAcquire(Store *st, const Lease *lease, const NewRun *run)
{
	int64		run_id = InsertRun(st, run);
	Table	   *t = Leases(st, RowExclusiveLock);
	Datum		v[LEASES_NATTS];
	bool		n[LEASES_NATTS];
	Datum		set_v[lengthof(lease_run_cols)];
	bool		set_n[lengthof(lease_run_cols)];
	int			ncols = lengthof(lease_run_cols) - (HasRole(t, LEASES_ROLE) ? 0 : 1);

	NewLeaseRow(run, run_id, v, n);
	for (int i = 0; i < lengthof(lease_run_cols); i++)
	{
		set_v[i] = v[lease_run_cols[i] - 1];
		set_n[i] = n[lease_run_cols[i] - 1];
	}
	TableUpdate(t, (ItemPointer) &lease->tid, ncols, lease_run_cols, set_v, set_n);
	return run_id;
}

/* Set n columns of a job's lease row, locked by this transaction. */
static void
UpdateLease(Store *st, const Lease *lease, int n, const int *cols,
			const Datum *v, const bool *nulls)
{
	TableUpdate(Leases(st, RowExclusiveLock), (ItemPointer) &lease->tid, n, cols,
				v, nulls);
}

/* Set n columns of a run, whose lease row this transaction has locked. */
static void
UpdateRun(Store *st, int64 run_id, int n, const int *cols, const Datum *v,
		  const bool *nulls)
{
	Table	   *t = Runs(st);

	if (!TableFind(t, Int64GetDatum(run_id), F_INT8EQ, InvalidOid))
		elog(ERROR, "cron_lock: run " INT64_FORMAT " is missing", run_id);
	TableUpdate(t, &t->row->tts_tid, n, cols, v, nulls);
}

/* LeaseRenew: move the expiry of a held lease and of its run. */
void
LeaseRenew(Store *st, const Lease *lease, TimestampTz now, TimestampTz expires_at)
{
	static const int lease_cols[] = {LEASES_HEARTBEAT_AT, LEASES_EXPIRES_AT};
	static const int run_cols[] = {RUNS_HEARTBEAT_AT, RUNS_EXPIRES_AT};
	Datum		v[2] = {TimestampTzGetDatum(now), TimestampTzGetDatum(expires_at)};
	bool		n[2] = {false, false};

	UpdateLease(st, lease, 2, lease_cols, v, n);
	UpdateRun(st, lease->run_id, 2, run_cols, v, n);
}

/* Freeing a lease: held = false (a zero Datum), attempt = NULL. */
static const int free_cols[] = {LEASES_HELD, LEASES_ATTEMPT};
static const Datum free_values[] = {(Datum) 0, (Datum) 0};
static const bool free_nulls[] = {false, true};

/* End a run with status, message and who forced it (NULL: its holder). */
static void
EndRun(Store *st, int64 run_id, text *status, text *message, TimestampTz now,
	   const char *forced_by)
{
	static const int cols[] = {RUNS_STATUS, RUNS_MESSAGE, RUNS_FINISHED_AT,
	RUNS_FORCED_BY};
	Datum		v[4] = {PointerGetDatum(status), PointerGetDatum(message),
		TimestampTzGetDatum(now),
	forced_by ? CStringGetTextDatum(forced_by) : (Datum) 0};
	bool		n[4] = {false, message == NULL, false, forced_by == NULL};

	UpdateRun(st, run_id, 4, cols, v, n);
}

/* LeaseEnd: finish the current run of a locked lease and free the lease. */
void
LeaseEnd(Store *st, const Lease *lease, text *status, text *message,
		 TimestampTz now, const char *forced_by)
{
	UpdateLease(st, lease, 2, free_cols, free_values, free_nulls);
	EndRun(st, lease->run_id, status, message, now, forced_by);
}

/*
 * LeaseReleaseHeld: end the run of a held lease with this token; false if
 * the lease is not held with it.  As UPDATE ... WHERE held AND token would:
 * a row that does not match is left alone without waiting; a match is
 * updated (a no-key update, like a heartbeat's, so a guarded transaction's
 * KEY SHARE lock does not hold it up), and if a concurrent transaction
 * committed a newer version first, that version is locked and checked
 * again.  The finish time is read once the lease row is ours.
 */
bool
LeaseReleaseHeld(Store *st, text *job, int64 token, text *status, text *message)
{
	Table	   *t = Leases(st, RowExclusiveLock);
	Lease		lease;

	if (!TableFind(t, PointerGetDatum(job), F_TEXTEQ, C_COLLATION_OID))
		return false;
	LeaseFromRow(t->row, &lease);
	if (!lease.held || lease.token != token)
		return false;
	RequireAuthority("release", job, lease.role);
	if (!TableUpdateIfCurrent(t, &lease.tid, 2, free_cols, free_values, free_nulls))
	{
		if (TableLockRow(t, &lease.tid, LockTupleNoKeyExclusive, LockWaitBlock) != TM_Ok)
			return false;
		LeaseFromRow(t->row, &lease);
		if (!lease.held || lease.token != token)
			return false;
		RequireAuthority("release", job, lease.role);
		UpdateLease(st, &lease, 2, free_cols, free_values, free_nulls);
	}
	EndRun(st, lease.run_id, status, message, GetCurrentTimestamp(), NULL);
	return true;
}

/* Insert one row into a table this call writes nothing else into. */
static void
InsertOne(const char *name, int natts, const Datum *v, const bool *n)
{
	Table		t;

	memset(&t, 0, sizeof(t));
	TableUse(&t, name, natts, RowExclusiveLock);
	TableInsert(&t, v, n);
	TableClose(&t);
}

/* RecordContention: one busy answer, the evidence of duplicate runners. */
void
RecordContention(text *job, text *instance, text *holder, const char *reason,
				 TimestampTz now)
{
	Datum		v[CONTENTION_NATTS];
	bool		n[CONTENTION_NATTS];

	memset(n, true, sizeof(n));
	SET(v, n, CONTENTION_JOB, PointerGetDatum(job));
	SET(v, n, CONTENTION_INSTANCE, PointerGetDatum(instance));
	if (holder != NULL)
		SET(v, n, CONTENTION_HOLDER, PointerGetDatum(holder));
	SET(v, n, CONTENTION_REASON, CStringGetTextDatum(reason));
	SET(v, n, CONTENTION_AT, TimestampTzGetDatum(now));
	SET(v, n, CONTENTION_BACKEND_PID, Int32GetDatum(MyProcPid));
	v[CONTENTION_CLIENT_ADDR - 1] = ClientAddr(&n[CONTENTION_CLIENT_ADDR - 1]);

	InsertOne("contention", CONTENTION_NATTS, v, n);
}

/* RecordAnomaly: something a person should look at; see the anomalies view. */
void
RecordAnomaly(const char *kind, text *job, int64 run_id, text *instance,
			  TimestampTz now, const char *detail)
{
	Datum		v[ANOMALY_NATTS];
	bool		n[ANOMALY_NATTS];

	memset(n, true, sizeof(n));
	SET(v, n, ANOMALY_KIND, CStringGetTextDatum(kind));
	SET(v, n, ANOMALY_JOB, PointerGetDatum(job));
	if (run_id != 0)
		SET(v, n, ANOMALY_RUN_ID, Int64GetDatum(run_id));
	if (instance != NULL)
		SET(v, n, ANOMALY_INSTANCE, PointerGetDatum(instance));
	SET(v, n, ANOMALY_DETECTED_AT, TimestampTzGetDatum(now));
	SET(v, n, ANOMALY_DETAIL, CStringGetTextDatum(detail));

	InsertOne("anomaly_log", ANOMALY_NATTS, v, n);
}

/* --- the rare paths: SQL statements ------------------------------------ */

typedef struct Statement
{
	const char *sql;
	int			nargs;
	Oid			types[MAX_ARGS];
	SPIPlanPtr	plan;
} Statement;

/* $1 old run, $2 new run, $3 now */
static Statement mark_taken_over = {
	"WITH old AS ("
	"  UPDATE cron_lock.job_runs SET status = 'expired', finished_at = $3,"
	"      taken_over_by = $2"
	"   WHERE run_id = $1 AND status = 'running'"
	"  RETURNING run_id, job, instance, backend_pid, expires_at),"
	" new AS (SELECT instance, token FROM cron_lock.job_runs WHERE run_id = $2)"
	" INSERT INTO cron_lock.anomaly_log (kind, job, run_id, instance, detected_at, detail)"
	" SELECT 'stale_takeover', old.job, old.run_id, old.instance, $3,"
	"     format('Run %s of job \"%s\" by instance \"%s\" (backend pid %s) stopped renewing its lease,"
	" which expired at %s; instance \"%s\" took over as run %s with token %s. The old runner may"
	" still be working: check that host for a stuck or partitioned process.',"
	"         old.run_id, old.job, old.instance,"
	"         coalesce(old.backend_pid::text, 'unknown'),"
	"         to_char(old.expires_at, 'YYYY-MM-DD HH24:MI:SS.MS TZ'),"
	"         new.instance, $2, new.token)"
	"   FROM old, new",
	3, {INT8OID, INT8OID, TIMESTAMPTZOID}
};

static Statement find_run = {
	"SELECT run_id, instance, status, forced_by IS NOT NULL, reported_status IS NOT NULL,"
	"    pg_catalog.to_jsonb(r) OPERATOR(pg_catalog.->>) 'role'"	/* NULL in 1.0 */
	"  FROM cron_lock.job_runs r WHERE job = $1 AND token = $2",
	2, {TEXTOID, INT8OID}
};

/* $1 run, $2 status, $3 message, $4 now */
static Statement late_report = {
	"UPDATE cron_lock.job_runs SET reported_status = $2, reported_at = $4,"
	"    message = coalesce(message, $3)"
	" WHERE run_id = $1 AND reported_status IS NULL",
	4, {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID}
};

/*
 * Execute: run a statement inside its own SPI_connect()/SPI_finish(),
 * preparing and saving its plan on first use.  Names resolve in pg_catalog
 * and cron_lock only, whatever the caller's search_path.  The first row's
 * first ncols columns are copied out to row/isnull.  Raises on any
 * unexpected SPI result; returns the number of rows.
 */
static uint64
Execute(Statement *stmt, Datum *values, const char *nulls, int expected,
		int ncols, Datum *row, bool *isnull)
{
	int			guc_level;
	uint64		processed;
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "cron_lock: SPI_connect failed");
	/* As a function's SET clause does it: undone at the end or on error. */
	guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, cron_lock, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	if (stmt->plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(stmt->sql, stmt->nargs, stmt->types);

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
	AtEOXact_GUC(true, guc_level);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "cron_lock: SPI_finish failed");
	return processed;
}

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

/*
 * LeaseInsertedSince: whether the lease row of a job exists for the latest
 * snapshot, when the transaction's (REPEATABLE READ) did not show it: then
 * another session took the job first, and inserting would only break the
 * unique keys.  Call with the job's first-insert lock held (no insert of it
 * can be in progress).
 */
bool
LeaseInsertedSince(text *job)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {PointerGetDatum(job)};
	int			rc;
	bool		found;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "cron_lock: SPI_connect failed");
	if (plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("SELECT FROM cron_lock.leases"
									" WHERE job OPERATOR(pg_catalog.=) $1 COLLATE pg_catalog.\"C\"",
									1, types);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "cron_lock: preparing the lease probe failed");
		plan = p;
	}
	rc = SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(),
							  InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "cron_lock: unexpected SPI result %s probing a lease",
			 SPI_result_code_string(rc));
	found = SPI_processed > 0;
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "cron_lock: SPI_finish failed");
	return found;
}
