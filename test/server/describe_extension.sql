-- test/server/describe_extension.sql: a canonical text description of every
-- object of the cron_lock extension in the current database, one sorted line
-- per fact ("key|n|value"), free of OIDs, so that two databases can be
-- compared with diff.  Used by upgrade_harness.sh.
--
-- Covered: the extension row, members (pg_describe_object), configuration
-- tables and their filters, function definitions (pg_get_functiondef) with
-- owner and ACL, aggregates, relations (kind, persistence, owner, ACL,
-- options, RLS), columns in order (type, collation, NOT NULL, default,
-- identity, generated, ACL), constraints, indexes, triggers, policies, rules,
-- view definitions, sequences and their owning column, schemas, types,
-- comments, and pg_init_privs (the initial privileges pg_dump relies on).
-- ACLs are normalised (NULL = the default ACL, items sorted).
\set ON_ERROR_STOP 1
SET search_path = pg_catalog;
SET client_min_messages = warning;

CREATE FUNCTION pg_temp.acl(acl aclitem[], kind "char", owner oid)
RETURNS text LANGUAGE sql STABLE
AS $$
	SELECT pg_catalog.array_agg(a::text ORDER BY a::text COLLATE "C")::text
	  FROM pg_catalog.unnest(coalesce(acl, CASE WHEN kind IS NULL THEN NULL
												ELSE pg_catalog.acldefault(kind, owner) END)) a
$$;

