#!/bin/sh
# schema/assemble.sh: write extension/cron_lock--1.1--1.2.sql from schema/
# (until the generator of the one table description replaces it).
set -eu
cd "$(dirname "$0")/.."
{
	cat schema/extension-1.2-head.sql
	for f in schema/tables/*.sql schema/functions/*.sql schema/views/*.sql; do
		printf '\n-- ----- %s -----\n' "$f"
		cat "$f"
	done
	cat schema/extension-1.2-tail.sql
	echo
	cat schema/privileges-1.2.sql
} >extension/cron_lock--1.1--1.2.sql
