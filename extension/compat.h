/*-------------------------------------------------------------------------
 * compat.h
 *	  Every PostgreSQL version difference cron_lock depends on, in one place.
 *
 * Built and tested on PostgreSQL 15, 17 and 18 (make test-versions); 14's
 * and 16's differences are handled here by reading their sources, untested.
 *-------------------------------------------------------------------------
 */
#ifndef CRON_LOCK_COMPAT_H
#define CRON_LOCK_COMPAT_H

#include "access/genam.h"
#include "access/tableam.h"
#include "access/xlog.h"
#include "executor/executor.h"
#include "utils/backend_status.h"
#include "utils/relcache.h"

/* The timeline new WAL is written on; only meaningful outside recovery. */
#if PG_VERSION_NUM >= 150000
#define CurrentWalTimeLine() GetWALInsertionTimeLine()
#else
#define CurrentWalTimeLine() ThisTimeLineID
#endif

/*
 * The i-th (1-based) entry of this transaction's backend status snapshot
 * (renamed in 16; untested there).
 */
#if PG_VERSION_NUM >= 160000
#define LocalBackendStatusAt(i) pgstat_get_local_beentry_by_index(i)
#else
#define LocalBackendStatusAt(i) pgstat_fetch_stat_local_beentry(i)
#endif

/*
 * Whether an update needs new index entries (16: TU_UpdateIndexes, which can
 * also ask for the summarizing indexes only), and making them.
 */
#if PG_VERSION_NUM >= 160000
typedef TU_UpdateIndexes UpdateIndexes;
#define NeedsNewIndexEntries(u) ((u) != TU_None)
#define InsertIndexEntriesAfterUpdate(rri, slot, estate, u) \
	ExecInsertIndexTuples(rri, slot, estate, true, false, NULL, NIL, \
						  (u) == TU_Summarizing)
#else
typedef bool UpdateIndexes;
#define NeedsNewIndexEntries(u) (u)
#define InsertIndexEntriesAfterUpdate(rri, slot, estate, u) \
	ExecInsertIndexTuples(rri, slot, estate, true, false, NULL, NIL)
#endif

/*
 * 18 added arguments: whether a deferrable primary key counts (ours is not
 * deferrable), scan instrumentation (none), and the relations initial pruning
 * kept (our one).  The macros keep 15's call shapes in the callers.
 */
#if PG_VERSION_NUM >= 180000
#define RelationGetPrimaryKeyIndex(rel) RelationGetPrimaryKeyIndex(rel, false)
#define index_beginscan(rel, index, snapshot, nkeys, norderbys) \
	index_beginscan(rel, index, snapshot, NULL, nkeys, norderbys)
#endif

/* A one-relation range table (16: with permission infos, none needed here). */
#if PG_VERSION_NUM >= 180000
#define InitOneRangeTable(estate, rte) \
	ExecInitRangeTable(estate, list_make1(rte), NIL, bms_make_singleton(1))
#elif PG_VERSION_NUM >= 160000
#define InitOneRangeTable(estate, rte) ExecInitRangeTable(estate, list_make1(rte), NIL)
#else
#define InitOneRangeTable(estate, rte) ExecInitRangeTable(estate, list_make1(rte))
#endif

#endif							/* CRON_LOCK_COMPAT_H */
