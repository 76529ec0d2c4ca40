/*-------------------------------------------------------------------------
 * store.c
 *	  Every access to cron_lock's tables: statements prepared once per
 *	  backend, and the direct primary-key probe that starts every try.
 *
 * Callers are inside SPI_connect(); results (text pointers included) stay
 * valid until their SPI_finish().  The plans are saved with SPI_keepplan and
 * revalidated by the plan cache if the tables change.  Each statement is one
 * executor run; data-modifying CTEs keep related writes in one statement.
 * Times are always passed in by the caller, taken after the lease row lock
 * (see cron_lock.h for the lock protocol).
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#define MAX_ARGS 10

typedef struct Statement
{
	const char *sql;
	int			nargs;
	Oid			types[MAX_ARGS];
	SPIPlanPtr	plan;
} Statement;

#define LEASE_COLUMNS \
	"SELECT token, run_id, instance, held, attempt, backend_pid, acquired_at, expires_at" \
	"  FROM cron_lock.leases WHERE job = $1"

/* LEASE_PEEK is a direct index probe (PeekLease), not a statement. */
static Statement fetch_lease[] = {
	[LEASE_TAKE] = {LEASE_COLUMNS " FOR UPDATE SKIP LOCKED", 1, {TEXTOID}},
	[LEASE_RENEW] = {LEASE_COLUMNS " FOR NO KEY UPDATE", 1, {TEXTOID}},
	[LEASE_GUARD] = {LEASE_COLUMNS " FOR KEY SHARE", 1, {TEXTOID}},
};

/* $1 job, $2 instance, $3 token, $4 attempt, $5 now, $6 expires_at, $7 pid, $8 backend start */
#define NEW_RUN_TYPES {TEXTOID, TEXTOID, INT8OID, UUIDOID, TIMESTAMPTZOID, \
					   TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID}

static Statement insert_first = {
	"WITH lease AS ("
	"  INSERT INTO cron_lock.leases (job, token, run_id, instance, held, attempt,"
	"      backend_pid, backend_start, acquired_at, heartbeat_at, expires_at)"
	"  VALUES ($1, $3, nextval('cron_lock.job_runs_run_id_seq'), $2, true, $4,"
	"      $7, $8, $5, $5, $6)"
	"  RETURNING run_id)"
	" INSERT INTO cron_lock.job_runs (run_id, job, instance, token, attempt, status,"
	"     started_at, heartbeat_at, expires_at, backend_pid, backend_start,"
	"     client_addr, application_name)"
	" SELECT lease.run_id, $1, $2, $3, $4, 'running', $5, $5, $6, $7, $8,"
	"     inet_client_addr(), nullif(current_setting('application_name'), '')"
	"   FROM lease RETURNING run_id",
	8, NEW_RUN_TYPES
};

static Statement acquire = {
	"WITH run AS ("
	"  INSERT INTO cron_lock.job_runs (job, instance, token, attempt, status,"
	"      started_at, heartbeat_at, expires_at, backend_pid, backend_start,"
	"      client_addr, application_name)"
	"  VALUES ($1, $2, $3, $4, 'running', $5, $5, $6, $7, $8,"
	"      inet_client_addr(), nullif(current_setting('application_name'), ''))"
	"  RETURNING run_id)"
	" UPDATE cron_lock.leases l SET token = $3, run_id = run.run_id, instance = $2,"
	"     held = true, attempt = $4, backend_pid = $7, backend_start = $8,"
	"     acquired_at = $5, heartbeat_at = $5, expires_at = $6"
	"   FROM run WHERE l.job = $1 RETURNING run.run_id",
	8, NEW_RUN_TYPES
};

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

/* $1 job, $2 run, $3 now, $4 expires_at */
static Statement renew = {
	"WITH run AS ("
	"  UPDATE cron_lock.job_runs SET heartbeat_at = $3, expires_at = $4"
	"   WHERE run_id = $2)"
	" UPDATE cron_lock.leases SET heartbeat_at = $3, expires_at = $4 WHERE job = $1",
	4, {TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID}
};

/* $1 job, $2 run, $3 status, $4 message, $5 now, $6 forced_by */
static Statement end_run = {
	"WITH run AS ("
	"  UPDATE cron_lock.job_runs SET status = $3, message = $4, finished_at = $5,"
	"      forced_by = $6"
	"   WHERE run_id = $2)"
	" UPDATE cron_lock.leases SET held = false, attempt = NULL WHERE job = $1",
	6, {TEXTOID, INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID}
};

