/*-------------------------------------------------------------------------
 * validate.c
 *	  Argument checks shared by the SQL-callable functions.
 *
 * The functions are not STRICT: a NULL argument is an error (22004), never a
 * silent NULL result.  Everything here runs before any row is read or
 * written, so bad input changes nothing.  No locks, no SPI.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "common/int.h"
#include "utils/builtins.h"

/*
 * ArgName: the job or instance argument, checked.  Names are compared byte
 * for byte, so anything that would make two names look alike (padding,
 * control characters) is refused.
 */
text *
ArgName(FunctionCallInfo fcinfo, int argno, const char *what)
{
	text	   *name;
	const unsigned char *p;
	int			len;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));

	name = PG_GETARG_TEXT_PP(argno);
	p = (const unsigned char *) VARDATA_ANY(name);
	len = VARSIZE_ANY_EXHDR(name);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	if (len > CRON_LOCK_MAX_NAME)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%.40s...\" is too long", what, (const char *) p),
				 errdetail("It is %d bytes; the limit is %d bytes.",
						   len, CRON_LOCK_MAX_NAME)));
	for (int i = 0; i < len; i++)
	{
		if (p[i] < 0x20 || p[i] == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s \"%s\" contains a control character", what,
							text_to_cstring(name)),
					 errdetail("Byte %d is 0x%02x.", i + 1, p[i])));
	}
	if (p[0] == ' ' || p[len - 1] == ' ')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" has leading or trailing spaces", what,
						text_to_cstring(name)),
				 errhint("Names are compared byte for byte; trim them.")));
	return name;
}

/* ArgToken: a fencing token argument; any non-NULL value is accepted. */
int64
ArgToken(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("token must not be null")));
	return PG_GETARG_INT64(argno);
}

/*
 * IntervalUsec: an interval as microseconds.  A month has no fixed length,
 * so an interval with a month part is refused; so is one too large for
 * int64 microseconds.
 */
static int64
IntervalUsec(Interval *span, const char *what, const char *job)
{
	int64		days;
	int64		usec;

	if (span->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s for job \"%s\" must not have a month part", what, job),
				 errhint("Give it in days, hours, minutes or seconds: a month has no fixed length.")));
	if (pg_mul_s64_overflow((int64) span->day, USECS_PER_DAY, &days) ||
		pg_add_s64_overflow(days, span->time, &usec))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s for job \"%s\" is out of range", what, job)));
	return usec;
}

/* ArgTtl: a lease length, more than zero and at most 31 days. */
int64
ArgTtl(FunctionCallInfo fcinfo, int argno, const char *job)
{
	int64		usec;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("ttl for job \"%s\" must not be null", job)));
	usec = IntervalUsec(PG_GETARG_INTERVAL_P(argno), "ttl", job);
	if (usec <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl for job \"%s\" must be greater than zero", job)));
	if (usec > CRON_LOCK_MAX_TTL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl for job \"%s\" must be at most 31 days", job),
				 errhint("A runner that holds a job longer should renew a shorter lease with cron_lock_heartbeat.")));
	return usec;
}

/* ArgMinGap: the optional min_gap; false when NULL (no gap wanted). */
bool
ArgMinGap(FunctionCallInfo fcinfo, int argno, const char *job, int64 *usec)
{
	if (PG_ARGISNULL(argno))
		return false;
	*usec = IntervalUsec(PG_GETARG_INTERVAL_P(argno), "min_gap", job);
	if (*usec <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_gap for job \"%s\" must be greater than zero", job),
				 errhint("Pass NULL for no minimum gap.")));
	return true;
}

/* ArgStatus: how a run ended, as reported by its holder. */
text *
ArgStatus(FunctionCallInfo fcinfo, int argno, const char *job)
{
	char	   *status;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("status for job \"%s\" must not be null", job)));
	status = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (strcmp(status, "succeeded") != 0 &&
		strcmp(status, "failed") != 0 &&
		strcmp(status, "cancelled") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid status \"%s\" for job \"%s\"", status, job),
				 errhint("Use succeeded, failed or cancelled.")));
	return PG_GETARG_TEXT_PP(argno);
}
