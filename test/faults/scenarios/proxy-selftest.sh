#!/usr/bin/env bash
# The fault proxy itself: each fault does what the scenarios rely on.
source "$(dirname "$0")/../lib.sh"

pg_new db || exit 1
proxy_start px "$(pg_port db)" || exit 1
P="host=127.0.0.1 port=$(proxy_port px) user=postgres dbname=postgres connect_timeout=2"

is "pass: a query goes through" 42 "$(qc "$P" "SELECT 42")"

proxy px latency 200
t0=$(now_ms)
qc "$P" "SELECT 1" >/dev/null
el=$(($(now_ms) - t0))
le "latency 200: a connection and a query take at least 400ms" 400 "$el"
proxy px latency 0

# connect-delay: a new connection waits, one already open does not.
psql -XAtq -d "$P" -c "SELECT 1" -c "SELECT pg_sleep(1.5)" -c "SELECT 1" >"$T/open.out" 2>&1 &
open_pid=$!
sleep 0.5
proxy px connect-delay 800 1000
t0=$(now_ms)
is "connect-delay: a new connection still works" 1 "$(qc "$P" "SELECT 1")"
el=$(($(now_ms) - t0))
le "connect-delay 800 1000: a new connection takes at least 800ms" 800 "$el"
wait "$open_pid"
is "connect-delay: a connection opened before keeps working" 0 $?
is "connect-delay rejects MAX < MIN" 0 "$("$FAULTPROXY" --ctl "$T/px.sock" connect-delay 900 100 | grep -c '^ok')"
proxy px connect-delay 0
t0=$(now_ms)
qc "$P" "SELECT 1" >/dev/null
le "connect-delay 0: no delay any more" "$(($(now_ms) - t0))" 700

proxy px blackhole
t0=$(now_ms)
qc "$P" "SELECT 1" >/dev/null 2>&1
rc=$?
el=$(($(now_ms) - t0))
isnt "blackhole: the connection attempt fails" 0 "$rc"
# libpq (15) keeps its connect_timeout deadline in whole seconds: a 2 s timeout
# that starts late in one second and waits from the next ends after 1-2 s.
le "blackhole: it fails by the client's connect_timeout (> 1s, not at once)" 1000 "$el"
le "blackhole: ... and not much later" "$el" 4000
proxy px pass
is "pass again: a query goes through" 1 "$(qc "$P" "SELECT 1")"

proxy px refuse
t0=$(now_ms)
ok "refuse: the connection fails" bash -c "! psql -XAtd '$P' -c 'SELECT 1'"
le "refuse: at once" "$(($(now_ms) - t0))" 1500
proxy px pass

# reset: a live connection waiting for a long query dies at once.
bg sleeper psql -XAt -d "$P application_name=sleeper" -c "SELECT pg_sleep(30)"
sleeper=$BG_PID
ok "the long query is running" wait_for 10 bash -c "[ \"\$(psql -XAt -h '$T/db' -p $(pg_port db) -U postgres -d postgres -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name='sleeper' AND state='active'\")\" = 1 ]"
t0=$(now_ms)
proxy px reset
wait_rc "$sleeper" 5
isnt "reset: the client sees its connection fail" 0 "$RC"
isnt "reset: ... at once" timeout "$RC"
le "reset: within 1s" "$(($(now_ms) - t0))" 1000
has_line "reset: the client reports a lost connection" "$T/sleeper.out" "server closed the connection|connection|reset"

# freeze / thaw on a live connection: the answer waits for the thaw.
bg frz psql -XAt -d "$P application_name=frz" -c "SELECT pg_sleep(0.5)" -c "SELECT 'thawed'"
frz=$BG_PID
ok "the frozen client is connected" wait_for 10 bash -c "[ \"\$(psql -XAt -h '$T/db' -p $(pg_port db) -U postgres -d postgres -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name='frz'\")\" = 1 ]"
proxy px freeze
ok "freeze: the server finishes the query" wait_for 5 bash -c "[ \"\$(psql -XAt -h '$T/db' -p $(pg_port db) -U postgres -d postgres -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name='frz' AND state='idle'\")\" = 1 ]"
sleep 1 # the fault's duration, not synchronisation
ok "freeze: the client still waits for its answer" alive "$frz"
proxy px thaw
wait_rc "$frz" 5
is "thaw: the client finishes" 0 "$RC"
has_line "thaw: the second answer arrives" "$T/frz.out" "^thawed$"

# drop-reply-after: the statement runs, its answer never comes.
q db "CREATE TABLE marks (v int)"
proxy px drop-reply-after "INSERT INTO marks"
ok "drop-reply-after: the client sees a failure" bash -c "! psql -XAtd '$P' -c 'INSERT INTO marks VALUES (7)'"
is "drop-reply-after: the statement committed nevertheless" 1 "$(q db "SELECT count(*) FROM marks WHERE v = 7")"
is "drop-reply-after fired once" 1 "$(proxy_stat px dropped)"
is "the trigger is one shot" 8 "$(qc "$P" "INSERT INTO marks VALUES (8) RETURNING v")"

proxy px reset-on "INSERT INTO marks VALUES (9)"
ok "reset-on: the client sees a failure" bash -c "! psql -XAtd '$P' -c 'INSERT INTO marks VALUES (9)'"
is "reset-on: the statement never reached the server" 0 "$(q db "SELECT count(*) FROM marks WHERE v = 9")"

ok "control socket rejects unknown commands" bash -c "! '$FAULTPROXY' --ctl '$T/px.sock' bogus"
ok "the proxy refuses a non-loopback target" bash -c "! '$FAULTPROXY' --listen 127.0.0.1:1 --target 10.0.0.1:5432 --control '$T/x.sock'"
proxy px quit
ok "quit: the proxy exits" wait_for 5 bash -c "[ ! -S '$T/px.sock' ]"
finish
