/*-------------------------------------------------------------------------
 * try.c
 *	  cron_lock_try: take a job's lease in one statement, never waiting.
 *
 * Order (CONTRACT 1.1): validate, refuse if read-only, lock the lease row
 * without waiting, then replay, paused, held/locked, too_soon, take over or
 * acquire.  A pause (cron_lock_pause) is read from the lease row itself,
 * which carries a copy, so a busy answer looks nothing else up; the first
 * lease row of a job is inserted only if cron_lock.jobs has no pause.
 *
 * A plain read of the lease comes first: when it already shows another
 * holder's unexpired lease, or a gap not yet passed, the answer is final
 * without locking anything, which keeps busy answers cheap and lets many
 * rivals ask at once.  Otherwise the row is locked FOR UPDATE SKIP LOCKED
 * and everything is decided again on the locked row, with the clock read
 * after the lock.  A job seen for the first time has no row to lock: its
 * first insert happens under a non-waiting lock of its own (store.c).
 * Each step is one SQL statement (store.c); the answer is built after the
 * last of them, in the caller's memory context.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

typedef struct TryRequest
{
	text	   *job;
	text	   *instance;
	char	   *job_name;
	int64		ttl;
	pg_uuid_t  *attempt;
	bool		has_min_gap;
	int64		min_gap;
} TryRequest;

/* The row cron_lock_try returns. */
typedef struct TryAnswer
{
	const char *reason;
	int64		run_id;			/* 0: NULL */
	int64		token;
	text	   *holder;			/* NULL: free */
	bool		has_pid;
	int32		holder_pid;
	TimestampTz expires_at;
	int64		took_over;
} TryAnswer;

static bool
SameAttempt(const TryRequest *req, const Lease *lease)
{
	return req->attempt != NULL && lease->has_attempt &&
		memcmp(req->attempt->data, lease->attempt.data, UUID_LEN) == 0;
}

static bool
IsLive(const Lease *lease, TimestampTz now)
{
	return lease->held && lease->expires_at > now;
}

static bool
IsPaused(const Lease *lease, TimestampTz now)
{
	return lease->paused_until > now;
}

static bool
TooSoon(const TryRequest *req, const Lease *lease, TimestampTz now)
{
	return req->has_min_gap && now - lease->acquired_at < req->min_gap;
}

/*
 * A busy answer's contention event.  Its transaction skips the WAL flush
 * at commit if these rows are all it wrote (durability.c).
 */
static void
RecordBusy(const TryRequest *req, text *holder, const char *reason,
		   TimestampTz now)
{
	bool		alone = BeginBusyAnswer();

	RecordContention(req->job, req->instance, holder, reason, now);
	CommitLazilyIfAlone(alone);
}

/* Busy: another holder's lease is live; record it as contention. */
static void
AnswerHeld(const TryRequest *req, const Lease *lease, TimestampTz now,
		   TryAnswer *ans)
{
	ans->reason = "held";
	ans->holder = lease->instance;
	ans->has_pid = lease->has_pid;
	ans->holder_pid = lease->backend_pid;
	ans->expires_at = lease->expires_at;
	RecordBusy(req, lease->instance, "held", now);
}

/*
 * Not now: an administrator paused the job.  Not contention: nothing is
 * recorded, nothing written.  A live lease is named as "held" names it.
 */
static void
AnswerPaused(const Lease *lease, TimestampTz now, TryAnswer *ans)
{
	ans->reason = "paused";
	if (lease != NULL && IsLive(lease, now))
	{
		ans->holder = lease->instance;
		ans->has_pid = lease->has_pid;
		ans->holder_pid = lease->backend_pid;
		ans->expires_at = lease->expires_at;
	}
}

/* Busy: the job started less than min_gap ago; the last starter is blamed. */
static void
AnswerTooSoon(const TryRequest *req, const Lease *lease, TimestampTz now,
			  TryAnswer *ans)
{
	ans->reason = "too_soon";
	RecordBusy(req, lease->instance, "too_soon", now);
}

