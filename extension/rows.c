/*-------------------------------------------------------------------------
 * rows.c
 *	  One-row reads and writes of cron_lock's tables without the planner,
 *	  the plan cache or SPI: a primary-key probe, a row lock, an insert, an
 *	  update.
 *
 * These are the hot paths of every try, release and heartbeat, where a
 * prepared SPI statement spent most of its time building executor state
 * for one row.  The writes keep everything a one-row INSERT or UPDATE keeps
 * (NOT NULL and CHECK constraints, every index, partial ones included, HOT,
 * row triggers an administrator may have added): they go through the
 * routines logical replication's apply uses for the same job
 * (ExecSimpleRelationInsert/Update), or, to update a table with nothing to
 * enforce but NOT NULL, through the same steps without executor state unless
 * the update needs new index entries.  A probe looks first where this
 * backend last found the row (row_hints.c), then in the primary key.  Like
 * SPI before each statement, a probe first advances the command counter, so
 * it sees this transaction's own earlier writes.  Privileges are not checked
 * here: only the extension's SECURITY DEFINER functions call this.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"
#include "compat.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* OIDs of cron_lock's relations by name, forgotten when any of them changes. */
typedef struct KnownRelid
{
	const char *name;
	Oid			relid;
} KnownRelid;

static KnownRelid known[] = {
	{"leases"}, {"job_runs"}, {"job_runs_run_id_seq"}, {"contention"}, {"anomaly_log"}
};
static bool forget_registered = false;

static void
ForgetRelids(Datum arg, Oid relid)
{
	for (int i = 0; i < lengthof(known); i++)
		if (!OidIsValid(relid) || known[i].relid == relid)
		{
			for (int j = 0; j < lengthof(known); j++)
				known[j].relid = InvalidOid;
			RowHintsForget();
			return;
		}
}

/*
 * CronLockRelid: the OID of relation cron_lock.NAME, looked up once per
 * backend (a DROP or ALTER of it sends the relcache invalidation that makes
 * us look again).
 */
Oid
CronLockRelid(const char *name)
{
	for (int i = 0; i < lengthof(known); i++)
	{
		if (strcmp(known[i].name, name) != 0)
			continue;
		if (!OidIsValid(known[i].relid))
		{
			if (!forget_registered)
			{
				CacheRegisterRelcacheCallback(ForgetRelids, (Datum) 0);
				forget_registered = true;
			}
			known[i].relid = get_relname_relid(name, get_namespace_oid("cron_lock", false));
			if (!OidIsValid(known[i].relid))
				elog(ERROR, "cron_lock: relation cron_lock.%s is missing", name);
		}
		return known[i].relid;
	}
	elog(ERROR, "cron_lock: unknown relation %s", name);
	return InvalidOid;			/* keep the compiler quiet */
}

/*
 * TableUse: open cron_lock.NAME (which must have natts columns) on first use,
 * or take the stronger lock a later use needs.  Locks are held to the end
 * of the transaction, as a statement's are.
 */
void
TableUse(Table *t, const char *name, int natts, LOCKMODE lockmode)
{
	if (t->rel != NULL)
	{
		if (lockmode > t->lockmode)
		{
			LockRelationOid(RelationGetRelid(t->rel), lockmode);
			t->lockmode = lockmode;
		}
		return;
	}
	t->rel = table_open(CronLockRelid(name), lockmode);
	t->lockmode = lockmode;
	t->nblocks = InvalidBlockNumber;
	if (RelationGetDescr(t->rel)->natts != natts)
		elog(ERROR, "cron_lock: cron_lock.%s has an unexpected shape", name);
}

/*
 * The primary keys TableFind probes: one column, the table's first, of type
 * text (compared bytewise: the tables use collation "C") or bigint.
 */
static uint32
KeyHash(Datum key, RegProcedure eq)
{
	if (eq == F_TEXTEQ)
		return hash_bytes((const unsigned char *) VARDATA_ANY(DatumGetPointer(key)),
						  VARSIZE_ANY_EXHDR(DatumGetPointer(key)));
	if (eq == F_INT8EQ)
		return hash_bytes_uint32((uint32) DatumGetInt64(key)) ^
			(uint32) (DatumGetInt64(key) >> 32);
	elog(ERROR, "cron_lock: unexpected key equality function %u", eq);
	return 0;					/* keep the compiler quiet */
}

static bool
KeyEquals(TupleTableSlot *row, Datum key, RegProcedure eq)
{
	bool		isnull;
	Datum		value = slot_getattr(row, 1, &isnull);

	if (isnull)
		return false;
	if (eq == F_INT8EQ)
		return DatumGetInt64(value) == DatumGetInt64(key);
	return VARSIZE_ANY_EXHDR(DatumGetPointer(value)) == VARSIZE_ANY_EXHDR(DatumGetPointer(key)) &&
		memcmp(VARDATA_ANY(DatumGetPointer(value)), VARDATA_ANY(DatumGetPointer(key)),
			   VARSIZE_ANY_EXHDR(DatumGetPointer(key))) == 0;
}

