/*-------------------------------------------------------------------------
 * compat.h
 *	  Every PostgreSQL version difference cron_lock depends on, in one place.
 *
 * Supported: PostgreSQL 14 and newer (tested on 15).
 *-------------------------------------------------------------------------
 */
#ifndef CRON_LOCK_COMPAT_H
#define CRON_LOCK_COMPAT_H

#include "access/xlog.h"
#include "utils/backend_status.h"

/* The timeline new WAL is written on; only meaningful outside recovery. */
#if PG_VERSION_NUM >= 150000
#define CurrentWalTimeLine() GetWALInsertionTimeLine()
#else
#define CurrentWalTimeLine() ThisTimeLineID
#endif

/* The i-th (1-based) entry of this transaction's backend status snapshot. */
#if PG_VERSION_NUM >= 170000
#define LocalBackendStatusAt(i) pgstat_get_local_beentry_by_index(i)
#else
#define LocalBackendStatusAt(i) pgstat_fetch_stat_local_beentry(i)
#endif

#endif							/* CRON_LOCK_COMPAT_H */
