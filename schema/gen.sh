#!/bin/sh
# schema/gen.sh WHAT: build one edition's part from the one description of
# cron_lock's schema (schema/README.md).  Output on stdout.
#   edition-tables     the tables, for the plain-SQL edition
#   edition-views      the views (after the functions: they call some)
#   edition-functions  the shared functions (@extschema@ dropped: current schema)
#   edition-sed        a sed script for the edition's table lists (@OWN_...@)
#   extension-upgrade FROM TO   extension/cron_lock--FROM--TO.sql
#   c-header           extension/layout.h, the layout tables.c checks
#   facts              what the parser read (one fact a line), for debugging
# Lines ending in "-- edition-only" are left out of the extension's script,
# those ending in "-- extension-only" out of the edition's.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
what=${1:?usage: gen.sh WHAT}

# The files of one part, in name order.
part() { ls "$here/$1"/*.sql 2>/dev/null | LC_ALL=C sort; }

# Every fact of the tables, one a line, tab-separated:
#   table NAME EVERY_CALL        (EVERY_CALL: 1 when "-- @every-call")
#   column TABLE NAME TYPE COLLATION NOTNULL SINCE   (SINCE: 0, or the minor
#                                version that added it: "-- 1.N:" above its ADD COLUMN)
#   key TABLE PRIMARY INDEXNAME COL[,COL...]
#   check TABLE NAME
#   sequence NAME
facts() {
	part tables | xargs awk '
	function fail(msg) { printf "gen.sh: %s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"; bad = 1; exit 1 }
	function column(t, line, since,   w, name, type, coll, nn) {
		split(line, w, /[ \t]+/)
		name = w[1]; type = w[2]
		if (type !~ /^(text|bigint|integer|smallint|boolean|uuid|timestamptz|inet|interval|jsonb|text\[\])$/)
			fail("unknown column type \"" type "\" (gen.sh knows text, bigint, integer, smallint, boolean, uuid, timestamptz, inet, interval, jsonb, text[])")
		coll = (line ~ /COLLATE "C"/) ? "C" : (type ~ /^text/ ? "default" : "-")
		nn = (line ~ /NOT NULL|PRIMARY KEY/) ? 1 : 0
		printf "column\t%s\t%s\t%s\t%s\t%d\t%d\n", t, name, type, coll, nn, since
		if (line ~ /PRIMARY KEY/) printf "key\t%s\t1\t%s_pkey\t%s\n", t, t, name
		if (line ~ /CHECK \(/) printf "check\t%s\t%s_%s_check\n", t, t, name
	}
	FNR == 1 { every = 0; table = ""; since = 0 }
	/^-- 1\.[0-9]+:/ { since = substr($2, 3) + 0 }
	/^-- @every-call/ { every = 1; next }
	/^--/ { next }
	/^CREATE SEQUENCE IF NOT EXISTS / { s = $6; sub(/;$/, "", s); printf "sequence\t%s\n", s; next }
	/^CREATE TABLE IF NOT EXISTS cron_lock\./ {
		if (table != "") fail("one table per file")
		table = $6; sub(/^cron_lock\./, "", table)
		printf "table\t%s\t%d\n", table, every
		intable = 1; next
	}
	intable && /^\)/ { intable = 0; next }
	intable {
		line = $0
		sub(/--.*/, "", line); sub(/^[ \t]+/, "", line); sub(/[ \t,]+$/, "", line)
		if (line == "") next
		if (line ~ /^CONSTRAINT [a-z_0-9]+ UNIQUE \(/) {
			cols = line; sub(/.*\(/, "", cols); sub(/\).*/, "", cols); gsub(/ /, "", cols)
			split(line, w, " ")
			printf "key\t%s\t0\t%s\t%s\n", table, w[2], cols; next
		}
		if (line ~ /^(CONSTRAINT|PRIMARY|UNIQUE|CHECK|EXCLUDE|FOREIGN)/)
			fail("write table constraints as CONSTRAINT name UNIQUE (...), or a column PRIMARY KEY")
		column(table, line, 0); next
	}
	/^ALTER TABLE cron_lock\.[a-z_0-9]+ ADD COLUMN IF NOT EXISTS / {
		t = $3; sub(/^cron_lock\./, "", t)
		if (t != table) fail("ADD COLUMN of another file'"'"'s table")
		if (!since) fail("ADD COLUMN without a \"-- 1.N: ...\" comment above it (the version that added it)")
		line = $0; sub(/.*ADD COLUMN IF NOT EXISTS /, "", line); sub(/;.*/, "", line)
		column(t, line, since); next
	}
	'
}

# A part's files, each with a line naming it, less the other edition's lines.
emit() { # PART DROP-MARKER
	for f in $(part "$1"); do
		printf '\n-- schema/%s/%s\n' "$1" "$(basename "$f")"
		grep -v -e "-- $2\$" "$f" || true
	done
}

