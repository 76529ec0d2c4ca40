/*-------------------------------------------------------------------------
 * token.c
 *	  Fencing tokens: per job, strictly increasing, never issued twice.
 *
 * The last token of a job lives in its lease row, so committed tokens
 * survive restarts, crash recovery and dump/restore.  A standby promoted
 * after asynchronous replication may have lost the last few commits; it
 * runs on a new WAL timeline, and folding the timeline into the high bits
 * puts every token it issues above every token the old timeline could have
 * issued (as long as a timeline issues fewer than 2^32 tokens per job).
 * Must be called outside recovery (RequireWritable checks that first).
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

int64
NextToken(int64 last, const char *job)
{
	int64		floor = ((int64) (CurrentWalTimeLine() - 1) << 32) + 1;
	int64		next = Max(last + 1, floor);

	if (next > CRON_LOCK_MAX_TOKEN)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("fencing tokens of job \"%s\" are exhausted", job),
				 errdetail("The next token would exceed 2^53.")));
	return next;
}