/* The visible version of the row whose HOT chain starts at a hinted tid. */
static bool
FindByHint(Table *t, Datum key, RegProcedure eq, uint32 hash)
{
	ItemPointerData tid;
	IndexFetchTableData *fetch;
	bool		call_again = false;
	bool		all_dead = false;
	bool		found;

	/* Not under SERIALIZABLE: its index probes also lock the index page. */
	if (IsolationIsSerializable() ||
		!RowHintGet(RelationGetRelid(t->rel), hash, &tid))
		return false;

	/*
	 * The table may have been truncated since.  Truncation takes an
	 * AccessExclusiveLock, which our lock on the table has excluded since
	 * TableUse, so its size needs reading once per call.
	 */
	if (t->nblocks == InvalidBlockNumber)
		t->nblocks = RelationGetNumberOfBlocks(t->rel);
	if (ItemPointerGetBlockNumber(&tid) >= t->nblocks)
		return false;
	fetch = table_index_fetch_begin(t->rel);
	found = table_index_fetch_tuple(fetch, &tid, t->snapshot, t->row,
									&call_again, &all_dead);
	table_index_fetch_end(fetch);
	return found && KeyEquals(t->row, key, eq);
}

/* TableHinted: whether this backend knows where the row with key was. */
bool
TableHinted(Table *t, Datum key, RegProcedure eq)
{
	ItemPointerData tid;

	return RowHintGet(RelationGetRelid(t->rel), KeyHash(key, eq), &tid);
}

/*
 * TableFind: the row whose primary key (one column, the table's first)
 * equals key, as a fresh snapshot (READ COMMITTED) or the transaction's
 * (REPEATABLE READ) sees it: where the row was last found if it is still
 * there, else through the index.  The row stays in t->row until the next
 * probe or TableClose.
 */