case $what in
facts) facts ;;
edition-tables) emit tables extension-only ;;
edition-views) emit views extension-only | sed 's/@extschema@\.//g' ;;
edition-functions) emit functions extension-only | sed 's/@extschema@\.//g' ;;
edition-sed)
	# The tables the edition locks and checks (use_tables, refuse_foreign_objects;
	# locked ONLY, without a look for children: the check refuses any),
	# their own unique indexes and their own CHECK constraints; the blocks this
	# transaction read of every one but leases and contention (commit_lazily).
	facts | awk -F'\t' '
	$1 == "table" { order[++n] = $2; every[$2] = $3 }
	$1 == "check" { checks = checks csep sprintf("(%ccron_lock.%s%c::regclass, %c%s%c)", 39, $2, 39, 39, $3, 39); csep = ", " }
	$1 == "key" { keys[$2] = keys[$2] " " $4 }
	END {
		for (i = 1; i <= n; i++) {
			t = order[i]
			list = list sep "ONLY cron_lock." t
			if (every[t]) calls = calls sep "ONLY cron_lock." t
			rels = rels sep sprintf("%ccron_lock.%s%c::regclass", 39, t, 39)
			if (t != "contention" && t != "leases") {
				reads = reads rsep sprintf("pg_catalog.pg_stat_get_xact_blocks_fetched(%ccron_lock.%s%c::regclass)", 39, t, 39)
				rsep = " + "
			}
			m = split(keys[t], k, " ")
			for (j = 1; j <= m; j++) {
				idx = idx isep sprintf("%ccron_lock.%s%c::regclass", 39, k[j], 39)
				isep = ", "; nkeys++
			}
			sep = ", "
		}
		printf "s/@OWN_TABLE_LIST@/%s/g\n", list
		printf "s/@EVERY_CALL_TABLE_LIST@/%s/g\n", calls
		printf "s/@OWN_TABLES@/%s/g\n", rels
		printf "s/@OWN_UNIQUE_INDEXES@/%s/g\n", idx
		printf "s/@OWN_CHECKS@/%s/g\n", checks
		printf "s/@OWN_BLOCKS_READ_BUT_LEASES_CONTENTION@/%s/g\n", reads
	}'
	;;
extension-upgrade)
	from=${2:?FROM}
	to=${3:?TO}
	printf '/* extension/cron_lock--%s--%s.sql: from %s to %s, generated by schema/gen.sh\n' "$from" "$to" "$from" "$to"
	printf ' * from the description in schema/ (do not edit; see schema/README.md).  A\n'
	printf ' * fresh install of %s runs the older scripts and then this one, so both\n' "$to"
	printf ' * paths give the same objects (test/server/upgrade_harness.sh checks it). */\n\n'
	printf '\\echo Use "ALTER EXTENSION cron_lock UPDATE TO '"'%s'"'" to load this file. \\quit\n' "$to"
	for f in $(part tables); do
		printf '\n-- schema/tables/%s\n' "$(basename "$f")"
		grep -v -e '-- edition-only$' "$f" || true
		# Kept by pg_dump, so that history, run ids and tokens continue after a restore.
		facts_of=$(sed -n 's/^CREATE \(TABLE\|SEQUENCE\) IF NOT EXISTS \(cron_lock\.[a-z_0-9]*\).*/\2/p' "$f")
		for o in $facts_of; do
			printf "SELECT pg_catalog.pg_extension_config_dump('%s', '');\n" "$o"
		done
	done
	emit functions edition-only
	emit views edition-only
	;;
c-header)
	facts | awk -F'\t' '
	BEGIN {
		split("text TEXTOID bigint INT8OID integer INT4OID smallint INT2OID boolean BOOLOID uuid UUIDOID timestamptz TIMESTAMPTZOID inet INETOID interval INTERVALOID jsonb JSONBOID text[] TEXTARRAYOID", tm, " ")
		for (i = 1; i < 22; i += 2) oid[tm[i]] = tm[i + 1]
	}
	$1 == "table" { order[++n] = $2; every[$2] = $3 }
	$1 == "column" {
		cols[$2] = cols[$2] sprintf("\t{\"%s\", %s, %s, %s, %s},\n", $3, oid[$4],
			$5 == "C" ? "C_COLLATION_OID" : $5 == "default" ? "DEFAULT_COLLATION_OID" : "InvalidOid",
			$6 ? "true" : "false", $7)
	}
	$1 == "key" {
		nk[$2]++
		m = split($5, c, ",")
		if (m > 3 || nk[$2] > 2) { print "gen.sh: tables.c takes at most 2 unique keys of 3 columns" > "/dev/stderr"; exit 1 }
		s = ""
		for (j = 1; j <= m; j++) s = s (j > 1 ? ", " : "") "\"" c[j] "\""
		keys[$2] = keys[$2] (nk[$2] > 1 ? ", " : "") sprintf("{{%s}, %s}", s, $3 ? "true" : "false")
	}
	$1 == "check" {
		if ($2 in check) { print "gen.sh: tables.c takes one CHECK per table" > "/dev/stderr"; exit 1 }
		check[$2] = $3
	}
	END {
		print "/*"
		print " * extension/layout.h: the tables of cron_lock as schema/tables/ describes"
		print " * them, for tables.c.  Generated by schema/gen.sh: do not edit."
		print " */"
		for (i = 1; i <= n; i++) {
			t = order[i]
			printf "static const Column %s_columns[] = {\n%s\t{NULL}\n};\n\n", t, cols[t]
		}
		print "/* Checked on every call first (leases first: cron_lock_check uses it alone), then on demand. */"
		print "static OwnTable own[] = {"
		for (pass = 1; pass >= 0; pass--)
			for (i = 1; i <= n; i++) {
				t = order[i]
				if (every[t] != pass) continue
				printf "\t{\"%s\", %s_columns, {%s}, %s},\n", t, t, (t in keys) ? keys[t] : "{{NULL}}",
					(t in check) ? "\"" check[t] "\"" : "NULL"
				if (pass) nevery++
			}
		print "};"
		printf "\n#define TABLES_EVERY_CALL %d\n", nevery
	}'
	;;
*)
	echo "gen.sh: unknown part \"$what\"" >&2
	exit 2
	;;
esac
