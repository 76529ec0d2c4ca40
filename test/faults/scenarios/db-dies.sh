#!/usr/bin/env bash
# The database dies mid-run and stays down: the wrapper stops its COMMAND by the
# lease deadline (ttl after the last renewal sent): SIGTERM at deadline - grace,
# SIGKILL at the deadline for a COMMAND that ignores SIGTERM; [CRON_LOST], exit 75.
source "$(dirname "$0")/../lib.sh"
need_cronlock

pg_new db || exit 1
DB=$(pg_tcp db)

# hb_after MS: a heartbeat has been recorded later than MS (epoch ms)
hb_after() { [ "$(q db "SELECT (extract(epoch FROM heartbeat_at) * 1000)::bigint > $1 FROM cron_lock.leases WHERE job = '$2'")" = t ]; }

for variant in polite stubborn; do
	if [ $variant = polite ]; then
		cmd=(sh -c "echo \$\$ >'$T/cmd.$variant.pid'; exec sleep 60")
	else
		cmd=(sh -c "trap '' TERM; echo \$\$ >'$T/cmd.$variant.pid'; while :; do sleep 0.2; done")
	fi
	pg_ctl_ db -w -t 60 start >/dev/null 2>&1
	wait_for 20 pg_up db
	cronlock_bg $variant run --job dd$variant --ttl 6s --grace 2s --db "$DB" "${FAST[@]}" -- "${cmd[@]}"
	w=$BG_PID
	ok "$variant: runs" wait_for 10 bash -c "grep -q CRON_RUN '$T/$variant.out' && [ -s '$T/cmd.$variant.pid' ]"
	c=$(cat "$T/cmd.$variant.pid")
	t_run=$(now_ms)
	ok "$variant: a heartbeat is renewed" wait_for 5 hb_after "$t_run" dd$variant
	t_hb=$(now_ms)
	cluster_stop "$T/db" immediate
	t_down=$(now_ms)
	wait_rc "$w" 20
	t_exit=$(now_ms)
	is "$variant: exit 75 (lease lost)" 75 "$RC"
	has_line "$variant: [CRON_LOST] logged" "$T/$variant.out" '\[CRON_LOST\]'
	ok "$variant: the COMMAND is gone" bash -c "! kill -0 $c 2>/dev/null"
	# The deadline is ttl after the last renewal sent, which was before t_hb.
	le "$variant: stopped by the lease deadline (ttl 6s after the last renewal)" "$((t_exit - t_hb))" 6800
	le "$variant: not before deadline - grace (>= 4s after the database died)" $((4000 - 2000)) "$((t_exit - t_down))"
done

# The final release cannot reach the database: the status is still COMMAND's,
# with a warning; the lease expires on its own.
pg_ctl_ db -w -t 60 start >/dev/null 2>&1
wait_for 20 pg_up db
cronlock_bg rel run --job ddrel --ttl 9s --db "$DB" "${FAST[@]}" -- sh -c "while [ ! -e '$T/go' ]; do sleep 0.1; done; exit 3"
w=$BG_PID
ok "release: the run starts" wait_for 10 bash -c "grep -q CRON_RUN '$T/rel.out'"
cluster_stop "$T/db" immediate
touch "$T/go"
wait_rc "$w" 20
is "release unreachable: the exit status is still COMMAND's (3)" 3 "$RC"
has_line "release unreachable: [CRON_DONE] says the release failed" "$T/rel.out" '\[CRON_DONE\].*(release="?failed|warn)'
no_line "release unreachable: the lease was not 'lost'" "$T/rel.out" '\[CRON_LOST\]'
finish