bool
TableFind(Table *t, Datum key, RegProcedure eq, Oid collation)
{
	uint32		hash = KeyHash(key, eq);
	Relation	index;
	IndexScanDesc scan;
	ItemPointer root;
	ScanKeyData skey;
	bool		found;

	CommandCounterIncrement();
	if (t->snapshot != NULL)
		UnregisterSnapshot(t->snapshot);
	t->snapshot = RegisterSnapshot(GetTransactionSnapshot());
	if (t->row == NULL)
		t->row = table_slot_create(t->rel, NULL);
	if (FindByHint(t, key, eq, hash))
		return true;

	index = index_open(RelationGetPrimaryKeyIndex(t->rel),
					   t->lockmode >= RowExclusiveLock ? RowExclusiveLock : AccessShareLock);
	if (index->rd_index->indnkeyatts != 1 || index->rd_index->indkey.values[0] != 1)
		elog(ERROR, "cron_lock: primary key of %s is not its first column",
			 RelationGetRelationName(t->rel));
	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, eq, key);
	skey.sk_collation = collation;
	scan = index_beginscan(t->rel, index, t->snapshot, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	/* index_getnext_slot, keeping the root of the HOT chain for the hint */
	found = false;
	while (!found && (root = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
	{
		ItemPointerData chain = *root;

		if (index_fetch_heap(scan, t->row))
		{
			RowHintSet(RelationGetRelid(t->rel), hash, &chain);
			found = true;
		}
	}
	index_endscan(scan);
	index_close(index, NoLock);
	return found;
}

/*
 * TableLockRow: lock the row version at tid (read by this call's last probe),
 * as SELECT ... FOR <mode> would in READ COMMITTED: if it was updated since,
 * the newest version is locked.  The locked version is left in t->row.
 * Returns TM_Ok, TM_WouldBlock (wait is LockWaitSkip and another transaction
 * holds a conflicting lock) or TM_Deleted.
 */
TM_Result
TableLockRow(Table *t, ItemPointer tid, LockTupleMode mode, LockWaitPolicy wait)
{
	ItemPointerData target = *tid;
	TM_FailureData tmfd;
	TM_Result	result;

	if (t->row == NULL)
		t->row = table_slot_create(t->rel, NULL);
	if (t->snapshot == NULL)
		t->snapshot = RegisterSnapshot(GetTransactionSnapshot());
	result = table_tuple_lock(t->rel, &target, t->snapshot, t->row,
							  GetCurrentCommandId(true), mode, wait,
							  IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
							  &tmfd);
	switch (result)
	{
		case TM_Ok:
		case TM_WouldBlock:
		case TM_Deleted:
			return result;
		case TM_Updated:
			/* Only without FIND_LAST_VERSION, i.e. REPEATABLE READ or above. */
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent update")));
			break;
		default:
			break;
	}
	elog(ERROR, "cron_lock: unexpected row lock result %d", (int) result);
	return result;				/* keep the compiler quiet */
}

/* The executor state a write needs, made on the table's first write. */
static void
PrepareWrite(Table *t)
{
	RangeTblEntry *rte;

	static uint64 writes_begun = 0;

	if (t->estate != NULL)
		return;
	t->write_order = ++writes_begun;
	if (t->lockmode < RowExclusiveLock)
	{
		LockRelationOid(RelationGetRelid(t->rel), RowExclusiveLock);
		t->lockmode = RowExclusiveLock;
	}
	t->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(t->rel);
	rte->relkind = t->rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	InitOneRangeTable(t->estate, rte);
	t->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(t->rri, t->rel, 1, NULL, 0);
	t->estate->es_opened_result_relations = list_make1(t->rri);
	t->estate->es_output_cid = GetCurrentCommandId(true);
	if (t->rri->ri_TrigDesc != NULL)
		AfterTriggerBeginQuery();
}

/* The indexes, opened only once a write needs them (a HOT update does not). */
static void
OpenIndices(Table *t)
{
	if (t->indices_open)
		return;
	ExecOpenIndices(t->rri, false);
	t->indices_open = true;
}

/*
 * Nothing to enforce beyond NOT NULL and the indexes: no triggers, CHECK
 * constraints or generated columns (the extension creates none).
 */
static bool
IsPlainTable(Relation rel)
{
	TupleConstr *constr = rel->rd_att->constr;

	return rel->trigdesc == NULL && !rel->rd_rel->relispartition &&
		(constr == NULL || (constr->num_check == 0 && !constr->has_generated_stored));
}

static TupleTableSlot *
NewRowSlot(Table *t)
{
	TupleTableSlot *slot = ExecInitExtraTupleSlot(t->estate, RelationGetDescr(t->rel),
												  &TTSOpsVirtual);

	ExecClearTuple(slot);
	return slot;
}

/* A new row with a primary key is the root of its HOT chain: a hint. */
static void
RememberInserted(Table *t, TupleTableSlot *slot)
{
	Oid			type = TupleDescAttr(RelationGetDescr(t->rel), 0)->atttypid;
	bool		isnull;
	Datum		key;

	if (!OidIsValid(RelationGetPrimaryKeyIndex(t->rel)) ||
		!ItemPointerIsValid(&slot->tts_tid) ||
		(type != TEXTOID && type != INT8OID))
		return;
	key = slot_getattr(slot, 1, &isnull);
	if (!isnull)
		RowHintSet(RelationGetRelid(t->rel),
				   KeyHash(key, type == TEXTOID ? F_TEXTEQ : F_INT8EQ),
				   &slot->tts_tid);
}

/* TableInsert: insert one row, given every column. */
void
TableInsert(Table *t, const Datum *values, const bool *nulls)
{
	int			natts = RelationGetDescr(t->rel)->natts;
	TupleTableSlot *slot;

	PrepareWrite(t);
	slot = NewRowSlot(t);
	memcpy(slot->tts_values, values, natts * sizeof(Datum));
	memcpy(slot->tts_isnull, nulls, natts * sizeof(bool));
	ExecStoreVirtualTuple(slot);
	OpenIndices(t);
	ExecSimpleRelationInsert(t->rri, t->estate, slot);
	RememberInserted(t, slot);
}

/*
 * The new version of the row at tid: its columns, with n of them (1-based
 * attnums) set.  The old version is left in *old.  Both slots belong to the
 * table and are reused by its next update.
 */
static TupleTableSlot *
NewVersion(Table *t, ItemPointer tid, int n, const int *attnums,
		   const Datum *values, const bool *nulls, TupleTableSlot **old)
{
	TupleDesc	desc = RelationGetDescr(t->rel);
	TupleTableSlot *slot;

	if (t->old_version == NULL)
	{
		t->old_version = table_slot_create(t->rel, NULL);
		t->new_version = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	}
	*old = t->old_version;
	if (!table_tuple_fetch_row_version(t->rel, tid, SnapshotAny, *old))
		elog(ERROR, "cron_lock: row to update vanished from cron_lock.%s",
			 RelationGetRelationName(t->rel));
	slot_getallattrs(*old);

	slot = t->new_version;
	ExecClearTuple(slot);
	memcpy(slot->tts_values, (*old)->tts_values, desc->natts * sizeof(Datum));
	memcpy(slot->tts_isnull, (*old)->tts_isnull, desc->natts * sizeof(bool));
	for (int i = 0; i < n; i++)
	{
		slot->tts_values[attnums[i] - 1] = values[i];
		slot->tts_isnull[attnums[i] - 1] = nulls[i];
	}
	ExecStoreVirtualTuple(slot);
	/* Own copies: the kept columns point into the old version's page. */
	ExecMaterializeSlot(slot);
	return slot;
}

/* ExecConstraints for a plain table, which has NOT NULL constraints only. */
static void
CheckNotNull(Relation rel, TupleTableSlot *slot)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
		if (TupleDescAttr(desc, i)->attnotnull && slot->tts_isnull[i])
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("null value in column \"%s\" of relation \"%s\" violates not-null constraint",
							NameStr(TupleDescAttr(desc, i)->attname),
							RelationGetRelationName(rel)),
					 errtablecol(rel, i + 1)));
}

