/*-------------------------------------------------------------------------
 * tables.c
 *	  cron_lock's tables belong to the extension: their layout is checked
 *	  before the functions use them, and whatever would run someone else's
 *	  code or change what a write does is refused.
 *
 * The functions are SECURITY DEFINER and make promises (never wait, one
 * statement, tokens never reissued) that a trigger, rule, CHECK or exclusion
 * constraint, generated column or row security policy on these tables
 * could break, or use to run code as the extension's owner.  So any of
 * them, and any unique index but the extension's own (a unique insert may
 * wait for a concurrent inserter; on leases it would also turn renewals
 * into key updates), make every call fail with 55000 naming the object.
 * Columns (names, types, collations, NOT NULL) must be the extension's.
 * Plain indexes an administrator adds are fine.
 * The layout comes from the one description of the tables (schema/tables/,
 * compiled into layout.h by schema/gen.sh).  Tables not every call uses
 * (token_epoch, jobs, the contention counters...) are checked the same way
 * when a function is about to use them; token_epoch's CHECK (id) is the
 * extension's own and the only one allowed.
 *
 * The check runs under the lock the call keeps on each table until its
 * transaction ends (every DDL that could add such an object waits for that
 * lock), once per backend and again after every relcache invalidation of
 * the table: a long-lived pooled backend sees later DDL.
 *-------------------------------------------------------------------------
 */
#include "cron_lock.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_rewrite.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "storage/lmgr.h"
#include "utils/syscache.h"

/* A column as the description (schema/tables/) makes it. */
typedef struct Column
{
	const char *name;
	Oid			type;
	Oid			collation;		/* of text columns; InvalidOid otherwise */
	bool		notnull;
	int			since;			/* 0; N: added by 1.N (absent until ALTER EXTENSION UPDATE) */
} Column;

/* The unique indexes a table must have, and may have: key columns, in order. */
typedef struct UniqueKey
{
	const char *columns[3];
	bool		primary;
} UniqueKey;

typedef struct OwnTable
{
	const char *name;
	const Column *columns;
	UniqueKey	keys[2];		/* terminated by one without columns */
	const char *own_check;		/* the extension's own CHECK constraint */
	Oid			relid;			/* InvalidOid until looked up */
	bool		checked;		/* layout verified since the last invalidation */
	int			level;			/* columns present up to those of 1.<level> (Column.since) */
} OwnTable;

/*
 * own[]: every table, generated from schema/tables/ by schema/gen.sh.  The
 * first TABLES_EVERY_CALL are used by every call (leases, then job_runs);
 * the others are checked when a function is about to use them.
 */
#include "layout.h"

#define LEASES 0
#define JOB_RUNS 1

static Oid	run_id_sequence = InvalidOid;
static bool callback_registered = false;

/*
 * A relcache invalidation of one of our tables (or of every relation):
 * check it again before the next use.  Any invalidation also forgets the
 * OIDs, since the extension may have been dropped and created again.
 */
static void
ForgetTables(Datum arg, Oid relid)
{
	for (int i = 0; i < lengthof(own); i++)
		if (!OidIsValid(relid) || own[i].relid == relid)
		{
			for (int j = 0; j < lengthof(own); j++)
			{
				own[j].relid = InvalidOid;
				own[j].checked = false;
			}
			run_id_sequence = InvalidOid;
			return;
		}
}

/* Raise 55000 about an object that must go, with the statement that removes it. */
static void
Refuse(Relation rel, const char *what, const char *removal)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s on table cron_lock.%s is not supported",
					what, RelationGetRelationName(rel)),
			 errdetail("cron_lock's tables belong to the extension: its functions refuse to run while a trigger, rule, CHECK or exclusion constraint, extra unique index, generated column or row security is attached to them."),
			 errhint("Remove it (%s). To follow changes to leases and runs, read the views in schema cron_lock or use logical decoding.",
					 removal)));
}

/* Raise 55000 about a column or key that is not what the extension made. */
static void
RefuseLayout(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg_internal("%s", what),
			 errdetail("cron_lock's functions read and write their tables as the extension's scripts define them."),
			 errhint("Restore the table's definition. If the extension's files were just upgraded, run ALTER EXTENSION cron_lock UPDATE.")));
}

static const char *
Qualified(Relation rel)
{
	return quote_qualified_identifier("cron_lock", RelationGetRelationName(rel));
}

/*
 * Columns: exactly the expected ones, with their types; nothing generated.
 * The columns a later version added may be missing (an older layout, until
 * ALTER EXTENSION cron_lock UPDATE); returns the version (Column.since)
 * up to which all are there.
 */
