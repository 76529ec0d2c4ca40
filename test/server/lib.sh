# test/server/lib.sh: shared helpers for the server-side tests (dump/restore,
# crash recovery, standby, upgrade harness).  Source it from a test script.
#
#   ok NAME / fail NAME WHY      count a result (printed as "ok"/"FAIL")
#   check_eq NAME WANT GOT       ok when equal, else fail showing both
#   check_true NAME SQLBOOL...   ok when the text is "t"
#   check_same NAME FILE1 FILE2  ok when identical, else fail with the diff
#   check_state NAME SQLSTATE [PATTERN]  after sql_error: ok when the error
#                                had that SQLSTATE (and the text matches)
#   wait_for SECS WHAT CMD...    poll CMD every 0.1 s until it succeeds
#   new_cluster NAME [CONF...]   initdb + start a throwaway cluster in $ROOT/NAME
#   q DIR DB SQL                 run SQL as postgres, print unaligned tuples
#   q_as ROLE DIR DB SQL         the same as ROLE
#   q_script DIR DB <SQL         a whole script from stdin
#   sql_error DIR DB SQL [ROLE]  run SQL expecting an error; sets ERR_STATE
#                                (00000 when none) and ERR_TEXT (verbose stderr)
#   summary                      print "N passed, N failed"; exit 1 if any failed
#
# Clusters, background processes and $ROOT are removed on exit (KEEP=1 keeps
# the directory for a post-mortem).  Nothing here reads the caller's PG*
# environment: every connection names its socket directory and port.

set -uo pipefail

SERVER_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SERVER_TEST_DIR/../.." && pwd)
# shellcheck source=../lib/cluster.sh
source "$REPO/test/lib/cluster.sh"

unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD \
	PGTARGETSESSIONATTRS PGAPPNAME 2>/dev/null || true
export PGTZ=UTC PGCONNECT_TIMEOUT=10

PASSED=0
FAILED=0
CLUSTERS=()
BG_PIDS=()
ROOT=$(mktemp -d "/tmp/cron_lock_srv.XXXXXX")
chmod 755 "$ROOT"

cleanup() {
	local p d
	for p in "${BG_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	for d in "${CLUSTERS[@]}"; do
		cluster_stop "$d" immediate
	done
	if [ "${KEEP:-0}" = 1 ]; then
		echo "# kept $ROOT" >&2
	else
		rm -rf "$ROOT"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() {
	PASSED=$((PASSED + 1))
	echo "ok   $1"
}

fail() {
	FAILED=$((FAILED + 1))
	echo "FAIL $1"
	shift
	[ $# -gt 0 ] && printf '%s\n' "$*" | sed 's/^/     | /'
	return 0
}

check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		fail "$1" "want: $2" "got:  $3"
	fi
}

check_true() {
	local name=$1
	shift
	if [ "$*" = t ]; then ok "$name"; else fail "$name" "expected t, got: $*"; fi
}

check_same() {
	local d
	if d=$(diff -u "$2" "$3"); then
		ok "$1"
	else
		fail "$1" "$(printf '%s\n' "$d" | head -n 80)"
	fi
}

check_state() {
	local name=$1 want=$2 pat=${3:-}
	if [ "$ERR_STATE" != "$want" ]; then
		fail "$name" "want SQLSTATE $want, got $ERR_STATE" "$ERR_TEXT"
	elif [ -n "$pat" ] && ! grep -Eq -- "$pat" <<<"$ERR_TEXT"; then
		fail "$name" "SQLSTATE $want but the error does not match /$pat/" "$ERR_TEXT"
	else
		ok "$name"
	fi
}

wait_for() {
	local secs=$1 what=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			echo "# timed out after ${secs}s waiting for: $what" >&2
			return 1
		fi
		sleep 0.1
	done
}

new_cluster() { # NAME [postgresql.conf LINE...]
	local dir=$ROOT/$1
	shift
	cluster_create "$dir" "$(free_port)" || return 1
	CLUSTERS+=("$dir")
	[ $# -gt 0 ] && printf '%s\n' "$@" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
	cluster_start "$dir"
}

# Pipe a script to psql (one statement per transaction unless it says BEGIN).
q_script() { # DIR DB < SQL
	local dir=$1 db=$2
	# shellcheck disable=SC2046
	psql $(psql_args "$dir") -U postgres -d "$db"
}

port_of() { cat "$1/port"; }

psql_args() {
	echo "-X -q -A -t -v ON_ERROR_STOP=1 -h $1 -p $(port_of "$1")"
}

q() {
	local dir=$1 db=$2
	shift 2
	# shellcheck disable=SC2046
	psql $(psql_args "$dir") -U postgres -d "$db" -c "$*"
}

q_as() {
	local role=$1 dir=$2 db=$3
	shift 3
	# shellcheck disable=SC2046
	psql $(psql_args "$dir") -U "$role" -d "$db" -c "$*"
}

sql_error() {
	local dir=$1 db=$2 sql=$3 role=${4:-postgres} out
	# shellcheck disable=SC2046
	out=$(printf '\\set VERBOSITY verbose\n%s;\n\\echo SQLSTATE=:LAST_ERROR_SQLSTATE\n' "$sql" |
		psql -X -q -A -t -h "$dir" -p "$(port_of "$dir")" -U "$role" -d "$db" 2>"$ROOT/.err")
	ERR_TEXT=$(cat "$ROOT/.err")
	ERR_STATE=$(sed -n 's/^SQLSTATE=//p' <<<"$out")
	[ -n "$ERR_STATE" ] || ERR_STATE="(no answer)"
}

# The pid of a cluster's postmaster, from its pid file.
postmaster_pid() { head -n 1 "$1/data/postmaster.pid" 2>/dev/null; }

summary() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ] || exit 1
	exit 0
}