/*
 * $1 job, $2 token, $3 status, $4 message: the holder's own release in one
 * statement.  The lease UPDATE takes the same FOR NO KEY UPDATE row lock that
 * LEASE_RENEW would; the clock is read as the row is updated.
 */
static Statement release_held = {
	"WITH lease AS ("
	"  UPDATE cron_lock.leases SET held = false, attempt = NULL"
	"   WHERE job = $1 AND held AND token = $2"
	"  RETURNING run_id)"
	" UPDATE cron_lock.job_runs r SET status = $3, message = $4,"
	"     finished_at = clock_timestamp()"
	"   FROM lease WHERE r.run_id = lease.run_id RETURNING r.run_id",
	4, {TEXTOID, INT8OID, TEXTOID, TEXTOID}
};

static Statement find_run = {
	"SELECT run_id, instance, status, forced_by IS NOT NULL, reported_status IS NOT NULL"
	"  FROM cron_lock.job_runs WHERE job = $1 AND token = $2",
	2, {TEXTOID, INT8OID}
};

/* $1 run, $2 status, $3 message, $4 now */
static Statement late_report = {
	"UPDATE cron_lock.job_runs SET reported_status = $2, reported_at = $4,"
	"    message = coalesce(message, $3)"
	" WHERE run_id = $1 AND reported_status IS NULL",
	4, {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID}
};

static Statement contention = {
	"INSERT INTO cron_lock.contention (job, instance, holder, reason, at,"
	"    backend_pid, client_addr)"
	" VALUES ($1, $2, $3, $4, $5, pg_backend_pid(), inet_client_addr())",
	5, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID}
};

static Statement anomaly = {
	"INSERT INTO cron_lock.anomaly_log (kind, job, run_id, instance, detected_at, detail)"
	" VALUES ($1, $2, $3, $4, $5, $6)",
	6, {TEXTOID, TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID}
};

/*
 * Execute: run a statement, preparing and saving its plan on first use.
 * Raises on any unexpected SPI result; returns the number of rows.
 */
static uint64
Execute(Statement *stmt, Datum *values, const char *nulls, int expected)
{
	int			rc;

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
	return SPI_processed;
}

