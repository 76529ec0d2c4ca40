#!/usr/bin/env bash
# test/versions/pg_upgrade.sh: pg_upgrade 15 -> 17 with cron_lock installed and
# a history.  pg_upgrade needs both majors in one root: trixie's, with
# bookworm's postgresql-15 beside its 17 (chroot.sh pins bookworm low there).
# Every run, lease and anomaly survives; tokens and run ids go on.
source "$(dirname "$0")/../server/lib.sh"
source "$REPO/test/versions/lib.sh"

if [ "${1:-}" != --in-root ]; then
	exec "$REPO/test/versions/chroot.sh" trixie postgresql-17 postgresql-server-dev-17 \
		postgresql-15/bookworm postgresql-server-dev-15/bookworm -- "$REPO/test/versions/pg_upgrade.sh" --in-root
fi

echo "# pg_upgrade 15 -> 17"
b15=/usr/lib/postgresql/15/bin b17=/usr/lib/postgresql/17/bin
for b in $b15 $b17; do
	PG_CONFIG=$b/pg_config "$REPO/test/versions/build.sh" "$ROOT/build$(basename "$(dirname "$b")")" >/dev/null ||
		{ fail "build for $b"; summary; }
done
export PATH=$b17:$PATH PG_BINDIR=$b17

PG_BINDIR=$b15 new_cluster old || exit 1
make_history "$(port_of "$ROOT/old")" src || summary
canon "$(port_of "$ROOT/old")" src >"$ROOT/old.txt"
tokens=$(last_tokens "$(port_of "$ROOT/old")" src)
PG_BINDIR=$b15 cluster_stop "$ROOT/old"

PG_BINDIR=$b17 cluster_create "$ROOT/new" || exit 1
CLUSTERS+=("$ROOT/new")
mkdir -p "$ROOT/work" && chown postgres: "$ROOT/work"
if (cd "$ROOT/work" && as_pg "$b17/pg_upgrade" -b $b15 -B $b17 -d "$ROOT/old/data" -D "$ROOT/new/data" \
	-p "$(free_port)" -P "$(free_port)" -s "$ROOT/work" >"$ROOT/work/out.log" 2>&1); then
	ok "pg_upgrade from 15 to 17"
else
	fail "pg_upgrade from 15 to 17" "$(tail -n 30 "$ROOT/work/out.log")"
	summary
fi
PG_BINDIR=$b17 cluster_start "$ROOT/new" || exit 1
new=$(port_of "$ROOT/new")
check_eq "the upgraded cluster runs 17 with cron_lock" "17|t" \
	"$(qt "$new" src "SELECT current_setting('server_version_num')::int / 10000, EXISTS (SELECT FROM pg_extension WHERE extname = 'cron_lock')" | tr -d '\n')"
canon "$new" src >"$ROOT/new.txt"
check_same "runs, leases, anomalies, contention, status and run id sequence equal the old" \
	"$ROOT/old.txt" "$ROOT/new.txt"
check_tokens_go_on "after pg_upgrade" "$new" src "$tokens"
summary
