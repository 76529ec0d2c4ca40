#!/usr/bin/env bash
# Mid-run, the wrapper's backends are frozen (SIGSTOP): the heartbeat's query
# deadline fires, the client cancels, reconnects and renews; the run completes.
# Then the proxy freezes all traffic past the lease deadline: exit 75, never a hang.
source "$(dirname "$0")/../lib.sh"
need_cronlock

pg_new db || exit 1
DB=$(pg_tcp db)

cronlock_bg w run --job fb --ttl 6s --grace 1s --db "$DB" "${FAST[@]}" -- sleep 9
w=$BG_PID
ok "the run starts" wait_for 10 bash -c "grep -q CRON_RUN '$T/w.out'"
ok "a heartbeat goes through" wait_for 5 renewed_after db fb "$(heartbeat_ms db fb)"
pids=$(q db "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE application_name LIKE 'cronlock%' AND pid <> pg_backend_pid()")
isnt "the wrapper's backends are found" "" "$pids"
t=$(now_ms)
# shellcheck disable=SC2086
kill -STOP $pids
ok "the heartbeat escapes the frozen backend and renews on a new one" wait_for 6 renewed_after db fb "$t"
wait_rc "$w" 20
# shellcheck disable=SC2086
kill -CONT $pids 2>/dev/null
is "the run completes: exit 0" 0 "$RC"
no_line "the lease was never lost" "$T/w.out" '\[CRON_LOST\]'

# Traffic frozen for longer than the TTL: the lease deadline stops COMMAND.
proxy_start px "$(pg_port db)" || exit 1
cronlock_bg f run --job fz --ttl 4s --grace 1s --db "host=127.0.0.1 port=$(proxy_port px) user=postgres dbname=postgres" "${FAST[@]}" -- sh -c "echo \$\$ >'$T/cmd.pid'; exec sleep 30"
f=$BG_PID
ok "the run through the proxy starts" wait_for 10 bash -c "grep -q CRON_RUN '$T/f.out' && [ -s '$T/cmd.pid' ]"
c=$(cat "$T/cmd.pid")
ok "a heartbeat goes through" wait_for 5 renewed_after db fz "$(heartbeat_ms db fz)"
proxy px freeze
proxy px blackhole
t=$(now_ms)
ok "frozen past the TTL: COMMAND is stopped by the lease deadline (ttl 4s)" wait_for 4.5 bash -c "! kill -0 $c 2>/dev/null"
le "... not before deadline - grace (3s after the last renewal, >= 1.6s after the freeze)" 1600 "$(($(now_ms) - t))"
wait_rc "$f" 15
is "frozen past the TTL: exit 75" 75 "$RC"
# The wrapper may spend its connect/retry budget on a last release attempt.
le "the wrapper exits within ttl + its retry budget" "$(($(now_ms) - t))" 9000
has_line "[CRON_LOST] logged" "$T/f.out" '\[CRON_LOST\]'
proxy px thaw
proxy px pass
finish