static int
CheckColumns(Relation rel, const Column *columns)
{
	int			level = INT_MAX;	/* all there: the newest layout */

	TupleDesc	desc = RelationGetDescr(rel);
	int			expected = 0;
	int			present = 0;

	for (const Column *c = columns; c->name != NULL; c++)
	{
		AttrNumber	attnum = InvalidAttrNumber;
		Form_pg_attribute att;

		expected++;
		for (int i = 0; i < desc->natts; i++)
			if (!TupleDescAttr(desc, i)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(desc, i)->attname), c->name) == 0)
				attnum = i + 1;
		if (attnum == InvalidAttrNumber && c->since > 0)
		{
			level = Min(level, c->since - 1);
			expected--;
			continue;
		}
		if (attnum == InvalidAttrNumber)
			RefuseLayout(psprintf("column \"%s\" of table %s is missing",
								  c->name, Qualified(rel)));
		att = TupleDescAttr(desc, attnum - 1);
		if (att->attgenerated != '\0')
			Refuse(rel, psprintf("generated column \"%s\"", c->name),
				   psprintf("ALTER TABLE %s ALTER COLUMN %s DROP EXPRESSION",
							Qualified(rel), quote_identifier(c->name)));
		if (att->atttypid != c->type || att->atttypmod != -1 ||
			(OidIsValid(c->collation) && att->attcollation != c->collation))
			RefuseLayout(psprintf("column \"%s\" of table %s has type %s, expected %s%s",
								  c->name, Qualified(rel),
								  format_type_with_typemod(att->atttypid, att->atttypmod),
								  format_type_be(c->type),
								  c->collation == C_COLLATION_OID ? " COLLATE \"C\"" : ""));
		if (att->attnotnull != c->notnull)
			RefuseLayout(psprintf("column \"%s\" of table %s %s", c->name, Qualified(rel),
								  c->notnull ? "allows NULL, expected NOT NULL" :
								  "is NOT NULL, expected to allow NULL"));
		if (att->attidentity != '\0')
			RefuseLayout(psprintf("column \"%s\" of table %s is an identity column",
								  c->name, Qualified(rel)));
	}
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		present++;
		if (att->attgenerated != '\0')
			Refuse(rel, psprintf("generated column \"%s\"", NameStr(att->attname)),
				   psprintf("ALTER TABLE %s DROP COLUMN %s", Qualified(rel),
							quote_identifier(NameStr(att->attname))));
	}
	if (present != expected)
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);
			bool		known = false;

			for (const Column *c = columns; c->name != NULL; c++)
				known |= strcmp(NameStr(att->attname), c->name) == 0;
			if (!att->attisdropped && !known)
				RefuseLayout(psprintf("table %s has an unexpected column \"%s\"",
									  Qualified(rel), NameStr(att->attname)));
		}
	return level;
}

/* Whether a unique index has exactly the key columns of key, and no more. */
static bool
IsKey(Relation rel, Form_pg_index index, bool has_exprs, bool has_pred,
	  const UniqueKey *key)
{
	int			n = 0;

	while (n < lengthof(key->columns) && key->columns[n] != NULL)
		n++;
	if (n == 0 || has_exprs || has_pred || !index->indimmediate ||
		index->indisprimary != key->primary || index->indnatts != n)
		return false;
	for (int i = 0; i < n; i++)
	{
		AttrNumber	attnum = index->indkey.values[i];

		if (attnum <= 0 ||
			strcmp(NameStr(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attname),
				   key->columns[i]) != 0)
			return false;
	}
	return true;
}

/* Indexes: no exclusion constraint; exactly the extension's unique keys. */
static void
CheckIndexes(Relation rel, const UniqueKey *keys)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	int			nkeys = 0;
	bool		found[2] = {false, false};

	while (nkeys < 2 && keys[nkeys].columns[0] != NULL)
		nkeys++;
	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
		Form_pg_index index;
		char	   *name = get_rel_name(indexoid);
		bool		ours = false;

		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for index %u", indexoid);
		index = (Form_pg_index) GETSTRUCT(tuple);
		if (index->indisexclusion)
			Refuse(rel, psprintf("exclusion constraint \"%s\"", name),
				   psprintf("ALTER TABLE %s DROP CONSTRAINT %s", Qualified(rel),
							quote_identifier(name)));
		if (index->indisunique)
		{
			bool		has_exprs = !heap_attisnull(tuple, Anum_pg_index_indexprs, NULL);
			bool		has_pred = !heap_attisnull(tuple, Anum_pg_index_indpred, NULL);

			/* Each key once: a second copy is an extra unique index. */
			for (int k = 0; k < nkeys && !ours; k++)
				if (!found[k] && IsKey(rel, index, has_exprs, has_pred, &keys[k]))
					ours = found[k] = true;
			if (!ours)
				Refuse(rel, psprintf("unique index \"%s\"", name),
					   psprintf("DROP INDEX cron_lock.%s, or ALTER TABLE %s DROP CONSTRAINT %s if a constraint made it",
								quote_identifier(name), Qualified(rel),
								quote_identifier(name)));
		}
		ReleaseSysCache(tuple);
	}
	for (int k = 0; k < nkeys; k++)
		if (!found[k])
			RefuseLayout(psprintf("table %s has lost its %s on (%s%s%s)",
								  Qualified(rel),
								  keys[k].primary ? "primary key" : "unique constraint",
								  keys[k].columns[0],
								  keys[k].columns[1] ? ", " : "",
								  keys[k].columns[1] ? keys[k].columns[1] : ""));
	list_free(indexes);
}