/*
 * Update a plain table's row as ExecSimpleRelationUpdate would, without
 * executor state unless the update is not HOT and the indexes need new
 * entries; waits for a concurrent writer.  TM_Ok, or TM_Updated /
 * TM_Deleted if the version at tid is outdated.
 */
static TM_Result
UpdatePlain(Table *t, TupleTableSlot *old, TupleTableSlot *slot)
{
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	UpdateIndexes update_indexes;
	TM_Result	result;

	CheckCmdReplicaIdentity(t->rel, CMD_UPDATE);
	CheckNotNull(t->rel, slot);
	result = table_tuple_update(t->rel, &old->tts_tid, slot,
								GetCurrentCommandId(true), t->snapshot,
								InvalidSnapshot, true, &tmfd, &lockmode,
								&update_indexes);
	if (result == TM_Ok && NeedsNewIndexEntries(update_indexes))
	{
		PrepareWrite(t);
		OpenIndices(t);
		list_free(InsertIndexEntriesAfterUpdate(t->rri, slot, t->estate,
												update_indexes));
	}
	if (result != TM_Ok && result != TM_Updated && result != TM_Deleted)
		elog(ERROR, "cron_lock: unexpected row update result %d", (int) result);
	return result;
}

/*
 * TableUpdate: set n columns (1-based attnums) of the row version at tid,
 * keeping the others.  The caller holds a lock on that row (or on the lease
 * row that guards it), so tid is its newest version.
 */
void
TableUpdate(Table *t, ItemPointer tid, int n, const int *attnums,
			const Datum *values, const bool *nulls)
{
	TupleTableSlot *old;
	TupleTableSlot *slot = NewVersion(t, tid, n, attnums, values, nulls, &old);

	if (!IsPlainTable(t->rel))
	{
		PrepareWrite(t);
		OpenIndices(t);
		ExecSimpleRelationUpdate(t->rri, t->estate, NULL, old, slot);
	}
	else if (UpdatePlain(t, old, slot) != TM_Ok)
		elog(ERROR, "cron_lock: locked row of cron_lock.%s was updated concurrently",
			 RelationGetRelationName(t->rel));
}

/*
 * TableUpdateIfCurrent: TableUpdate on a row version this transaction has
 * not locked, as an UPDATE statement would: it waits for a concurrent
 * writer, and answers false, changing nothing, if that writer committed a
 * newer version (the caller then locks the newest one and decides again).
 * Saves the separate row lock, and its WAL record, in the common case.
 */
bool
TableUpdateIfCurrent(Table *t, ItemPointer tid, int n, const int *attnums,
					 const Datum *values, const bool *nulls)
{
	TupleTableSlot *old;
	TupleTableSlot *slot;

	if (!IsPlainTable(t->rel))
	{
		/* Row triggers run on a locked row (TableUpdate). */
		if (TableLockRow(t, tid, LockTupleNoKeyExclusive, LockWaitBlock) != TM_Ok ||
			!ItemPointerEquals(tid, &t->row->tts_tid))
			return false;
		TableUpdate(t, tid, n, attnums, values, nulls);
		return true;
	}
	slot = NewVersion(t, tid, n, attnums, values, nulls, &old);
	return UpdatePlain(t, old, slot) == TM_Ok;
}

/*
 * TableClose: fire queued AFTER triggers, release everything but the lock.
 * A table never used is left alone.
 */
void
TableClose(Table *t)
{
	if (t->rel == NULL)
		return;
	if (t->estate != NULL)
	{
		if (t->rri->ri_TrigDesc != NULL)
			AfterTriggerEndQuery(t->estate);
		ExecCloseResultRelations(t->estate);
		ExecResetTupleTable(t->estate->es_tupleTable, false);
		FreeExecutorState(t->estate);
	}
	if (t->row != NULL)
		ExecDropSingleTupleTableSlot(t->row);
	if (t->old_version != NULL)
	{
		ExecDropSingleTupleTableSlot(t->old_version);
		ExecDropSingleTupleTableSlot(t->new_version);
	}
	if (t->snapshot != NULL)
		UnregisterSnapshot(t->snapshot);
	table_close(t->rel, NoLock);
	memset(t, 0, sizeof(*t));
}
