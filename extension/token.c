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
 * cached per backend once read from a committed row (a higher cached epoch
 * than another backend's only raises the floor; the cache is keyed by
 * timeline, and a new system identifier means new backends).
 *
 * Before ALTER EXTENSION cron_lock UPDATE (1.0's tables, no token_epoch)
 * the floor is 1.0's: epoch = timeline - 1.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "storage/lock.h"

/* Tells the advisory lock of the epoch row from other advisory locks. */
#define EPOCH_LOCK_FIELD4 0x434D

static bool epoch_cached = false;
static TimeLineID cached_timeline;
static int64 cached_epoch;

/* The transaction that last wrote the row: its own write is not committed. */
static TransactionId epoch_writer = InvalidTransactionId;

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
	LOCKTAG		tag;

	if (epoch_cached && cached_timeline == timeline)
	{
		*epoch = cached_epoch;
		return true;
	}
	if (!TablesLayout11())
	{
		*epoch = (int64) timeline - 1;
		return true;
	}
	TablesUseTokenEpoch();

	if (EpochRead(&rec_sysid, &rec_timeline, &rec_epoch) &&
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
		return true;
	}

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, 0, EPOCH_LOCK_FIELD4);
	if (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
		return false;
	/* Read again: under the lock, a new snapshot shows the latest row. */
	if (!EpochRead(&rec_sysid, &rec_timeline, &rec_epoch))
		*epoch = EpochOfLeases() + (int64) timeline - 1;
	else if (rec_sysid == sysid && rec_timeline == (int32) timeline)
		*epoch = rec_epoch;
	else if (rec_sysid == sysid && rec_timeline < (int32) timeline)
		*epoch = rec_epoch + ((int64) timeline - rec_timeline);
	else
		*epoch = Max(rec_epoch, EpochOfLeases()) + (int64) timeline;
	EpochWrite(sysid, (int32) timeline, *epoch);
	epoch_writer = GetTopTransactionId();
	return true;
}

/*
 * NextToken: the token a new run of job gets after last (0: none yet), in
 * *token.  False (nothing written) when the epoch is being recorded by
 * another transaction: the caller answers "locked".  Must be called outside
 * recovery (RequireWritable checks that first), between StoreBegin and
 * StoreEnd, with the job's lease row locked.  Raises 22003 when the tokens
 * would reach 2^53.
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