/* The name of the first row of a catalog whose index key 1 is relid. */
static char *
FirstRowName(Oid catalog, Oid index, AttrNumber relid_col, AttrNumber name_col,
			 Oid relid)
{
	Relation	cat = table_open(catalog, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *name = NULL;

	ScanKeyInit(&key, relid_col, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(cat, index, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		value = heap_getattr(tuple, name_col, RelationGetDescr(cat), &isnull);

		name = pstrdup(NameStr(*DatumGetName(value)));
	}
	systable_endscan(scan);
	table_close(cat, AccessShareLock);
	return name;
}

/* Triggers (a foreign key's included), rules, CHECKs, row security. */
static void
CheckAttached(Relation rel, const char *own_check)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	char	   *policy;

	if (rel->trigdesc != NULL && rel->trigdesc->numtriggers > 0)
	{
		Trigger    *tg = &rel->trigdesc->triggers[0];
		HeapTuple	con = OidIsValid(tg->tgconstraint) ?
			SearchSysCache1(CONSTROID, ObjectIdGetDatum(tg->tgconstraint)) : NULL;

		if (HeapTupleIsValid(con))
		{
			Form_pg_constraint c = (Form_pg_constraint) GETSTRUCT(con);
			char	   *table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(c->conrelid)),
														   get_rel_name(c->conrelid));

			Refuse(rel, psprintf("trigger of constraint \"%s\" of table %s",
								 NameStr(c->conname), table),
				   psprintf("ALTER TABLE %s DROP CONSTRAINT %s", table,
							quote_identifier(NameStr(c->conname))));
		}
		Refuse(rel, psprintf("trigger \"%s\"", tg->tgname),
			   psprintf("DROP TRIGGER %s ON %s", quote_identifier(tg->tgname),
						Qualified(rel)));
	}
	/* relhasrules outlives the last rule: look at the rules themselves. */
	if (rel->rd_rules != NULL && rel->rd_rules->numLocks > 0)
	{
		char	   *rule = FirstRowName(RewriteRelationId, RewriteRelRulenameIndexId,
										Anum_pg_rewrite_ev_class,
										Anum_pg_rewrite_rulename,
										RelationGetRelid(rel));

		if (rule != NULL)
			Refuse(rel, psprintf("rule \"%s\"", rule),
				   psprintf("DROP RULE %s ON %s", quote_identifier(rule),
							Qualified(rel)));
	}
	for (int i = 0; constr != NULL && i < constr->num_check; i++)
	{
		if (own_check != NULL && strcmp(constr->check[i].ccname, own_check) == 0)
			continue;
		Refuse(rel, psprintf("CHECK constraint \"%s\"", constr->check[i].ccname),
			   psprintf("ALTER TABLE %s DROP CONSTRAINT %s", Qualified(rel),
						quote_identifier(constr->check[i].ccname)));
	}
	if (rel->rd_rel->relrowsecurity || rel->rd_rel->relforcerowsecurity)
		Refuse(rel, "row security",
			   psprintf("ALTER TABLE %s NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY",
						Qualified(rel)));
	policy = FirstRowName(PolicyRelationId, PolicyPolrelidPolnameIndexId,
						  Anum_pg_policy_polrelid, Anum_pg_policy_polname,
						  RelationGetRelid(rel));
	if (policy != NULL)
		Refuse(rel, psprintf("row security policy \"%s\"", policy),
			   psprintf("DROP POLICY %s ON %s", quote_identifier(policy),
						Qualified(rel)));
	if (rel->rd_rel->relispartition || rel->rd_rel->relkind != RELKIND_RELATION)
		RefuseLayout(psprintf("table %s is a partition", Qualified(rel)));
}

/*
 * Lock one table (lockmode, held to the end of the transaction, as a
 * statement's lock is) and check it if it changed since it was last
 * checked.  Raises 55000 when something must be removed or the layout is
 * not the extension's; elog when the table is missing.
 */
