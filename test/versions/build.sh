#!/usr/bin/env bash
# test/versions/build.sh DIR: copy the extension and its tests into DIR, build
# cron_lock there against $PG_CONFIG and install it into that PostgreSQL.  A
# scratch copy per major, so majors never share object files.  Prints the
# compiler's warnings, and the whole log if the build fails.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$1
: "${PG_CONFIG:=pg_config}"
# Sources only: the repository may hold objects built for another major.
mkdir -p "$dir/extension" "$dir/test"
cp "$repo"/extension/*.[ch] "$repo"/extension/*.sql "$repo"/extension/*.control "$dir/extension/"
cp -r "$repo/Makefile" "$repo/sql" "$repo/expected" "$repo/sql-edition" "$repo/schema" "$dir/"
cp -r "$repo/test/lib" "$repo/test/isolation" "$repo/test/storm" "$repo/test/versions" "$dir/test/"
rm -rf "$dir/test/isolation/output"
cd "$dir"
# PREFIX: what is not the extension (the SQL edition's files) stays in DIR.
if make -s -j2 PG_CONFIG="$PG_CONFIG" >build.log 2>&1 &&
	make -s PG_CONFIG="$PG_CONFIG" PREFIX="$dir/prefix" install >>build.log 2>&1; then
	grep -i 'warning:' build.log || true
else
	cat build.log
	exit 1
fi
