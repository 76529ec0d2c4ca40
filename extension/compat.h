/*-------------------------------------------------------------------------
 * compat.h
 *	  Every PostgreSQL version difference cron_lock depends on, in one place.
 *
 * Supported: 15, 16, 17, 18.  Tables are read and written by SQL through
 * SPI, whose interface is the same on all of them; what differs is below.
 *-------------------------------------------------------------------------
 */
#ifndef CRON_LOCK_COMPAT_H
#define CRON_LOCK_COMPAT_H

#include "postgres.h"

#include "access/xlog.h"
#include "utils/backend_status.h"

#if PG_VERSION_NUM < 150000
#error "cron_lock needs PostgreSQL 15 or later"
#endif

/* VARDATA_ANY and friends: their own header since 16. */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/* LockAcquire: 19 no longer includes its header from storage/lmgr.h. */
#include "storage/lock.h"

/* The timeline new WAL is written on; only meaningful outside recovery. */
#define CurrentWalTimeLine() GetWALInsertionTimeLine()

/*
 * The i-th (1-based) entry of this transaction's backend status snapshot.
 * Renamed in 16 (pgstat_get_local_beentry_by_index).
 */
#if PG_VERSION_NUM >= 160000
#define LocalBackendStatusAt(i) pgstat_get_local_beentry_by_index(i)
#else
#define LocalBackendStatusAt(i) pgstat_fetch_stat_local_beentry(i)
#endif

#endif							/* CRON_LOCK_COMPAT_H */