WITH ext AS (
	SELECT e.oid AS extoid, e.* FROM pg_extension e WHERE e.extname = 'cron_lock'
), mem AS (
	SELECT d.classid, d.objid, d.objsubid
	  FROM pg_depend d JOIN ext ON d.refobjid = ext.extoid
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
), rels AS (
	SELECT c.oid AS reloid, c.*, c.oid::regclass::text AS rname
	  FROM pg_class c JOIN mem ON mem.classid = 'pg_class'::regclass AND mem.objid = c.oid
), procs AS (
	SELECT p.oid AS prooid, p.*, p.oid::regprocedure::text AS pname
	  FROM pg_proc p JOIN mem ON mem.classid = 'pg_proc'::regclass AND mem.objid = p.oid
), types AS (
	SELECT t.oid AS typoid, t.*, t.oid::regtype::text AS tname
	  FROM pg_type t JOIN mem ON mem.classid = 'pg_type'::regclass AND mem.objid = t.oid
), lines(k, n, v) AS (
	SELECT 'extension', 0::bigint,
		   format('%s version=%s relocatable=%s schema=%s owner=%s',
				  extname, extversion, extrelocatable, extnamespace::regnamespace, extowner::regrole)
	  FROM ext
	UNION ALL
	SELECT 'member ' || pg_describe_object(classid, objid, objsubid), 0, '' FROM mem
	UNION ALL
	SELECT 'member-class ' || classid::regclass::text, 0,
		   CASE WHEN classid IN ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_type'::regclass,
								 'pg_namespace'::regclass)
				THEN 'described' ELSE 'compared by name only' END
	  FROM mem GROUP BY classid
	UNION ALL
	SELECT 'config ' || u.cfg::regclass::text, 0, 'filter=' || coalesce(u.cond, '')
	  FROM ext, unnest(ext.extconfig, ext.extcondition) AS u(cfg, cond)
	-- functions
	UNION ALL
	SELECT 'function ' || p.pname, l.n, l.v
	  FROM procs p,
		   LATERAL regexp_split_to_table(
			   CASE WHEN p.prokind = 'a' THEN '(aggregate)' ELSE pg_get_functiondef(p.prooid) END,
			   E'\n') WITH ORDINALITY AS l(v, n)
	UNION ALL
	SELECT 'function ' || p.pname, 1000,
		   format('owner=%s acl=%s', p.proowner::regrole, pg_temp.acl(p.proacl, 'f', p.proowner))
	  FROM procs p
	UNION ALL
	SELECT 'function ' || p.pname, 1001,
		   format('aggregate kind=%s trans=%s final=%s combine=%s stype=%s init=%s sortop=%s',
				  a.aggkind, a.aggtransfn, a.aggfinalfn, a.aggcombinefn,
				  format_type(a.aggtranstype, NULL), a.agginitval, a.aggsortop::regoperator)
	  FROM procs p JOIN pg_aggregate a ON a.aggfnoid = p.prooid
	-- relations
	UNION ALL
	SELECT 'relation ' || c.rname, 0,
		   format('kind=%s persistence=%s owner=%s acl=%s options=%s rls=%s force_rls=%s replident=%s',
				  c.relkind, c.relpersistence, c.relowner::regrole,
				  pg_temp.acl(c.relacl, (CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::"char", c.relowner),
				  c.reloptions, c.relrowsecurity, c.relforcerowsecurity, c.relreplident)
	  FROM rels c
	UNION ALL
	SELECT 'relation ' || c.rname,
		   100 + row_number() OVER (PARTITION BY c.reloid ORDER BY a.attnum),
		   format('column %I %s collate=%s notnull=%s default=%s identity=%s generated=%s acl=%s options=%s',
				  a.attname, format_type(a.atttypid, a.atttypmod),
				  CASE WHEN co.oid IS NOT NULL THEN format('%I.%I', co.collnamespace::regnamespace, co.collname) END,
				  a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
				  pg_temp.acl(a.attacl, NULL, NULL),
				  -- this server build keeps a per-column "pg_attver" stamp in
				  -- attoptions that differs between identical tables: not a setting
				  (SELECT array_agg(o ORDER BY o) FROM unnest(a.attoptions) o WHERE o NOT LIKE 'pg\_attver=%'))
	  FROM rels c
	  JOIN pg_attribute a ON a.attrelid = c.reloid AND a.attnum > 0 AND NOT a.attisdropped
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.reloid AND ad.adnum = a.attnum
	  LEFT JOIN pg_collation co ON co.oid = a.attcollation
	 WHERE c.relkind <> 'S'
	UNION ALL
	SELECT 'relation ' || c.rname, 1000,
		   format('constraint %I type=%s %s validated=%s', co.conname, co.contype,
				  pg_get_constraintdef(co.oid), co.convalidated)
	  FROM rels c JOIN pg_constraint co ON co.conrelid = c.reloid
	UNION ALL
	SELECT 'relation ' || c.rname, 2000,
		   format('index %s clustered=%s replident=%s valid=%s', pg_get_indexdef(i.indexrelid),
				  i.indisclustered, i.indisreplident, i.indisvalid)
	  FROM rels c JOIN pg_index i ON i.indrelid = c.reloid
	UNION ALL
	SELECT 'relation ' || c.rname, 3000,
		   format('trigger %s enabled=%s', pg_get_triggerdef(t.oid), t.tgenabled)
	  FROM rels c JOIN pg_trigger t ON t.tgrelid = c.reloid AND NOT t.tgisinternal
	UNION ALL
	SELECT 'relation ' || c.rname, 4000,
		   format('policy %I cmd=%s permissive=%s roles=%s using=%s check=%s', po.polname, po.polcmd,
				  po.polpermissive,
				  (SELECT array_agg(CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END ORDER BY 1)
					 FROM unnest(po.polroles) r),
				  pg_get_expr(po.polqual, po.polrelid), pg_get_expr(po.polwithcheck, po.polrelid))
	  FROM rels c JOIN pg_policy po ON po.polrelid = c.reloid
	UNION ALL
	SELECT 'relation ' || c.rname, 5000, 'rule ' || pg_get_ruledef(r.oid)
	  FROM rels c JOIN pg_rewrite r ON r.ev_class = c.reloid AND r.rulename <> '_RETURN'
	UNION ALL
	SELECT 'relation ' || c.rname, 6000 + l.n, 'view ' || l.v
	  FROM rels c,
		   LATERAL regexp_split_to_table(pg_get_viewdef(c.reloid), E'\n') WITH ORDINALITY AS l(v, n)
	 WHERE c.relkind IN ('v', 'm')
	UNION ALL
	SELECT 'relation ' || c.rname, 7000,
		   format('sequence type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s',
				  format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
				  s.seqcache, s.seqcycle)
	  FROM rels c JOIN pg_sequence s ON s.seqrelid = c.reloid
	UNION ALL
	SELECT 'relation ' || c.rname, 7001,
		   format('owned by %s (%s)', pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid), d.deptype)
	  FROM rels c JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.reloid
									AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
	 WHERE c.relkind = 'S'
	-- schemas
	UNION ALL
	SELECT 'schema ' || quote_ident(s.nspname), 0,
		   format('owner=%s acl=%s', s.nspowner::regrole, pg_temp.acl(s.nspacl, 'n', s.nspowner))
	  FROM pg_namespace s JOIN mem ON mem.classid = 'pg_namespace'::regclass AND mem.objid = s.oid
	-- types
	UNION ALL
	SELECT 'type ' || t.tname, 0,
		   format('typtype=%s base=%s notnull=%s default=%s collation=%s owner=%s acl=%s',
				  t.typtype, CASE WHEN t.typbasetype <> 0 THEN format_type(t.typbasetype, t.typtypmod) END,
				  t.typnotnull, t.typdefault, t.typcollation::regcollation, t.typowner::regrole,
				  pg_temp.acl(t.typacl, 'T', t.typowner))
	  FROM types t
	UNION ALL
	SELECT 'type ' || t.tname, 100 + row_number() OVER (PARTITION BY t.typoid ORDER BY e.enumsortorder),
		   'label ' || e.enumlabel
	  FROM types t JOIN pg_enum e ON e.enumtypid = t.typoid
	UNION ALL
	SELECT 'type ' || t.tname, 1000,
		   format('constraint %I %s', co.conname, pg_get_constraintdef(co.oid))
	  FROM types t JOIN pg_constraint co ON co.contypid = t.typoid
	UNION ALL
	SELECT 'type ' || t.tname, 2000 + row_number() OVER (PARTITION BY t.typoid ORDER BY a.attnum),
		   format('attribute %I %s collate=%s', a.attname, format_type(a.atttypid, a.atttypmod),
				  CASE WHEN a.attcollation <> 0 THEN a.attcollation::regcollation::text END)
	  FROM types t JOIN pg_attribute a ON a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
	-- comments on members, their columns, and the indexes and constraints of member tables
	UNION ALL
	SELECT 'comment ' || pg_describe_object(d.classoid, d.objoid, d.objsubid), 0, d.description
	  FROM pg_description d
	 WHERE (d.classoid, d.objoid) IN (SELECT classid, objid FROM mem)
		OR (d.classoid = 'pg_class'::regclass
			AND d.objoid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT reloid FROM rels)))
		OR (d.classoid = 'pg_constraint'::regclass
			AND d.objoid IN (SELECT oid FROM pg_constraint WHERE conrelid IN (SELECT reloid FROM rels)))
	-- initial privileges recorded by CREATE/ALTER EXTENSION (what pg_dump compares against)
	UNION ALL
	SELECT 'initprivs ' || pg_describe_object(ip.classoid, ip.objoid, ip.objsubid), 0,
		   ip.privtype::text || ' ' || pg_temp.acl(ip.initprivs, NULL, NULL)
	  FROM pg_init_privs ip
	 WHERE (ip.classoid, ip.objoid) IN (SELECT classid, objid FROM mem)
)
SELECT k, n, v FROM lines ORDER BY k COLLATE "C", n, v COLLATE "C";
