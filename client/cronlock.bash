# bash completion for cronlock(1): subcommands, each one's options, the values of
# --log-format and --log-to, files and commands where they go.  Installed as
# share/bash-completion/completions/cronlock; test/client/completion_test.sh
# keeps the words in step with `cronlock SUBCOMMAND --help`.

# _cronlock_options SUBCOMMAND: the options SUBCOMMAND takes.
_cronlock_options()
{
	local conn='--db --connect-timeout --timeout -h --help'
	case $1 in
	run)
		echo --db --connect-timeout --preflight-timeout --job --ttl --instance --min-gap \
			--stagger --grace --retries --backoff --jitter --on-busy --on-unavailable \
			--log-format --log-to -q --quiet --max-runtime --warn-after-skips --alert-after \
			--notify --every --schedule --late-after --metrics-dir -h --help
		;;
	status | doctor) echo $conn --json ;;
	runs) echo $conn --json --job --status --limit ;;
	health) echo $conn --json -q --quiet ;;
	anomalies) echo $conn --json --since --job ;;
	pause) echo $conn --json --job --until --reason ;;
	resume) echo $conn --json --job ;;
	expect)
		echo $conn --json --job --all-jobs --instances --every --schedule --late-after \
			--timezone --clear
		;;
	metrics) echo $conn --textfile ;;
	timeline) echo $conn --html --since --limit ;;
	duplicates) echo $conn --json --since ;;
	release) echo $conn --json --job --force --token ;;
	install) echo $conn --schema ;;
	uninstall) echo $conn --purge ;;
	esac
}

_cronlock()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local subcommands='run status runs health anomalies pause resume expect metrics
		timeline duplicates doctor release install uninstall'
	local flags='--json --force --purge --quiet -q --help -h --clear --all-jobs'
	local i sub= word
	COMPREPLY=()
	# --opt=value: bash splits at '=' (COMP_WORDBREAKS).
	if [ "$prev" = = ] && [ "$COMP_CWORD" -ge 2 ]; then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	fi
	[ "$cur" = = ] && cur=

	if [ "$COMP_CWORD" -eq 1 ]; then
		case $cur in
		-*) COMPREPLY=($(compgen -W '-h --help -V --version' -- "$cur")) ;;
		*) COMPREPLY=($(compgen -W "$subcommands" -- "$cur")) ;;
		esac
		return 0
	fi
	sub=${COMP_WORDS[1]}

	# run: the first word that is neither an option nor an option's value, or
	# the word after --, is COMMAND; from there on, COMMAND's own words.
	if [ "$sub" = run ]; then
		i=2
		while [ $i -lt "$COMP_CWORD" ]; do
			word=${COMP_WORDS[i]}
			if [ "$word" = -- ] && [ $((i + 1)) -eq "$COMP_CWORD" ]; then
				COMPREPLY=($(compgen -c -- "$cur"))
				return 0
			elif [ "$word" = -- ] || [[ $word != -* ]]; then
				COMPREPLY=($(compgen -f -- "$cur"))
				return 0
			elif [[ " $flags " == *" $word "* ]]; then
				i=$((i + 1))
			elif [ "${COMP_WORDS[i + 1]:-}" = = ]; then
				i=$((i + 3)) # --opt = value
			else
				i=$((i + 2))
			fi
		done
		if [ "$COMP_CWORD" -gt 2 ] && [[ $cur != -* ]] && { [[ $prev != -* ]] || [[ " $flags " == *" $prev "* ]]; }; then
			COMPREPLY=($(compgen -c -- "$cur"))
			return 0
		fi
	fi

	case $prev in
	--log-format)
		COMPREPLY=($(compgen -W 'logfmt json' -- "$cur"))
		return 0
		;;
	--log-to)
		COMPREPLY=($(compgen -W 'auto stderr syslog' -- "$cur") $(compgen -f -- "$cur"))
		return 0
		;;
	--html | --textfile)
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0
		;;
	--metrics-dir)
		COMPREPLY=($(compgen -d -- "$cur"))
		return 0
		;;
	--notify)
		COMPREPLY=($(compgen -c -- "$cur"))
		return 0
		;;
	-*)
		# Any other option that takes a value: nothing to offer for it.
		[[ " $flags " == *" $prev "* ]] || return 0
		;;
	esac
	COMPREPLY=($(compgen -W "$(_cronlock_options "$sub")" -- "$cur"))
	return 0
}
complete -F _cronlock cronlock
