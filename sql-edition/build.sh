#!/bin/sh
# sql-edition/build.sh OUTDIR VERSION: the plain files of the SQL edition.
#   cron_lock.sql            install or upgrade (idempotent), from src/*.sql in order,
#                            with the parts schema/gen.sh builds from the one description
#                            of the tables (schema/): tables and layout after 10-*, views
#                            after 20-*, shared functions after 50-*
#   cron_lock_uninstall.sql  remove it, keep the history
#   cron_lock_purge.sql      remove it with the history and the roles
#   cron_lock_move_out.sql, cron_lock_move_in.sql  switch to or from the C extension, history kept
set -eu
here=$(cd "$(dirname "$0")" && pwd)
gen=$here/../schema/gen.sh
out=$1
version=$2
mkdir -p "$out"
sh "$gen" edition-sed >"$out/lists.sed"
{
	printf -- '-- cron_lock %s, the plain-SQL edition: install or upgrade as the database owner\n' "$version"
	printf -- '-- (no superuser needed), in one transaction: psql -v ON_ERROR_STOP=1 -1 -f cron_lock.sql\n'
	printf -- '-- The functions go into the current schema (search_path), the data into cron_lock.\n'
	for f in "$here"/src/*.sql; do
		echo
		cat "$f"
		case $(basename "$f") in
		10-*) sh "$gen" edition-tables && sh "$gen" edition-layout ;;
		20-*) sh "$gen" edition-views ;;
		50-*) sh "$gen" edition-functions ;;
		esac
	done
} | sed -f "$out/lists.sed" -e "s/@VERSION@/$version/g" >"$out/cron_lock.sql.tmp"
rm -f "$out/lists.sed"
mv "$out/cron_lock.sql.tmp" "$out/cron_lock.sql"
cp "$here/uninstall.sql" "$out/cron_lock_uninstall.sql"
{ cat "$here/uninstall.sql"; echo; cat "$here/purge.sql"; } >"$out/cron_lock_purge.sql"
cp "$here/move-out.sql" "$out/cron_lock_move_out.sql"
cp "$here/move-in.sql" "$out/cron_lock_move_in.sql"
