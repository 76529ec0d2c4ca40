/*-------------------------------------------------------------------------
 * helpers.c
 *	  The checks of the C functions, callable from SQL: the PL/pgSQL
 *	  functions both editions share (schema/functions/) call these by the
 *	  names the plain-SQL edition gives its own PL/pgSQL versions, so that
 *	  they raise the errors cron_lock_try raises.
 *
 * Internal: in schema cron_lock, not granted to anyone; the shared
 * functions run them as the extension's owner.  None of them keeps state.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "utils/builtins.h"

/*
 * The helpers are not STRICT (arg_name reports a NULL name itself); their
 * other arguments come from cron_lock's own functions, but the owner can
 * call them directly: a NULL there is an error, never a dereference.
 */
static char *
TextArgument(FunctionCallInfo fcinfo, int n)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument %d of an internal cron_lock function must not be null", n + 1)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* cron_lock.arg_name(name text, what text): 22004 / 22023 as ArgName. */
PG_FUNCTION_INFO_V1(cron_lock_arg_name);
Datum
cron_lock_arg_name(PG_FUNCTION_ARGS)
{
	(void) ArgName(fcinfo, 0, TextArgument(fcinfo, 1));
	PG_RETURN_VOID();
}

/* cron_lock.require_writable(action text, job text): 25006 as RequireWritable. */
PG_FUNCTION_INFO_V1(cron_lock_require_writable);
Datum
cron_lock_require_writable(PG_FUNCTION_ARGS)
{
	RequireWritable(TextArgument(fcinfo, 0), TextArgument(fcinfo, 1));
	PG_RETURN_VOID();
}

/*
 * cron_lock.refuse_foreign_objects(thorough boolean): lock every table of
 * the description that exists as an UPDATE does, to the end of the
 * transaction, and raise 55000 if anything is attached to them (tables.c).
 * The check is always thorough here (and cached until a table changes).
 */
PG_FUNCTION_INFO_V1(cron_lock_refuse_foreign_objects);
Datum
cron_lock_refuse_foreign_objects(PG_FUNCTION_ARGS)
{
	TablesUseAll();
	PG_RETURN_VOID();
}

/* cron_lock.outer_role(): the calling role, as the lease records it. */
PG_FUNCTION_INFO_V1(cron_lock_outer_role);
Datum
cron_lock_outer_role(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(OuterRoleName());
}

/* cron_lock.require_authority(action text, job text, role text): 42501. */
PG_FUNCTION_INFO_V1(cron_lock_require_authority);
Datum
cron_lock_require_authority(PG_FUNCTION_ARGS)
{
	(void) TextArgument(fcinfo, 1);
	RequireAuthority(TextArgument(fcinfo, 0), PG_GETARG_TEXT_PP(1),
					 PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2));
	PG_RETURN_VOID();
}

/*
 * cron_lock.lock_new_job(job text): wait for a first acquisition of the job
 * in progress, and keep new ones out until this transaction ends.
 */
PG_FUNCTION_INFO_V1(cron_lock_lock_new_job);
Datum
cron_lock_lock_new_job(PG_FUNCTION_ARGS)
{
	(void) TextArgument(fcinfo, 0);
	LeaseLockNewJob(PG_GETARG_TEXT_PP(0));
	PG_RETURN_VOID();
}

/*
 * cron_lock.lock_chores(wait boolean): the lock of the sweep and the prune,
 * waited for when wait, else only if free; returns whether it is had.
 */
PG_FUNCTION_INFO_V1(cron_lock_lock_chores);
Datum
cron_lock_lock_chores(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument %d of an internal cron_lock function must not be null", 1)));
	PG_RETURN_BOOL(LockChores(PG_GETARG_BOOL(0)));
}

/* cron_lock.commit_durably(): this transaction commits with at least synchronous_commit = on. */
PG_FUNCTION_INFO_V1(cron_lock_commit_durably);
Datum
cron_lock_commit_durably(PG_FUNCTION_ARGS)
{
	CommitDurably();
	PG_RETURN_VOID();
}
