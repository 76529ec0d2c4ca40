#!/bin/sh
# test/client/cli_test.sh CRONLOCK: the command's Unix basics, no server needed
# (usage errors, help, version, and an unreachable database on a refused loopback port).
# Ends with "N passed, N failed"; exit status 0 only when nothing failed.
set -u
bin=${1:?usage: cli_test.sh path/to/cronlock}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

# check NAME EXPECTED_STATUS STDOUT_PATTERN STDERR_PATTERN -- ARGS...
# Patterns are grep -E expressions; "^$" means "must be empty", "" means "anything".
check() {
	name=$1 want=$2 out_re=$3 err_re=$4
	shift 5
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	ok=1
	[ "$got" = "$want" ] || ok=0
	if [ "$out_re" = "^$" ]; then [ ! -s "$tmp/out" ] || ok=0
	elif [ -n "$out_re" ]; then grep -Eq -- "$out_re" "$tmp/out" || ok=0; fi
	if [ "$err_re" = "^$" ]; then [ ! -s "$tmp/err" ] || ok=0
	elif [ -n "$err_re" ]; then grep -Eq -- "$err_re" "$tmp/err" || ok=0; fi
	if [ $ok = 1 ]; then
		passed=$((passed + 1))
		echo "ok   $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name: status $got (want $want)"
		sed 's/^/     out: /' "$tmp/out" | head -5
		sed 's/^/     err: /' "$tmp/err" | head -5
	fi
}

check "--help to stdout, exit 0" 0 '^Usage: cronlock' '^$' -- --help
check "-h" 0 '^Usage: cronlock' '^$' -- -h
check "help run" 0 'cronlock run --job NAME' '^$' -- help run
check "run --help" 0 '--on-unavailable' '^$' -- run --help
check "status --help" 0 'cronlock status' '^$' -- status --help
check "--version" 0 '^cronlock [0-9]+\.[0-9]+\.[0-9]+$' '^$' -- --version
check "no arguments: usage, 64" 64 '^$' 'no subcommand' --
check "unknown subcommand" 64 '^$' "unknown subcommand 'frob'" -- frob
check "unknown option" 64 '^$' "unknown option '--bogus'" -- run --bogus --job j -- true
check "missing --job" 64 '^$' 'needs --job' -- run -- true
check "missing COMMAND" 64 '^$' 'needs a COMMAND' -- run --job j
check "option without value" 64 '^$' 'needs a value' -- run --job
check "duration garbage abc" 64 '^$' "invalid duration 'abc'" -- run --job j --ttl abc -- true
check "duration -1" 64 '^$' "invalid duration '-1'" -- run --job j --ttl -1 -- true
check "duration 1e309" 64 '^$' "invalid duration '1e309'" -- run --job j --ttl 1e309 -- true
check "duration 20 digits" 64 '^$' 'invalid duration' -- run --job j --ttl 12345678901234567890 -- true
check "ttl below 3s" 64 '^$' 'at least 3s' -- run --job j --ttl 2s -- true
check "on-busy out of range" 64 '^$' 'from 0 to 255' -- run --job j --on-busy 300 -- true
check "job with control character" 64 '^$' 'control' -- run --job "$(printf 'a\tb')" -- true
check "release without --force" 64 '^$' 'add --force' -- release --job j
check "status with extra word" 64 '^$' "unexpected argument" -- status extra
check "bad --log-format" 64 '^$' 'logfmt or json' -- run --job j --log-format xml -- true
check "install --help" 0 'cronlock install \[--schema S\]' '^$' -- install --help
check "uninstall --help" 0 'cronlock uninstall \[--purge\]' '^$' -- uninstall --help
check "--help lists install" 0 '^  install \[--schema S\]' '^$' -- --help
check "install --purge: usage" 64 '^$' "unknown option '--purge' for install" -- install --purge
check "uninstall --schema: usage" 64 '^$' "unknown option '--schema' for uninstall" -- uninstall --schema s
check "install --schema cron_lock: usage" 64 '^$' 'holds the tables' -- install --schema cron_lock
check "install --schema '': usage" 64 '^$' '1 to 63 bytes' -- install --schema ''

# Loopback port 1: refused at once. Retries 1 with a short backoff keeps this fast.
down="host=127.0.0.1 port=1 user=nobody dbname=nothing password=NotPrinted"
check "refused: skip, --on-unavailable" 9 '^$' 'reason=DB_UNAVAILABLE' -- \
	run --db "$down" --job j --retries 1 --backoff 10ms --jitter 0 --on-unavailable 9 -- true
check "refused: error_class" 0 '^$' 'error_class=connection_refused' -- \
	run --db "$down" --job j --retries 0 -- true
check "refused: command never runs" 0 '^$' '' -- \
	run --db "$down" --job j --retries 0 -- sh -c "echo ran >$tmp/ran"
if [ -e "$tmp/ran" ]; then failed=$((failed + 1)); echo "FAIL command ran without a lease"; fi
check "refused: quiet keeps the skip only" 0 '^$' '^\[CRON_SKIP\]' -- \
	run -q --db "$down" --job j --retries 0 -- true
check "json log lines" 0 '^$' '^\{"tag":"CRON_BOOT"' -- \
	run --log-format json --db "$down" --job j --retries 0 -- true
check "unreachable status: 69" 69 '^$' 'connection_refused' -- status --db "$down"
check "unreachable install: 69" 69 '^$' 'connection_refused' -- install --db "$down"
check "unreachable uninstall: 69" 69 '^$' 'connection_refused' -- uninstall --db "$down" --purge
check "unreachable health: 69" 69 '^$' 'connection_refused' -- health --db "$down"
check "unreachable metrics: 69, nothing written" 69 '^$' 'connection_refused' -- \
	metrics --db "$down" --textfile "$tmp/m.prom"
[ -e "$tmp/m.prom" ] && { failed=$((failed + 1)); echo "FAIL metrics wrote a file without data"; }
check "health --help" 0 '^Usage: cronlock health' '^$' -- health --help
check "help timeline" 0 '^Usage: cronlock timeline' '^$' -- help timeline
check "pause without --job: usage" 64 '^$' 'pause needs --job' -- pause
check "timeline without --html: usage" 64 '^$' 'needs --html' -- timeline
check "expect --every with --schedule: usage" 64 '^$' 'exclude each other' -- \
	expect --job j --every 5m --schedule '* * * * *'
check "bad conninfo: 78" 78 '^$' 'invalid connection string' -- status --db "password=NotPrinted nonsense"
"$bin" run --log-to stderr --db "$down" --job j --retries 0 -- true 2>"$tmp/err"
"$bin" doctor --db "$down" >>"$tmp/err" 2>&1
"$bin" status --db "password=NotPrinted nonsense" >>"$tmp/err" 2>&1
if grep -q NotPrinted "$tmp/err"; then
	failed=$((failed + 1)); echo "FAIL a password was printed:"; grep NotPrinted "$tmp/err"
else
	passed=$((passed + 1)); echo "ok   passwords never printed"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