/*
 * Busy: another transaction has the row (or the first insert) locked.  Who
 * is behind it is unknown, so only a lease seen live names a holder.
 */
static void
AnswerLocked(const TryRequest *req, const Lease *seen, TimestampTz now,
			 TryAnswer *ans)
{
	text	   *holder = NULL;

	ans->reason = "locked";
	if (seen != NULL && IsLive(seen, now))
	{
		holder = seen->instance;
		ans->holder = holder;
		ans->has_pid = seen->has_pid;
		ans->holder_pid = seen->backend_pid;
		ans->expires_at = seen->expires_at;
	}
	RecordBusy(req, holder, "locked", now);
}

static void
AnswerOwn(const char *reason, int64 run_id, int64 token,
		  const TryRequest *req, TimestampTz expires_at, TryAnswer *ans)
{
	ans->reason = reason;
	ans->run_id = run_id;
	ans->token = token;
	ans->holder = req->instance;
	ans->has_pid = true;
	ans->holder_pid = MyProcPid;
	ans->expires_at = expires_at;
}

/*
 * A new run on a lease row this transaction has locked FOR UPDATE, or
 * (lease NULL) the first lease of a job.  False, writing no lease or run,
 * only when that first lease turns out to have been inserted by another
 * transaction since the caller's snapshot (READ COMMITTED), or the job is
 * paused (cron_lock.jobs).  Answers
 * "locked" while another transaction records a new token epoch.
 */
static bool
Acquire(Store *st, const TryRequest *req, const Lease *lease, TimestampTz now,
		TryAnswer *ans)
{
	NewRun		run;
	int64		run_id;

	/* Another transaction is recording a new token epoch: try again. */
	if (!NextToken(lease ? lease->token : 0, req->job_name, &run.token))
	{
		AnswerLocked(req, lease, now, ans);
		return true;
	}
	run.job = req->job;
	run.instance = req->instance;
	run.attempt = req->attempt;
	run.now = now;
	run.expires_at = now + req->ttl;

	CommitDurably();
	if (lease == NULL)
	{
		run_id = LeaseInsertFirst(st, &run);
		if (run_id == 0)
			return false;
		AnswerOwn("acquired", run_id, run.token, req, run.expires_at, ans);
	}
	else
	{
		run_id = LeaseAcquire(st, lease, &run);
		if (lease->held)
		{
			LeaseMarkTakenOver(lease->run_id, run_id, now);
			AnswerOwn("took_over", run_id, run.token, req, run.expires_at, ans);
			ans->took_over = lease->run_id;
		}
		else
			AnswerOwn("acquired", run_id, run.token, req, run.expires_at, ans);
	}

	/*
	 * The chores, now and then, as on a release: where runs only ever
	 * expire and are taken over, nothing is released.
	 */
	StoreSweep(st);
	return true;
}

/* Decide on the lease row now locked FOR UPDATE, reading the clock anew. */
static void
DecideLocked(Store *st, const TryRequest *req, const Lease *lease, TryAnswer *ans)
{
	TimestampTz now = GetCurrentTimestamp();

	if (IsLive(lease, now) && SameAttempt(req, lease))
	{
		/*
		 * The same logical acquisition retried (its reply was lost).  Renew
		 * it so the client's deadline, counted from this call, stays inside
		 * the lease; the durable commit of the renewal also covers the
		 * original acquisition.
		 */
		TimestampTz expires_at = now + req->ttl;

		CommitDurably();
		LeaseRenew(st, lease, now, expires_at);
		AnswerOwn("replayed", lease->run_id, lease->token, req, expires_at, ans);
	}
	else if (IsPaused(lease, now))
		AnswerPaused(lease, now, ans);
	else if (IsLive(lease, now))
		AnswerHeld(req, lease, now, ans);
	else if (TooSoon(req, lease, now))
		AnswerTooSoon(req, lease, now, ans);
	else
		(void) Acquire(st, req, lease, now, ans);
}