static Datum
Column(int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

static Datum
NotNullColumn(int col)
{
	bool		isnull;
	Datum		value = Column(col, &isnull);

	if (isnull)
		elog(ERROR, "cron_lock: unexpected NULL in column %d", col);
	return value;
}

/* Columns of cron_lock.leases, in table order (see cron_lock--1.0.sql). */
enum
{
	LEASES_JOB = 1, LEASES_TOKEN, LEASES_RUN_ID, LEASES_INSTANCE, LEASES_HELD,
	LEASES_ATTEMPT, LEASES_BACKEND_PID, LEASES_BACKEND_START, LEASES_ACQUIRED_AT,
	LEASES_HEARTBEAT_AT, LEASES_EXPIRES_AT, LEASES_NATTS = LEASES_EXPIRES_AT
};

/*
 * PeekLease: the committed lease row of a job, read by a probe of its primary
 * key with a snapshot taken now (like a READ COMMITTED statement).  This is
 * the first step of every cron_lock_try, so it skips the executor: no plan,
 * no portal.  Takes AccessShareLock on the table and index, held to the end
 * of the transaction as a statement's would be.
 */
static bool
PeekLease(text *job, Lease *lease)
{
	Oid			relid = get_relname_relid("leases", get_namespace_oid("cron_lock", false));
	Relation	rel;
	Relation	index;
	Snapshot	snapshot;
	ScanKeyData key;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	bool		found;

	if (!OidIsValid(relid))
		elog(ERROR, "cron_lock: table cron_lock.leases is missing");
	rel = table_open(relid, AccessShareLock);
	if (RelationGetDescr(rel)->natts != LEASES_NATTS)
		elog(ERROR, "cron_lock: cron_lock.leases has an unexpected shape");
	index = index_open(RelationGetPrimaryKeyIndex(rel), AccessShareLock);
	snapshot = RegisterSnapshot(GetTransactionSnapshot());

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(job));
	key.sk_collation = C_COLLATION_OID;
	scan = index_beginscan(rel, index, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	slot = table_slot_create(rel, NULL);

	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (found)
	{
		bool		isnull;
		Datum		value;

		slot_getallattrs(slot);
		lease->token = DatumGetInt64(slot->tts_values[LEASES_TOKEN - 1]);
		lease->run_id = DatumGetInt64(slot->tts_values[LEASES_RUN_ID - 1]);
		lease->instance = DatumGetTextPCopy(slot->tts_values[LEASES_INSTANCE - 1]);
		lease->held = DatumGetBool(slot->tts_values[LEASES_HELD - 1]);
		isnull = slot->tts_isnull[LEASES_ATTEMPT - 1];
		lease->has_attempt = !isnull;
		if (!isnull)
			lease->attempt = *DatumGetUUIDP(slot->tts_values[LEASES_ATTEMPT - 1]);
		value = slot->tts_values[LEASES_BACKEND_PID - 1];
		lease->has_pid = !slot->tts_isnull[LEASES_BACKEND_PID - 1];
		lease->backend_pid = lease->has_pid ? DatumGetInt32(value) : 0;
		lease->acquired_at = DatumGetTimestampTz(slot->tts_values[LEASES_ACQUIRED_AT - 1]);
		lease->expires_at = DatumGetTimestampTz(slot->tts_values[LEASES_EXPIRES_AT - 1]);
	}

	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
	index_close(index, NoLock);
	table_close(rel, NoLock);
	return found;
}

/*
 * LeaseFetch: read the lease row of a job, locked as mode says.  False when
 * there is no row, or (LEASE_TAKE) when another transaction has it locked.
 * LEASE_RENEW and LEASE_GUARD may wait, but only behind a transaction that
 * holds LEASE_TAKE, and those never wait themselves.
 */
bool
LeaseFetch(text *job, LeaseLock mode, Lease *lease)
{
	Datum		values[1] = {PointerGetDatum(job)};
	bool		isnull;
	Datum		value;

	if (mode == LEASE_PEEK)
		return PeekLease(job, lease);
	if (Execute(&fetch_lease[mode], values, NULL, SPI_OK_SELECT) == 0)
		return false;

	lease->token = DatumGetInt64(NotNullColumn(1));
	lease->run_id = DatumGetInt64(NotNullColumn(2));
	lease->instance = DatumGetTextPP(NotNullColumn(3));
	lease->held = DatumGetBool(NotNullColumn(4));
	value = Column(5, &isnull);
	lease->has_attempt = !isnull;
	if (!isnull)
		lease->attempt = *DatumGetUUIDP(value);
	value = Column(6, &isnull);
	lease->has_pid = !isnull;
	lease->backend_pid = isnull ? 0 : DatumGetInt32(value);
	lease->acquired_at = DatumGetTimestampTz(NotNullColumn(7));
	lease->expires_at = DatumGetTimestampTz(NotNullColumn(8));
	return true;
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

static void
NewRunValues(const NewRun *run, Datum *values, char *nulls)
{
	values[0] = PointerGetDatum(run->job);
	values[1] = PointerGetDatum(run->instance);
	values[2] = Int64GetDatum(run->token);
	values[3] = UUIDPGetDatum(run->attempt);
	values[4] = TimestampTzGetDatum(run->now);
	values[5] = TimestampTzGetDatum(run->expires_at);
	values[6] = Int32GetDatum(MyProcPid);
	values[7] = TimestampTzGetDatum(MyStartTimestamp);
	memset(nulls, ' ', 8);
	if (run->attempt == NULL)
		nulls[3] = 'n';
}

/* LeaseInsertFirst: the first lease of a job and its run; returns run_id. */
int64
LeaseInsertFirst(const NewRun *run)
{
	Datum		values[8];
	char		nulls[8];

	NewRunValues(run, values, nulls);
	if (Execute(&insert_first, values, nulls, SPI_OK_INSERT_RETURNING) != 1)
		elog(ERROR, "cron_lock: first lease of a job was not inserted");
	return DatumGetInt64(NotNullColumn(1));
}

/* LeaseAcquire: a new run holding an existing (locked) lease row. */
int64
LeaseAcquire(const NewRun *run)
{
	Datum		values[8];
	char		nulls[8];

	NewRunValues(run, values, nulls);
	if (Execute(&acquire, values, nulls, SPI_OK_UPDATE_RETURNING) != 1)
		elog(ERROR, "cron_lock: lease row vanished while locked");
	return DatumGetInt64(NotNullColumn(1));
}

/* LeaseMarkTakenOver: end a stale run as expired and record the anomaly. */
void
LeaseMarkTakenOver(int64 old_run_id, int64 new_run_id, TimestampTz now)
{
	Datum		values[3] = {Int64GetDatum(old_run_id), Int64GetDatum(new_run_id),
	TimestampTzGetDatum(now)};

	Execute(&mark_taken_over, values, NULL, SPI_OK_INSERT);
}

/* LeaseRenew: move the expiry of a held lease and of its run. */
void
LeaseRenew(text *job, int64 run_id, TimestampTz now, TimestampTz expires_at)
{
	Datum		values[4] = {PointerGetDatum(job), Int64GetDatum(run_id),
	TimestampTzGetDatum(now), TimestampTzGetDatum(expires_at)};

	Execute(&renew, values, NULL, SPI_OK_UPDATE);
}

/* LeaseEnd: finish the current run with status and free the lease. */
void
LeaseEnd(text *job, int64 run_id, text *status, text *message,
		 TimestampTz now, const char *forced_by)
{
	Datum		values[6] = {PointerGetDatum(job), Int64GetDatum(run_id),
		PointerGetDatum(status), PointerGetDatum(message),
		TimestampTzGetDatum(now),
	forced_by ? CStringGetTextDatum(forced_by) : (Datum) 0};
	char		nulls[6] = {' ', ' ', ' ', message ? ' ' : 'n', ' ',
	forced_by ? ' ' : 'n'};

	Execute(&end_run, values, nulls, SPI_OK_UPDATE);
}

/* LeaseReleaseHeld: end the run of a held lease with this token; false if none. */
bool
LeaseReleaseHeld(text *job, int64 token, text *status, text *message)
{
	Datum		values[4] = {PointerGetDatum(job), Int64GetDatum(token),
	PointerGetDatum(status), PointerGetDatum(message)};
	char		nulls[4] = {' ', ' ', ' ', message ? ' ' : 'n'};

	return Execute(&release_held, values, nulls, SPI_OK_UPDATE_RETURNING) > 0;
}

/* RunFindByToken: the run a job issued a token to, if any. */
bool
RunFindByToken(text *job, int64 token, RunReport *run)
{
	Datum		values[2] = {PointerGetDatum(job), Int64GetDatum(token)};

	if (Execute(&find_run, values, NULL, SPI_OK_SELECT) == 0)
		return false;
	run->run_id = DatumGetInt64(NotNullColumn(1));
	run->instance = DatumGetTextPP(NotNullColumn(2));
	run->status = DatumGetTextPP(NotNullColumn(3));
	run->forced = DatumGetBool(NotNullColumn(4));
	run->reported = DatumGetBool(NotNullColumn(5));
	return true;
}

/* RunStoreLateReport: keep what a holder said after losing its lease. */
void
RunStoreLateReport(int64 run_id, text *status, text *message, TimestampTz now)
{
	Datum		values[4] = {Int64GetDatum(run_id), PointerGetDatum(status),
	PointerGetDatum(message), TimestampTzGetDatum(now)};
	char		nulls[4] = {' ', ' ', message ? ' ' : 'n', ' '};

	Execute(&late_report, values, nulls, SPI_OK_UPDATE);
}

/* RecordContention: one busy answer, the evidence of duplicate runners. */
void
RecordContention(text *job, text *instance, text *holder, const char *reason,
				 TimestampTz now)
{
	Datum		values[5] = {PointerGetDatum(job), PointerGetDatum(instance),
		PointerGetDatum(holder), CStringGetTextDatum(reason),
	TimestampTzGetDatum(now)};
	char		nulls[5] = {' ', ' ', holder ? ' ' : 'n', ' ', ' '};

	Execute(&contention, values, nulls, SPI_OK_INSERT);
}

/* RecordAnomaly: something a person should look at; see the anomalies view. */
void
RecordAnomaly(const char *kind, text *job, int64 run_id, text *instance,
			  TimestampTz now, const char *detail)
{
	Datum		values[6] = {CStringGetTextDatum(kind), PointerGetDatum(job),
		Int64GetDatum(run_id), PointerGetDatum(instance),
	TimestampTzGetDatum(now), CStringGetTextDatum(detail)};
	char		nulls[6] = {' ', ' ', run_id ? ' ' : 'n', instance ? ' ' : 'n',
	' ', ' '};

	Execute(&anomaly, values, nulls, SPI_OK_INSERT);
}
