#!/usr/bin/env bash
# test/demo/incident.sh: `make run`.  The incident of shared/spec, played out
# loud with the real cronlock command against a throwaway cluster (or the
# database in $CRONLOCK_DB): duplicate runners, a database blip, a lost lease,
# and the evidence.  Cleans up after itself.  DEMO_PAUSE=0 to run it fast.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/test/lib/cluster.sh"
cronlock=${CRONLOCK_BIN:-$repo/build/client/cronlock}
pause_s=${DEMO_PAUSE:-1}

bold=$'\e[1m'
dim=$'\e[2m'
off=$'\e[0m'
[ -t 1 ] || { bold= dim= off=; }

act() {
	sleep "$pause_s"
	printf '\n%s== %s%s\n' "$bold" "$*" "$off"
}
say() { printf '%s%s%s\n' "$dim" "$*" "$off"; }
shown() {
	printf '%s$ %s%s\n' "$dim" "$*" "$off"
	"$@"
}

dir=
cleanup() {
	[ -n "$dir" ] && cluster_stop "$dir" immediate && rm -rf "$dir"
	return 0
}
trap cleanup EXIT

own_cluster=
if [ -n "${CRONLOCK_DB:-}" ]; then
	db=$CRONLOCK_DB
	say "Using the database in \$CRONLOCK_DB."
else
	dir=$(mktemp -d /tmp/cronlock-demo.XXXXXX)
	chmod 755 "$dir"
	cluster_create "$dir" >/dev/null && cluster_start "$dir" || exit 1
	db="host=$dir port=$(cat "$dir/port") dbname=postgres user=postgres"
	own_cluster=1
	say "Started a throwaway PostgreSQL cluster in $dir."
fi
psql -qX -d "$db" -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION IF NOT EXISTS cron_lock' || exit 1
export CRONLOCK_DB=$db
status=0

act "1. Three runners fire the same job at the same minute"
say "Autoscaling left three cron workers alive. Each runs: cronlock run --job nightly-report -- ..."
codes=()
pids=()
for host in web-1 web-2 web-3; do
	"$cronlock" run --log-to stderr --job nightly-report --instance "$host" --ttl 10s -- \
		sh -c 'echo "   [$CRONLOCK_INSTANCE] building the report under token $CRONLOCK_TOKEN"; sleep 2' &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p"
	codes+=($?)
done
say "Exit statuses: ${codes[*]}. One ran ([CRON_RUN]); the others skipped ([CRON_SKIP] reason=BUSY); nobody crashed."
[ "${codes[*]}" = "0 0 0" ] || status=1

act "2. The database goes away"
if [ -n "$own_cluster" ]; then
	say "Stopping the cluster: every connection attempt is now refused."
	cluster_stop "$dir" fast
	"$cronlock" run --log-to stderr --job nightly-report --instance web-1 --retries 3 --connect-timeout 1s -- \
		echo "never printed"
	code=$?
	say "Exit status $code: retried with backoff, then logged [CRON_SKIP] reason=DB_UNAVAILABLE instead of a stack trace."
	[ $code = 0 ] || status=1
	say "The database comes back; the next tick runs normally."
	cluster_start "$dir" || exit 1
else
	port=$(free_port)
	say "Pointing at a port nobody listens on (127.0.0.1:$port)."
	CRONLOCK_DB="host=127.0.0.1 port=$port dbname=postgres" "$cronlock" run --log-to stderr --job nightly-report \
		--instance web-1 --retries 3 --connect-timeout 1s -- echo "never printed"
	code=$?
	say "Exit status $code: retried with backoff, then skipped."
	[ $code = 0 ] || status=1
fi
"$cronlock" run --log-to stderr --job nightly-report --instance web-1 -- echo "   [web-1] report built"
[ $? = 0 ] || status=1

act "3. A holder loses its lease mid-run"
say "web-2 starts a long import with a 6 s lease, renewed every 2 s ..."
"$cronlock" run --log-to stderr --job long-import --instance web-2 --ttl 6s -- \
	sh -c 'echo "   [web-2] importing under token $CRONLOCK_TOKEN"; sleep 60' &
holder=$!
for _ in $(seq 50); do
	[ "$(psql -qAtX -d "$db" -c "SELECT state FROM cron_lock.status WHERE job = 'long-import'")" = held ] && break
	sleep 0.1
done
say "... and an operator force-releases it (as if it had been declared dead):"
shown "$cronlock" release --job long-import --force
wait "$holder"
code=$?
say "Exit status $code: the next heartbeat answered 'lease gone', the import was stopped ([CRON_LOST]), exit 75."
[ $code = 75 ] || status=1

act "4. The evidence"
shown "$cronlock" status
shown "$cronlock" runs --limit 8
shown "$cronlock" duplicates
say "Two or more instances competed for nightly-report: duplicate runners, proven in one call."

echo
[ $status = 0 ] && echo "Demo finished: every outcome was as described." ||
	echo "Demo finished, but some outcome differed from the description above (see the exit statuses)."
exit $status
