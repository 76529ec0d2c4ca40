/*-------------------------------------------------------------------------
 * release.c
 *	  cron_lock_release: end a run and free its lease.
 *
 * Updates the lease row (a FOR NO KEY UPDATE row lock, like a heartbeat's) in
 * one statement when the token still holds it.  A release may
 * arrive twice (the first reply was lost) or too late (the lease was taken
 * over or force-released); neither changes a run that already ended, but a
 * late report is kept beside it.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "utils/builtins.h"

/*
 * LateRelease: the holder reported after losing its run.  The run keeps its
 * status; the report is stored once and flagged as a late_release anomaly.
 */
static void
LateRelease(text *job, int64 token, const RunReport *run, text *status,
			text *message, TimestampTz now)
{
	if (run->reported)
		return;
	RunStoreLateReport(run->run_id, status, message, now);
	RecordAnomaly("late_release", job, run->run_id, run->instance, now,
				  psprintf("Instance \"%s\" reported run " INT64_FORMAT " of job \"%s\" (token " INT64_FORMAT ") as %s after the run had %s. Work it did after that point was not protected by the lease; check it for overlap with the next run.",
						   text_to_cstring(run->instance), run->run_id,
						   text_to_cstring(job), token, text_to_cstring(status),
						   run->forced ? "been force-released" : "expired and been taken over"));
}

/*
 * cron_lock_release(job, token, status, message): true when this token's
 * run is now ended by its holder (also for a retried release), false when
 * it was taken over, force-released, or never existed.
 */
PG_FUNCTION_INFO_V1(cron_lock_release);
Datum
cron_lock_release(PG_FUNCTION_ARGS)
{
	text	   *job = ArgName(fcinfo, 0, "job");
	char	   *job_name = text_to_cstring(job);
	int64		token = ArgToken(fcinfo, 1);
	text	   *status = ArgStatus(fcinfo, 2, job_name);
	text	   *message = ArgMessage(fcinfo, 3, job_name);
	RunReport	run;
	bool		released;
	Store		st;

	RequireWritable("release the lease of", job_name);

	CommitDurably();
	StoreBegin(&st, false);
	/* The holder's own release: one statement. */
	if (LeaseReleaseHeld(&st, job, token, OuterRoleName(), status, message))
	{
		released = true;
		/* The chores (contention folded, retention), now and then. */
		StoreSweep(&st);
	}
	else if (RunFindByToken(job, token, &run))
	{
		char	   *was = text_to_cstring(run.status);

		/* Another role: a member of the taker's, or an admin, may go on. */
		RequireAuthority("release", job, run.role);
		if (strcmp(was, "running") == 0 &&
			LeaseReleaseHeld(&st, job, token, NULL, status, message))
		{
			StoreEnd(&st);
			PG_RETURN_BOOL(true);
		}

		released = !run.forced && strcmp(was, "expired") != 0 &&
			strcmp(was, "running") != 0;
		if (!released)
			LateRelease(job, token, &run, status, message, GetCurrentTimestamp());
	}
	else
		released = false;
	StoreEnd(&st);

	PG_RETURN_BOOL(released);
}
