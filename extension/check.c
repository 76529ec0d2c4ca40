/*-------------------------------------------------------------------------
 * check.c
 *	  cron_lock_check: guard the caller's writes with a fencing token.
 *
 * Raises LK001 unless the token is current and unexpired.  Otherwise the
 * lease row stays locked FOR KEY SHARE until the caller's transaction ends:
 * cron_lock_try needs FOR UPDATE to change the token, so no takeover can
 * commit before the guarded writes, while the holder's heartbeat and release
 * (FOR NO KEY UPDATE) still go through.  Waits only behind a deciding
 * cron_lock_try, which never waits itself.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(cron_lock_check);
Datum
cron_lock_check(PG_FUNCTION_ARGS)
{
	text	   *job = ArgName(fcinfo, 0, "job");
	char	   *job_name = text_to_cstring(job);
	int64		token = ArgToken(fcinfo, 1);
	Lease		lease;
	bool		has_lease;
	TimestampTz now;
	char	   *why = NULL;
	Store		st;

	RequireWritable("check the lease of", job_name);

	StoreBegin(&st, true);
	has_lease = LeaseFetch(&st, job, LEASE_GUARD, &lease);
	StoreEnd(&st);
	now = GetCurrentTimestamp();
	if (has_lease && lease.token == token)
		RequireAuthority("check the lease of", job, lease.role);
	if (!has_lease)
		why = "The job has never been locked.";
	else if (lease.token != token)
		why = psprintf("The current token is " INT64_FORMAT ", held by instance \"%s\".",
					   lease.token, text_to_cstring(lease.instance));
	else if (!lease.held)
		why = "The lease was released.";
	else if (lease.expires_at <= now)
		why = psprintf("The lease expired at %s.", timestamptz_to_str(lease.expires_at));

	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CRON_LOCK_NOT_HELD),
				 errmsg("lease of job \"%s\" is not held with token " INT64_FORMAT,
						job_name, token),
				 errdetail_internal("%s", why),
				 errhint("Stop writing: another runner may own this job now.")));

	PG_RETURN_VOID();
}
