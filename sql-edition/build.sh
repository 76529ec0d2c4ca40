#!/bin/sh
# sql-edition/build.sh OUTDIR VERSION: the plain files of the SQL edition.
#   cron_lock.sql            install or upgrade (idempotent), from src/*.sql in order,
#                            with the parts schema/gen.sh builds from the one description
#                            of the tables (schema/): tables after 10-*, shared
#                            functions and then views after 20-*
#   cron_lock_uninstall.sql  remove it, keep the history
#   cron_lock_purge.sql      remove it with the history and the roles
#   cron_lock_move_out.sql, cron_lock_move_in.sql  switch to or from the C extension, history kept
# The SQL API's signatures and privileges come from functions.list alone.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
gen=$here/../schema/gen.sh
out=$1
version=$2
mkdir -p "$out"
sh "$gen" edition-sed >"$out/lists.sed"

# api_list ROLE PREFIX: the list's signatures (ROLE: user, admin or all),
# one a line, each after PREFIX, separated by commas.
api_list() {
	awk -F'\t' -v role="$1" -v prefix="$2" '
		/^#/ || NF < 2 { next }
		role == "all" || $2 == role { if (n++) printf ",\n"; printf "%s%s", prefix, $1 }
		END { printf "\n" }' "$here/functions.list"
}
# expand FILE: FILE with its placeholder lines replaced.
expand() {
	privileges=$(
		printf 'REVOKE ALL ON FUNCTION\n%s\nFROM PUBLIC;\n\n' "$(api_list all '	')"
		printf 'GRANT EXECUTE ON FUNCTION\n%s\nTO cron_lock_user, cron_lock_admin;\n\n' "$(api_list user '	')"
		printf 'GRANT EXECUTE ON FUNCTION\n%s\nTO cron_lock_admin;\n' "$(api_list admin '	')"
	)
	drops=$(api_list all '		%1$I.')
	PRIVILEGES=$privileges DROPS=$drops awk '
		$0 == "-- @API_PRIVILEGES@" { print ENVIRON["PRIVILEGES"]; next }
		$0 == "-- @API_FUNCTIONS@" { print ENVIRON["DROPS"]; next }
		{ print }' "$1"
}
{
	printf -- '-- cron_lock %s, the plain-SQL edition: install or upgrade as the database owner\n' "$version"
	printf -- '-- (no superuser needed), in one transaction: psql -v ON_ERROR_STOP=1 -1 -f cron_lock.sql\n'
	printf -- '-- The functions go into the current schema (search_path), the data into cron_lock.\n'
	# The one description (schema/) goes in after the edition's own part of
	# each kind: tables, functions, views, privileges.
	for f in "$here"/src/*.sql; do
		echo
		expand "$f"
		case $(basename "$f") in
		10-*) sh "$gen" edition-tables ;;
		20-*) sh "$gen" edition-functions && sh "$gen" edition-views ;;
		esac
	done
} | sed -f "$out/lists.sed" -e "s/@VERSION@/$version/g" >"$out/cron_lock.sql.tmp"
rm -f "$out/lists.sed"
mv "$out/cron_lock.sql.tmp" "$out/cron_lock.sql"
expand "$here/uninstall.sql" >"$out/cron_lock_uninstall.sql"
{ cat "$out/cron_lock_uninstall.sql"; echo; cat "$here/purge.sql"; } >"$out/cron_lock_purge.sql"
cp "$here/move-out.sql" "$out/cron_lock_move_out.sql"
cp "$here/move-in.sql" "$out/cron_lock_move_in.sql"
