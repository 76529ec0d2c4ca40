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

#include "executor/spi.h"
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

	RequireWritable("force-release", job_name);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "cron_lock: SPI_connect failed");

	if (LeaseFetch(job, LEASE_RENEW, &lease) && lease.held &&
		(any_token || lease.token == token))
	{
		TimestampTz now = GetCurrentTimestamp();

		CommitDurably();
		LeaseEnd(job, lease.run_id, cstring_to_text("cancelled"),
				 cstring_to_text(psprintf("force-released by %s", who)), now, who);
		freed = true;
	}

	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "cron_lock: SPI_finish failed");
	PG_RETURN_BOOL(freed);
}
