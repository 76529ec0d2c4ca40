#!/usr/bin/env bash
# test/packages/completion_test.sh CRONLOCK [COMPLETION]: the bash completion
# (client/cronlock.bash) offers exactly the subcommands `CRONLOCK --help` lists
# and, per subcommand, exactly the options `CRONLOCK SUB --help` names, so the
# two cannot drift; plus --log-format's values and COMMAND after run's options.
# Ends with "N passed, N failed".
set -u
bin=${1:?usage: completion_test.sh path/to/cronlock [completion file]}
repo=$(cd "$(dirname "$0")/../.." && pwd)
file=${2:-$repo/client/cronlock.bash}
start=$SECONDS
passed=0 failed=0
# shellcheck source=/dev/null
source "$file"

# complete WORD...: what the completion offers for the last WORD (sorted, one line).
complete_words() {
	COMP_WORDS=(cronlock "$@")
	COMP_CWORD=$#
	COMPREPLY=()
	_cronlock
	[ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}" | sort -u | tr '\n' ' '
}
# The options a help text names: in its usage lines, and at the start of its
# option lines (not in prose or in an option's explanation).
help_options() {
	sed -nE -e '/^(Usage: |       cronlock )/p' \
		-e 's/^ +((-[a-zA-Z], )?--[a-z][a-z-]*).*/\1/p' | grep -oE -- '(^|[][ ,|/])--?[a-zA-Z][a-z-]*' | sed 's/^[][ ,|/]//' |
		grep -E -- '^(--[a-z][a-z-]*[a-z]|-[a-zA-Z])$' | sort -u | tr '\n' ' '
}
check() { # NAME GOT WANT
	if [ "$2" = "$3" ]; then
		passed=$((passed + 1))
		echo "ok   $1"
	else
		failed=$((failed + 1))
		echo "FAIL $1"
		echo "     completion: $2"
		echo "     help:       $3"
	fi
}

subs=$("$bin" --help | sed -n '/^Subcommands:/,/^$/p' | grep -oE '(^  |/ )[a-z]+' |
	sed 's/^[ /]*//' | sort -u | tr '\n' ' ')
[ -n "$subs" ] || { echo "FAIL no subcommands in $bin --help"; echo "0 passed, 1 failed"; exit 1; }
check "subcommands" "$(complete_words '')" "$subs"
check "top-level options" "$(complete_words -)" "$("$bin" --help | sed -n '/^Options:/,/^$/p' | help_options)"
for sub in $subs; do
	check "$sub options" "$(complete_words "$sub" -)" "$("$bin" "$sub" --help | help_options)"
done
formats=$("$bin" run --help | grep -E '^ +--log-format' | grep -oE 'logfmt|json' | sort -u | tr '\n' ' ')
check "--log-format values" "$(complete_words run --job x --log-format '')" "$formats"
check "--log-format=VALUE" "$(complete_words run --log-format = j)" "json "
check "run: COMMAND's words are not ours" \
	"$(complete_words run --job x --ttl 30s -- true --j)" ""
check "run: a command after --" "$(complete_words run --job x -- bas | grep -o 'bash ')" "bash "

echo "# completion: $((SECONDS - start))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
