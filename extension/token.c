/*-------------------------------------------------------------------------
 * token.c
 *	  Fencing tokens: per job, strictly increasing, never issued twice.
 *
 * The last token of a job lives in its lease row, so committed tokens
 * survive restarts, crash recovery and dump/restore.  What can be lost is
 * the tail of a primary's commits: a standby promoted after asynchronous
 * replication, or a copy (pg_upgrade, dump/restore) of a cluster that went
 * on issuing.  Every token is therefore at least the floor of the current
 * token epoch, (epoch << 32) + 1, and the epoch grows whenever the cluster
 * may have lost commits, so no epoch is ever used by two histories.
 *
 * The epoch is derived from the (system identifier, WAL timeline) pair
 * recorded in cron_lock.token_epoch (one row, kept by pg_dump):
 *	- no row yet: epoch = M + timeline - 1, where M is the highest epoch the
 *	  lease rows' tokens show (0 on a new installation: a cluster that never
 *	  failed over starts at token 1, as cron_lock 1.0 did);
 *	- the recorded pair: the recorded epoch;
 *	- same system, later timeline (a promotion): recorded epoch plus the
 *	  timelines passed;
 *	- anything else (another system identifier after pg_upgrade or
 *	  dump/restore, or a timeline that went back): the larger of the recorded
 *	  epoch and M, plus the timeline.
 * Within one system identifier the epoch is thus a fixed offset plus the
 * timeline, which only grows, whether or not the row written at an earlier
 * promotion reached this copy; a new system identifier starts above every
 * epoch its data records.  The row is rewritten when the pair is new, in
 * the same transaction as the first token of the new epoch.  A timeline
 * issues fewer than 2^32 tokens per job, and the epoch stays below 2^21.
 *
 * Concurrency: the row is written only under a transaction-scoped advisory
 * lock taken without waiting; a caller that cannot get it is told to try
 * again (cron_lock_try answers "locked").  The epoch of the current pair is
 * cached per backend once read from a committed row.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "catalog/namespace.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

/* Tells the advisory lock of the epoch row from other advisory locks. */
#define EPOCH_LOCK_FIELD4 0x434D

static bool epoch_cached = false;
static TimeLineID cached_timeline;
static int64 cached_epoch;

/* The transaction that last wrote the row: its own write is not committed. */
static TransactionId epoch_writer = InvalidTransactionId;

static SPIPlanPtr read_plan = NULL;
static SPIPlanPtr max_plan = NULL;
static SPIPlanPtr write_plan = NULL;

static SPIPlanPtr
KeptPlan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "cron_lock: SPI_prepare failed: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "cron_lock: SPI_keepplan failed");
		*plan = p;
	}
	return *plan;
}

