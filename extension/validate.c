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
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

/* Characters that end a line or control a terminal: Cc, Zl, Zp. */
static bool
IsControl(pg_wchar c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029;
}

/*
 * Invisible format characters (Cf): zero-width spaces and joiners, bidi
 * controls, the byte order mark.  A name with one looks like a name
 * without it, or shows its characters in another order.
 */
static bool
IsInvisible(pg_wchar c)
{
	return c == 0xad || c == 0x61c || c == 0x180e ||
		(c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) ||
		(c >= 0x2060 && c <= 0x2064) || (c >= 0x2066 && c <= 0x206f) ||
		c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb);
}

/* Spaces (Zs): ASCII space, no-break space, the typographic spaces. */
static bool
IsSpace(pg_wchar c)
{
	return c == 0x20 || c == 0xa0 || c == 0x1680 ||
		(c >= 0x2000 && c <= 0x200a) || c == 0x202f || c == 0x205f || c == 0x3000;
}

/*
 * ArgName: the job or instance argument, checked.  Names are compared byte
 * for byte, so anything that would make two names look alike is refused:
 * control characters and invisible format characters anywhere, spaces of
 * any kind (no-break and typographic ones too) at either end.  Characters
 * are read as Unicode (converted from the database encoding); under
 * SQL_ASCII, bytes above 127 have no known meaning and only ASCII is checked.
 */
text *
ArgName(FunctionCallInfo fcinfo, int argno, const char *what)
{
	text	   *name;
	const char *p;
	int			len;
	const unsigned char *u;
	int			ulen;
	pg_wchar	first = 0;
	pg_wchar	last = 0;
	int			nchars = 0;
	int			step;
	bool		sql_ascii = GetDatabaseEncoding() == PG_SQL_ASCII;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));

	name = PG_GETARG_TEXT_PP(argno);
	p = VARDATA_ANY(name);
	len = VARSIZE_ANY_EXHDR(name);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	if (len > CRON_LOCK_MAX_NAME)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%.*s...\" is too long", what, pg_mbcliplen(p, len, 40), p),
				 errdetail("It is %d bytes; the limit is %d bytes.",
						   len, CRON_LOCK_MAX_NAME)));

	if (sql_ascii)
	{
		u = (const unsigned char *) p;
		ulen = len;
	}
	else
	{
		u = (const unsigned char *) pg_server_to_any(p, len, PG_UTF8);
		ulen = u == (const unsigned char *) p ? len : strlen((const char *) u);
	}
	for (int i = 0; i < ulen; i += step)
	{
		pg_wchar	c = u[i];

		step = 1;
		if (c >= 0x80 && !sql_ascii)
		{
			/* valid UTF-8 (converted by the server): the lead byte says how long */
			step = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
			if (i + step > ulen)
				elog(ERROR, "cron_lock: truncated UTF-8 in a name");
			c = utf8_to_unicode(&u[i]);
		}
		if (++nchars == 1)
			first = c;
		last = c;
		if (IsControl(c) || (!sql_ascii && IsInvisible(c)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s \"%s\" contains %s", what, text_to_cstring(name),
							IsControl(c) ? "a control character" :
							"an invisible format character"),
					 errdetail("Character %d is U+%04X.", nchars, (unsigned int) c),
					 errhint("Names are compared byte for byte; use visible characters only.")));
	}
	if (IsSpace(first) || IsSpace(last))
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

/*
 * ArgMessage: the optional message of a release, NULL when not given, at
 * most CRON_LOCK_MAX_MESSAGE bytes: a summary for people reading the
 * history, not a log.
 */
text *
ArgMessage(FunctionCallInfo fcinfo, int argno, const char *job)
{
	text	   *message;

	if (PG_ARGISNULL(argno))
		return NULL;
	message = PG_GETARG_TEXT_PP(argno);
	if (VARSIZE_ANY_EXHDR(message) > CRON_LOCK_MAX_MESSAGE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("message for job \"%s\" is too long", job),
				 errdetail("It is %d bytes; the limit is %d bytes.",
						   (int) VARSIZE_ANY_EXHDR(message), CRON_LOCK_MAX_MESSAGE),
				 errhint("Keep the message to a summary; put the full output in a log.")));
	return message;
}
