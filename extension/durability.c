/*-------------------------------------------------------------------------
 * durability.c
 *	  Where lease changes may happen and how durably they commit.
 *
 * A lease exists only once the transaction that took it commits, and a
 * fencing token must never be issued twice, so every lease change commits
 * with synchronous_commit at least "on".  A busy answer only records
 * evidence: when its contention rows are all the transaction wrote, it
 * skips the WAL flush, decided at pre-commit so that no later write of the
 * caller's is weakened.  The settings are transaction-local (like SET
 * LOCAL), so they end with the caller's transaction and are never inherited
 * by the next one.  State is per backend and reset at every transaction end.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "utils/guc.h"

/*
 * RequireWritable: raise 25006 on a standby or in a read-only transaction,
 * before anything is read, with a hint that says where to go instead.
 */
void
RequireWritable(const char *action, const char *job)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s job \"%s\" on a standby", action, job),
				 errdetail("The server is in recovery; leases change only on the primary."),
				 errhint("Connect to the primary, for example with target_session_attrs=read-write.")));
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s job \"%s\" in a read-only transaction", action, job),
				 errhint("Call it outside a READ ONLY transaction.")));
}

static void
SetSynchronousCommit(const char *value)
{
	(void) set_config_option("synchronous_commit", value,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * What this transaction may do at commit.  LAZY_ARMED: so far it wrote only
 * contention rows, the last of which ended at lazy_end in this backend's WAL.
 * Reset at every transaction end.
 */
typedef enum CommitPlan
{
	COMMIT_AS_SET,				/* the caller's setting, untouched */
	COMMIT_LAZY_ARMED,			/* skip the flush if nothing else is written */
	COMMIT_DURABLE				/* a lease changed, or the caller wrote */
} CommitPlan;

static CommitPlan commit_plan = COMMIT_AS_SET;
static XLogRecPtr lazy_end = InvalidXLogRecPtr;

/*
 * At pre-commit, the caller's statements are all done: a lease change
 * commits with at least "on" again, whatever the caller set after it; a
 * busy answer skips the flush only if the last WAL this backend wrote for
 * the transaction is still the end of our last contention row.  The
 * setting is transaction-local, read by the commit record that follows and
 * undone with the transaction.
 */
static void
DurabilityXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (commit_plan == COMMIT_DURABLE &&
				synchronous_commit < SYNCHRONOUS_COMMIT_REMOTE_FLUSH)
				SetSynchronousCommit("on");
			else if (commit_plan == COMMIT_LAZY_ARMED && XactLastRecEnd == lazy_end &&
					 synchronous_commit != SYNCHRONOUS_COMMIT_OFF)
				SetSynchronousCommit("off");
			break;
		case XACT_EVENT_PRE_PREPARE:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			break;
		default:
			/* commit, abort, prepare (and their parallel forms): start over */
			commit_plan = COMMIT_AS_SET;
			lazy_end = InvalidXLogRecPtr;
			break;
	}
}

/* The plan is reset at every transaction end, once anything set it. */
static void
PlanCommit(CommitPlan plan)
{
	static bool callback_registered = false;

	if (!callback_registered)
	{
		RegisterXactCallback(DurabilityXactCallback, NULL);
		callback_registered = true;
	}
	commit_plan = plan;
}

/*
 * CommitDurably: make the current transaction commit with at least
 * synchronous_commit = on.  Stronger settings (remote_apply) are kept, and
 * a busy answer earlier or later in the transaction no longer skips the
 * flush.
 */
void
CommitDurably(void)
{
	PlanCommit(COMMIT_DURABLE);
	if (synchronous_commit < SYNCHRONOUS_COMMIT_REMOTE_FLUSH)
		SetSynchronousCommit("on");
}

/*
 * BeginBusyAnswer: called before a busy answer records its contention row.
 * Returns whether the transaction may still skip the WAL flush: it wrote
 * nothing yet (no transaction id), or only earlier contention rows.
 * Anything else makes the rest of the transaction commit as the caller set.
 */
bool
BeginBusyAnswer(void)
{
	if (commit_plan == COMMIT_AS_SET &&
		!TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return true;
	if (commit_plan == COMMIT_LAZY_ARMED && XactLastRecEnd == lazy_end)
		return true;
	if (commit_plan == COMMIT_LAZY_ARMED)
		PlanCommit(COMMIT_AS_SET);
	return false;
}

/*
 * CommitLazilyIfAlone: called after the contention row of a busy answer is
 * inserted, with what BeginBusyAnswer said.  The decision is taken at
 * pre-commit: the transaction skips the WAL flush only if nothing but
 * contention rows was written by then, whatever wraps the call (a pipeline
 * of statements with one Sync, a DO block, CALL, a data-modifying WITH).  A
 * lease change in the same transaction calls CommitDurably, which wins.
 */
void
CommitLazilyIfAlone(bool alone)
{
	if (!alone || commit_plan == COMMIT_DURABLE)
		return;
	PlanCommit(COMMIT_LAZY_ARMED);
	lazy_end = XactLastRecEnd;
}
