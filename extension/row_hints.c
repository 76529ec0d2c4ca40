/*-------------------------------------------------------------------------
 * row_hints.c
 *	  Where each row of cron_lock's tables was last found: the root of its
 *	  HOT chain, by table and primary-key hash.
 *
 * A lease row is read by its job on every try and release, and a run row by
 * its run_id at release; both stay where they are through HOT updates, so a
 * remembered location saves the B-tree descent.  A hint is only a guess: a
 * caller must find a visible row with the same key there, and ask the index
 * otherwise (the row moved, was vacuumed away, or the slot was reused).
 * Per backend, fixed size, direct-mapped; collisions just miss.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#define ROW_HINTS 4096			/* a power of two */

typedef struct RowHint
{
	Oid			relid;
	uint32		hash;
	ItemPointerData tid;
} RowHint;

static RowHint hints[ROW_HINTS];

static RowHint *
Slot(Oid relid, uint32 hash)
{
	return &hints[(hash ^ relid) & (ROW_HINTS - 1)];
}

/* RowHintGet: the remembered location of a row, if any. */
bool
RowHintGet(Oid relid, uint32 hash, ItemPointer tid)
{
	RowHint    *h = Slot(relid, hash);

	if (h->relid != relid || h->hash != hash || !ItemPointerIsValid(&h->tid))
		return false;
	*tid = h->tid;
	return true;
}

/* RowHintSet: remember where a row was found (or inserted). */
void
RowHintSet(Oid relid, uint32 hash, ItemPointer tid)
{
	RowHint    *h = Slot(relid, hash);

	h->relid = relid;
	h->hash = hash;
	h->tid = *tid;
}

/* RowHintsForget: drop every hint (the tables were dropped or rewritten). */
void
RowHintsForget(void)
{
	memset(hints, 0, sizeof(hints));
}