static void
UseTable(OwnTable *t, LOCKMODE lockmode)
{
	Oid			relid = t->relid;
	Relation	rel;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(ForgetTables, (Datum) 0);
		callback_registered = true;
	}
	if (OidIsValid(relid))
	{
		/* Taking a lock not yet held applies pending invalidations. */
		LockRelationOid(relid, lockmode);
		if (t->checked && t->relid == relid)
			return;
	}
	/* First use, or changed since: look it up (again), lock and check. */
	relid = get_relname_relid(t->name, get_namespace_oid("cron_lock", false));
	if (!OidIsValid(relid))
		elog(ERROR, "cron_lock: relation cron_lock.%s is missing", t->name);
	LockRelationOid(relid, lockmode);
	rel = table_open(relid, NoLock);
	t->level = CheckColumns(rel, t->columns);
	CheckIndexes(rel, t->keys);
	CheckAttached(rel, t->own_check);
	table_close(rel, NoLock);
	/* Holds while the lock is held, and after it until the table changes. */
	t->relid = relid;
	t->checked = true;
}

/*
 * TablesUse: lock and check each of the tables every call uses.
 * leases_only: cron_lock_check, which reads the lease row and nothing else.
 */
void
TablesUse(LOCKMODE lockmode, bool leases_only)
{
	for (int i = 0; i < (leases_only ? 1 : TABLES_EVERY_CALL); i++)
		UseTable(&own[i], lockmode);
}

/*
 * TablesUseOnDemand: lock one of the other tables as an UPDATE does and
 * check it as TablesUse checks the others, before it is read or written.
 * False, locking nothing, when the table does not exist (the extension's
 * SQL objects are of a version older than the table).
 */
bool
TablesUseOnDemand(const char *name)
{
	for (int i = TABLES_EVERY_CALL; i < lengthof(own); i++)
		if (strcmp(own[i].name, name) == 0)
		{
			if (!OidIsValid(own[i].relid) &&
				!OidIsValid(get_relname_relid(name, get_namespace_oid("cron_lock", false))))
				return false;
			UseTable(&own[i], RowExclusiveLock);
			return true;
		}
	elog(ERROR, "cron_lock: no table \"%s\" in the description", name);
	return false;				/* keep compiler quiet */
}

/*
 * TablesUseAll: lock and check every table of the description that exists
 * (TablesUse, then TablesUseOnDemand of each other one), for the functions
 * written in PL/pgSQL (schema/functions/) that read or write them as the
 * extension's owner (cron_lock.refuse_foreign_objects()).
 */
void
TablesUseAll(void)
{
	TablesUse(RowExclusiveLock, false);
	for (int i = TABLES_EVERY_CALL; i < lengthof(own); i++)
		(void) TablesUseOnDemand(own[i].name);
}

/*
 * TablesUseTokenEpoch: TablesUseOnDemand of cron_lock.token_epoch (the
 * caller has seen that the table exists).
 */
void
TablesUseTokenEpoch(void)
{
	if (!TablesUseOnDemand("token_epoch"))
		elog(ERROR, "cron_lock: relation cron_lock.token_epoch is missing");
}

/*
 * TablesUseJobs: the same for cron_lock.jobs (1.2's layout only: the
 * caller has seen that the table exists).
 */
void
TablesUseJobs(void)
{
	if (!TablesUseOnDemand("jobs"))
		elog(ERROR, "cron_lock: relation cron_lock.jobs is missing");
}

/*
 * TablesRunIdSequence: the OID of cron_lock.job_runs_run_id_seq, looked up
 * again after any change to the tables (the extension may have been dropped
 * and created again).
 */
Oid
TablesRunIdSequence(void)
{
	if (!OidIsValid(run_id_sequence))
	{
		run_id_sequence = get_relname_relid("job_runs_run_id_seq",
											get_namespace_oid("cron_lock", false));
		if (!OidIsValid(run_id_sequence))
			elog(ERROR, "cron_lock: sequence cron_lock.job_runs_run_id_seq is missing");
	}
	return run_id_sequence;
}

/*
 * TablesHaveRoles: whether leases (and, unless leases_only, job_runs) have
 * the role column of 1.1.  Valid after TablesUse in the same call.
 */
bool
TablesHaveRoles(bool leases_only)
{
	return own[LEASES].level >= 1 && (leases_only || own[JOB_RUNS].level >= 1);
}

/*
 * TablesHavePause: whether leases has 1.2's paused_until column (and so
 * cron_lock.jobs exists).  Valid after TablesUse in the same call.
 */
bool
TablesHavePause(void)
{
	return own[LEASES].level >= 2;
}
