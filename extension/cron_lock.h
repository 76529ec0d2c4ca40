/*-------------------------------------------------------------------------
 * cron_lock.h
 *	  Declarations shared by the cron_lock backend module.
 *
 * The SQL-callable functions (try.c, heartbeat.c, release.c, check.c,
 * force_release.c) validate their arguments (validate.c), refuse to write on
 * a standby or in a read-only transaction (durability.c), and reach the
 * tables only through store.c, by SQL statements run with SPI, once
 * tables.c has checked that the tables are still the extension's own.
 *
 * Row lock protocol on cron_lock.leases (its only unique index is the
 * primary key on job, so updates that keep job are "no key" updates):
 *	- a token change (acquisition, takeover) holds FOR UPDATE, taken with
 *	  SKIP LOCKED so cron_lock_try never waits;
 *	- heartbeat, release and force release hold FOR NO KEY UPDATE;
 *	- cron_lock_check holds FOR KEY SHARE until the caller's transaction
 *	  ends: it blocks token changes but lets the holder renew and release.
 *-------------------------------------------------------------------------
 */
#ifndef CRON_LOCK_H
#define CRON_LOCK_H

#include "postgres.h"

#include "compat.h"
#include "fmgr.h"
#include "storage/lockdefs.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/* The search_path every SECURITY DEFINER function of the extension runs under. */
#define CRON_LOCK_SEARCH_PATH "pg_catalog, cron_lock, pg_temp"

/* Longest job or instance name, in bytes. */
#define CRON_LOCK_MAX_NAME	200

/* Longest release message, in bytes. */
#define CRON_LOCK_MAX_MESSAGE 4096

/* Longest lease: 31 days. */
#define CRON_LOCK_MAX_TTL	(INT64CONST(31) * USECS_PER_DAY)

/* Tokens stay exactly representable as a double (JSON, JavaScript). */
#define CRON_LOCK_MAX_TOKEN ((INT64CONST(1) << 53) - 1)

/* SQLSTATE raised by cron_lock_check when the token is not current. */
#define ERRCODE_CRON_LOCK_NOT_HELD MAKE_SQLSTATE('L','K','0','0','1')

/* validate.c: argument checks, raising 22004 / 22023. */
extern text *ArgName(FunctionCallInfo fcinfo, int argno, const char *what);
extern int64 ArgToken(FunctionCallInfo fcinfo, int argno);
extern int64 ArgTtl(FunctionCallInfo fcinfo, int argno, const char *job);
extern bool ArgMinGap(FunctionCallInfo fcinfo, int argno, const char *job,
					  int64 *usec);
extern text *ArgStatus(FunctionCallInfo fcinfo, int argno, const char *job);
extern text *ArgMessage(FunctionCallInfo fcinfo, int argno, const char *job);

/* authority.c: who may act on a lease (42501 for anyone else). */
extern text *OuterRoleName(void);
extern void RequireAuthority(const char *action, text *job, text *role);

/* durability.c: where and how lease changes commit. */
extern void RequireWritable(const char *action, const char *job);
extern void CommitDurably(void);
extern bool BeginBusyAnswer(void);
extern void CommitLazilyIfAlone(bool alone);

/* token.c: the next fencing token of a job. */
extern bool NextToken(int64 last, const char *job, int64 *token);

/* tables.c: the tables are the extension's own, checked before use. */
extern void TablesUse(LOCKMODE lockmode, bool leases_only);
extern Oid	TablesRunIdSequence(void);
extern bool TablesHaveRoles(bool leases_only);
extern bool TablesHavePause(void);
extern void TablesUseTokenEpoch(void);
extern bool TablesUseOnDemand(const char *name);
extern void TablesUseAll(void);
extern void TablesUseJobs(void);

/*
 * store.c: the rows behind a lease, read and written by SQL statements.
 * One SQL function call is one SPI connection: StoreBegin, then any of the
 * functions below, then StoreEnd.
 */
typedef struct Store
{
	bool		connected;
	bool		roles;			/* the tables have 1.1's role column */
	bool		pause;			/* leases has 1.2's paused_until, and jobs exists */
	int			guc_level;		/* > 0: search_path pinned by StoreBegin */
} Store;

extern void StoreBegin(Store *st, bool guard_only);
extern void StoreEnd(Store *st);
typedef enum LeaseLock
{
	LEASE_PEEK,					/* plain MVCC read, no lock; no token, run_id, role */
	LEASE_TAKE,					/* FOR UPDATE SKIP LOCKED: token changes */
	LEASE_RENEW,				/* FOR NO KEY UPDATE: heartbeat, release */
	LEASE_GUARD					/* FOR KEY SHARE: cron_lock_check */
} LeaseLock;

typedef struct Lease
{
	text	   *job;
	int64		token;			/* last token issued for the job */
	int64		run_id;			/* run of that token */
	text	   *instance;		/* who took it */
	bool		held;			/* false once released or force released */
	bool		has_attempt;
	pg_uuid_t	attempt;
	bool		has_pid;
	int32		backend_pid;
	TimestampTz acquired_at;
	TimestampTz expires_at;
	text	   *role;			/* who took it; NULL: before cron_lock 1.1 (not
								 * read by LEASE_PEEK, LEASE_TAKE) */
	TimestampTz paused_until;	/* DT_NOBEGIN: not paused; DT_NOEND: until
								 * resumed (read by LEASE_PEEK, LEASE_TAKE) */
} Lease;

typedef struct RunReport
{
	int64		run_id;
	text	   *instance;
	text	   *status;
	bool		forced;			/* ended by cron_lock_force_release */
	bool		reported;		/* a late report is already stored */
	text	   *role;			/* who took it; NULL: before cron_lock 1.1 */
} RunReport;

typedef struct NewRun
{
	text	   *job;
	text	   *instance;
	int64		token;
	pg_uuid_t  *attempt;		/* NULL when the caller gave none */
	TimestampTz now;
	TimestampTz expires_at;
} NewRun;

extern bool LeaseFetch(Store *st, text *job, LeaseLock mode, Lease *lease);
extern bool LeaseTryLockNewJob(text *job);
extern void LeaseLockNewJob(text *job);
extern bool LockChores(bool wait);
extern bool JobPausedAt(text *job, TimestampTz now);
extern int64 LeaseInsertFirst(Store *st, const NewRun *run);
extern int64 LeaseAcquire(Store *st, const Lease *lease, const NewRun *run);
extern void LeaseMarkTakenOver(int64 old_run_id, int64 new_run_id,
							   TimestampTz now);
extern void LeaseRenew(Store *st, const Lease *lease, TimestampTz now,
					   TimestampTz expires_at);
extern void LeaseEnd(Store *st, const Lease *lease, text *status, text *message,
					 TimestampTz now, const char *forced_by);
extern bool LeaseReleaseHeld(Store *st, text *job, int64 token, text *role, text *status,
							 text *message);
extern bool RunFindByToken(text *job, int64 token, RunReport *run);
extern void RunStoreLateReport(int64 run_id, text *status, text *message,
							   TimestampTz now);
extern void RecordContention(text *job, text *instance, text *holder,
							 const char *reason, TimestampTz now);
extern void StoreSweep(Store *st);
extern void RecordAnomaly(const char *kind, text *job, int64 run_id,
						  text *instance, TimestampTz now, const char *detail);

#endif							/* CRON_LOCK_H */
