/*-------------------------------------------------------------------------
 * heartbeat.c
 *	  cron_lock_heartbeat: renew a held lease to now + ttl.
 *
 * Locks the lease row FOR NO KEY UPDATE (compatible with the KEY SHARE lock
 * of a guarded transaction), so it waits at most for a cron_lock_try that is
 * deciding, which never waits itself.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "utils/builtins.h"

/* Why a heartbeat found its token no longer current, as one sentence. */
static char *
LostDetail(text *job, int64 token, text *instance, const Lease *lease,
		   bool has_lease)
{
	const char *who = instance ? text_to_cstring(instance) : "an unknown instance";
	const char *what;

	if (!has_lease)
		what = "the job had never been locked";
	else if (lease->token == token)
		what = "its lease had been released or force-released";
	else
		what = psprintf("instance \"%s\" had taken the lease with token " INT64_FORMAT,
						text_to_cstring(lease->instance), lease->token);
	return psprintf("A heartbeat from \"%s\" for job \"%s\" with token " INT64_FORMAT
					" arrived after %s. That runner must stop: its work is no longer protected by the lease.",
					who, text_to_cstring(job), token, what);
}

/*
 * cron_lock_heartbeat(job, token, ttl) returns the new expiry, or NULL when
 * the token is not current (recorded as lost_heartbeat).  A current token
 * whose lease expired but was not taken over is renewed (late_heartbeat).
 */
PG_FUNCTION_INFO_V1(cron_lock_heartbeat);
Datum
cron_lock_heartbeat(PG_FUNCTION_ARGS)
{
	text	   *job = ArgName(fcinfo, 0, "job");
	char	   *job_name = text_to_cstring(job);
	int64		token = ArgToken(fcinfo, 1);
	int64		ttl = ArgTtl(fcinfo, 2, job_name);
	Lease		lease;
	bool		has_lease;
	TimestampTz now;
	TimestampTz expires_at = 0;
	Store		st;

	RequireWritable("renew the lease of", job_name);

	StoreBegin(&st, false);
	has_lease = LeaseFetch(&st, job, LEASE_RENEW, &lease);
	now = GetCurrentTimestamp();
	if (has_lease && lease.held && lease.token == token)
	{
		RequireAuthority("renew the lease of", job, lease.role);
		if (lease.expires_at <= now)
			RecordAnomaly("late_heartbeat", job, lease.run_id, lease.instance, now,
						  psprintf("Instance \"%s\" renewed run " INT64_FORMAT " of job \"%s\" %.3f s after its lease expired; nobody had taken it over, but a rival could have. Raise the ttl or renew more often.",
								   text_to_cstring(lease.instance), lease.run_id, job_name,
								   (double) (now - lease.expires_at) / USECS_PER_SEC));
		expires_at = now + ttl;
		CommitDurably();
		LeaseRenew(&st, &lease, now, expires_at);
		/* A long run renews where nothing is acquired or released. */
		StoreSweep(&st);
	}
	else
	{
		RunReport	run;
		bool		has_run = RunFindByToken(job, token, &run);

		/* Only the run's taker (else the job's holder) may leave evidence. */
		if (has_run)
			RequireAuthority("renew the lease of", job, run.role);
		else if (has_lease)
			RequireAuthority("renew the lease of", job, lease.role);
		RecordAnomaly("lost_heartbeat", job, has_run ? run.run_id : 0,
					  has_run ? run.instance : NULL, now,
					  LostDetail(job, token, has_run ? run.instance : NULL,
								 &lease, has_lease));
	}
	StoreEnd(&st);

	if (expires_at == 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(expires_at);
}