static void
Try(Store *st, const TryRequest *req, TryAnswer *ans)
{
	Lease		seen;
	Lease		locked;
	TimestampTz now;

	if (!LeaseFetch(st, req->job, LEASE_PEEK, &seen))
	{
		/*
		 * First time this job is seen (by our snapshot).  Every first insert
		 * holds this lock until it commits, so the insert cannot wait.
		 */
		if (!LeaseTryLockNewJob(req->job))
		{
			AnswerLocked(req, NULL, GetCurrentTimestamp(), ans);
			return;
		}
		if (Acquire(st, req, NULL, GetCurrentTimestamp(), ans))
			return;
		/* Inserted and committed meanwhile: decide on that row. */
		if (!LeaseFetch(st, req->job, LEASE_PEEK, &seen))
		{
			/* Or nothing inserted because the job is paused. */
			if (st->pause && JobPausedAt(req->job, GetCurrentTimestamp()))
				AnswerPaused(NULL, 0, ans);
			else
				AnswerLocked(req, NULL, GetCurrentTimestamp(), ans);
			return;
		}
	}

	now = GetCurrentTimestamp();
	if (IsLive(&seen, now) && !SameAttempt(req, &seen))
	{
		if (IsPaused(&seen, now))
			AnswerPaused(&seen, now, ans);
		else
			AnswerHeld(req, &seen, now, ans);
	}
	else if (!IsLive(&seen, now) && IsPaused(&seen, now))
		AnswerPaused(&seen, now, ans);
	else if (!IsLive(&seen, now) && TooSoon(req, &seen, now))
		AnswerTooSoon(req, &seen, now, ans);
	else if (LeaseFetch(st, req->job, LEASE_TAKE, &locked))
		DecideLocked(st, req, &locked, ans);
	else
		AnswerLocked(req, &seen, GetCurrentTimestamp(), ans);
}

static Datum
AnswerDatum(FunctionCallInfo fcinfo, const TryAnswer *ans, TupleDesc tupdesc)
{
	Datum		values[8];
	bool		nulls[8] = {false};
	bool		own = ans->run_id != 0;

	values[0] = BoolGetDatum(own);
	values[1] = CStringGetTextDatum(ans->reason);
	values[2] = Int64GetDatum(ans->run_id);
	nulls[2] = !own;
	values[3] = Int64GetDatum(ans->token);
	nulls[3] = !own;
	values[4] = PointerGetDatum(ans->holder);
	nulls[4] = ans->holder == NULL;
	values[5] = Int32GetDatum(ans->holder_pid);
	nulls[5] = ans->holder == NULL || !ans->has_pid;
	values[6] = TimestampTzGetDatum(ans->expires_at);
	nulls[6] = ans->holder == NULL;
	values[7] = Int64GetDatum(ans->took_over);
	nulls[7] = ans->took_over == 0;
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * cron_lock_try(job, instance, ttl, attempt, min_gap): one row, see
 * CONTRACT 1.1.  Never waits for a row or transaction lock.  Raises 22004,
 * 22023 on bad input and 25006 on a standby or in a read-only transaction.
 */
PG_FUNCTION_INFO_V1(cron_lock_try);
Datum
cron_lock_try(PG_FUNCTION_ARGS)
{
	TryRequest	req;
	TryAnswer	ans = {0};
	Store		st;
	TupleDesc	tupdesc;

	req.job = ArgName(fcinfo, 0, "job");
	req.job_name = text_to_cstring(req.job);
	req.instance = ArgName(fcinfo, 1, "instance");
	req.ttl = ArgTtl(fcinfo, 2, req.job_name);
	req.attempt = PG_ARGISNULL(3) ? NULL : PG_GETARG_UUID_P(3);
	req.has_min_gap = ArgMinGap(fcinfo, 4, req.job_name, &req.min_gap);
	RequireWritable("take a lease on", req.job_name);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "cron_lock_try must return a composite type");
	tupdesc = BlessTupleDesc(tupdesc);

	StoreBegin(&st, false);
	Try(&st, &req, &ans);
	StoreEnd(&st);
	PG_RETURN_DATUM(AnswerDatum(fcinfo, &ans, tupdesc));
}
