/*-------------------------------------------------------------------------
 * backend_alive.c
 *	  cron_lock.backend_alive: is the backend that took a lease connected?
 *
 * Compares pid and backend start time with the server's own backend status
 * table, which pg_stat_activity hides from unprivileged roles; only a
 * boolean leaves this function.  Advisory: behind a pooler, or after a
 * failover, the backend is not the client.  Reads this transaction's status
 * snapshot; takes no locks.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

PG_FUNCTION_INFO_V1(backend_alive);
Datum
backend_alive(PG_FUNCTION_ARGS)
{
	int32		pid;
	TimestampTz started;
	int			n;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_BOOL(false);
	pid = PG_GETARG_INT32(0);
	started = PG_GETARG_TIMESTAMPTZ(1);

	n = pgstat_fetch_stat_numbackends();
	for (int i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = LocalBackendStatusAt(i);

		if (local != NULL &&
			local->backendStatus.st_procpid == pid &&
			local->backendStatus.st_proc_start_timestamp == started)
			PG_RETURN_BOOL(true);
	}
	PG_RETURN_BOOL(false);
}
