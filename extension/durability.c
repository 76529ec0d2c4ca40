/*-------------------------------------------------------------------------
 * durability.c
 *	  Where lease changes may happen and how durably they commit.
 *
 * A lease exists only once the transaction that took it commits, and a
 * fencing token must never be issued twice, so every lease change commits
 * with synchronous_commit at least "on".  A busy answer only records
 * evidence: when it is a transaction of its own it skips the WAL flush.
 * The settings are transaction-local (like SET LOCAL), so they end with the
 * caller's transaction and are never inherited by the next one.
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
 * CommitDurably: make the current transaction commit with at least
 * synchronous_commit = on.  Stronger settings (remote_apply) are kept.
 */
void
CommitDurably(void)
{
	if (synchronous_commit < SYNCHRONOUS_COMMIT_REMOTE_FLUSH)
		SetSynchronousCommit("on");
}

/*
 * CommitLazilyIfAlone: skip the WAL flush at commit, but only when this call
 * is the whole transaction: not inside a transaction block (explicit or
 * implicit), and nothing written before it.  A later lease change in the
 * same transaction calls CommitDurably, which wins.
 */
void
CommitLazilyIfAlone(void)
{
	if (IsTransactionBlock() ||
		TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return;
	if (synchronous_commit != SYNCHRONOUS_COMMIT_OFF)
		SetSynchronousCommit("off");
}