/* The only row of cron_lock.token_epoch; false when there is none. */
static bool
ReadEpochRow(int64 *sysid, int32 *timeline, int64 *epoch)
{
	bool		isnull;
	int			rc;

	rc = SPI_execute_plan(KeptPlan(&read_plan,
							   "SELECT system_identifier, timeline, epoch FROM cron_lock.token_epoch",
							   0, NULL),
						  NULL, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "cron_lock: unexpected SPI result %s reading the token epoch",
			 SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	*sysid = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*timeline = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	*epoch = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	return true;
}

/* The highest epoch the tokens of the lease rows show (0: none). */
static int64
EpochOfLeases(void)
{
	bool		isnull;
	Datum		d;
	int			rc;

	rc = SPI_execute_plan(KeptPlan(&max_plan,
							   "SELECT pg_catalog.max(token OPERATOR(pg_catalog.>>) 32) FROM cron_lock.leases",
							   0, NULL),
						  NULL, NULL, false, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "cron_lock: unexpected SPI result %s reading the lease tokens",
			 SPI_result_code_string(rc));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(d);
}

/* Record the epoch of the current pair (insert or replace the row). */
static void
WriteEpochRow(int64 sysid, int32 timeline, int64 epoch)
{
	Oid			types[3] = {INT8OID, INT4OID, INT8OID};
	Datum		values[3] = {Int64GetDatum(sysid), Int32GetDatum(timeline), Int64GetDatum(epoch)};
	int			rc;

	/*
	 * At REPEATABLE READ a row committed after our snapshot is a conflict
	 * (40001) for both the INSERT's ON CONFLICT and the UPDATE.
	 */
	rc = SPI_execute_plan(KeptPlan(&write_plan,
							   "INSERT INTO cron_lock.token_epoch AS e"
							   " (id, system_identifier, timeline, epoch, recorded_at)"
							   " VALUES (true, $1, $2, $3, pg_catalog.clock_timestamp())"
							   " ON CONFLICT (id) DO UPDATE SET system_identifier = $1,"
							   " timeline = $2, epoch = $3, recorded_at = pg_catalog.clock_timestamp()",
							   3, types),
						  values, NULL, false, 0);
	if (rc != SPI_OK_INSERT || SPI_processed != 1)
		elog(ERROR, "cron_lock: unexpected SPI result %s recording the token epoch",
			 SPI_result_code_string(rc));
	epoch_writer = GetTopTransactionId();
}

/*
 * CurrentEpoch: the token epoch of the current (system, timeline), recorded
 * if new.  False when another transaction is recording it right now.
 */
static bool
CurrentEpoch(int64 *epoch)
{
	int64		sysid = (int64) GetSystemIdentifier();
	TimeLineID	timeline = CurrentWalTimeLine();
	int64		rec_sysid;
	int32		rec_timeline;
	int64		rec_epoch;
	int			guc_level;
	bool		ok = true;

	if (epoch_cached && cached_timeline == timeline)
	{
		*epoch = cached_epoch;
		return true;
	}
	/* Before ALTER EXTENSION cron_lock UPDATE: cron_lock 1.0's floor. */
	if (!OidIsValid(get_relname_relid("token_epoch",
									  get_namespace_oid("cron_lock", false))))
	{
		*epoch = (int64) timeline - 1;
		return true;
	}
	/* Nothing attached to it may run as the owner (tables.c). */
	TablesUseTokenEpoch();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "cron_lock: SPI_connect failed");
	guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", CRON_LOCK_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);

	if (ReadEpochRow(&rec_sysid, &rec_timeline, &rec_epoch) &&
		rec_sysid == sysid && rec_timeline == (int32) timeline)
	{
		*epoch = rec_epoch;
		/* Only a row this transaction did not write is known committed. */
		if (!TransactionIdIsValid(epoch_writer) ||
			!TransactionIdEquals(epoch_writer, GetTopTransactionIdIfAny()))
		{
			cached_timeline = timeline;
			cached_epoch = rec_epoch;
			epoch_cached = true;
		}
	}
	else
	{
		LOCKTAG		tag;

		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, 0, EPOCH_LOCK_FIELD4);
		if (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
			ok = false;
		else
		{
			/* Read again: under the lock, a new snapshot shows the latest row. */
			if (!ReadEpochRow(&rec_sysid, &rec_timeline, &rec_epoch))
				*epoch = EpochOfLeases() + (int64) timeline - 1;
			else if (rec_sysid == sysid && rec_timeline == (int32) timeline)
				*epoch = rec_epoch;
			else if (rec_sysid == sysid && rec_timeline < (int32) timeline)
				*epoch = rec_epoch + ((int64) timeline - rec_timeline);
			else
				*epoch = Max(rec_epoch, EpochOfLeases()) + (int64) timeline;
			WriteEpochRow(sysid, (int32) timeline, *epoch);
		}
	}

	AtEOXact_GUC(true, guc_level);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "cron_lock: SPI_finish failed");
	return ok;
}

/*
 * NextToken: the token a new run of job gets after last (0: none yet), in
 * *token.  False (nothing written) when the epoch is being recorded by
 * another transaction: the caller answers "locked".  Must be called outside
 * recovery (RequireWritable checks that first), with the job's lease row
 * locked.  Raises 22003 when the tokens would reach 2^53.
 */
bool
NextToken(int64 last, const char *job, int64 *token)
{
	int64		epoch;
	int64		next;

	if (!CurrentEpoch(&epoch))
		return false;
	next = epoch > (CRON_LOCK_MAX_TOKEN >> 32) ? CRON_LOCK_MAX_TOKEN + 1 :
		Max(last + 1, (epoch << 32) + 1);
	if (next > CRON_LOCK_MAX_TOKEN)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("fencing tokens of job \"%s\" are exhausted", job),
				 errdetail("The next token would exceed 2^53.")));
	*token = next;
	return true;
}
