/*-------------------------------------------------------------------------
 * force_release.c
 *	  cron_lock_force_release: an administrator frees a lease.
 *
 * EXECUTE is granted to cron_lock_admin only.  The run becomes cancelled
 * with the role that forced it; the holder's next heartbeat answers NULL and
 * its release false.  Locks the lease row FOR NO KEY UPDATE.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "miscadmin.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(cron_lock_force_release);
Datum
cron_lock_force_release(PG_FUNCTION_ARGS)
{
	text	   *job = ArgName(fcinfo, 0, "job");
	char	   *job_name = text_to_cstring(job);
	bool		any_token = PG_ARGISNULL(1);
	int64		token = any_token ? 0 : PG_GETARG_INT64(1);
	/* The role outside this SECURITY DEFINER function. */
	char	   *who = GetUserNameFromId(GetOuterUserId(), false);
	Lease		lease;
	bool		freed = false;
	Store		st;

	RequireWritable("force-release", job_name);

	StoreBegin(&st, false);
	if (LeaseFetch(&st, job, LEASE_RENEW, &lease) && lease.held &&
		(any_token || lease.token == token))
	{
		TimestampTz now = GetCurrentTimestamp();

		CommitDurably();
		LeaseEnd(&st, &lease, cstring_to_text("cancelled"),
				 cstring_to_text(psprintf("force-released by %s", who)), now, who);
		freed = true;
	}
	StoreEnd(&st);

	PG_RETURN_BOOL(freed);
}
