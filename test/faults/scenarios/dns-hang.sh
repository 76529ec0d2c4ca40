#!/usr/bin/env bash
# The resolver stops answering mid-run: a real glibc lookup against a name server on
# a loopback address that goes silent (cronlock runs in a mount namespace whose
# /etc/resolv.conf points there). libpq resolves inside PQconnectStart, so the
# heartbeat's new connection blocks for the resolver's whole timeout (6 s here); the
# lease deadline must not wait for it: with --ttl 6s --grace 1500ms COMMAND gets
# SIGTERM at 4.5 s and SIGKILL at 6 s.
source "$(dirname "$0")/../lib.sh"
need_cronlock
if ! unshare -m true 2>/dev/null; then
	skip "SIGTERM at deadline - grace while the resolver hangs" "needs root (mount namespace, port 53)"
	finish
fi

pg_new db || exit 1
# A name server for any name: A 127.0.0.1 (AAAA: none) until $T/silent exists.
NS=127.53.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
cat >"$T/dns.py" <<'PY'
import os, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[2], 53))
open(sys.argv[1] + "/dns.up", "w").write("up")
while True:
    q, peer = s.recvfrom(512)
    if os.path.exists(sys.argv[1] + "/silent"):
        continue
    end = q.index(b"\0", 12) + 5
    qtype = struct.unpack(">H", q[end - 4:end - 2])[0]
    an = b""
    if qtype == 1:
        an = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 0, 4) + socket.inet_aton("127.0.0.1")
    s.sendto(q[:2] + struct.pack(">HHHHH", 0x8180, 1, 1 if an else 0, 0, 0) + q[12:end] + an, peer)
PY
bg dns python3 "$T/dns.py" "$T" "$NS"
ok "the name server is up" wait_for 5 test -s "$T/dns.up"
printf 'nameserver %s\noptions timeout:6 attempts:1\n' "$NS" >"$T/resolv.conf"
DB="host=db.cronlock.test port=$(pg_port db) user=postgres dbname=postgres"

# COMMAND writes the milliseconds at which SIGTERM came.
bg A unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$T/resolv.conf" \
	"$CRONLOCK_BIN" run --log-to stderr --job dns --ttl 6s --grace 1500ms --db "$DB" -- \
	sh -c "trap 'date +%s%3N >\"$T/term\"; exit 143' TERM; date +%s%3N >\"$T/start\"; while :; do sleep 0.1; done"
A=$BG_PID
ok "the run starts through the name server" wait_for 10 test -s "$T/start"
touch "$T/silent"
ok "COMMAND gets SIGTERM" wait_for 12 test -s "$T/term"
t_term=$(($(cat "$T/term") - $(cat "$T/start")))
log "SIGTERM ${t_term} ms after COMMAND started"
le "... at deadline - grace (4.5 s), not when the lookup gives up" "$t_term" 5000
le "... not before it" 4200 "$t_term"
has_line "[CRON_LOST] why=no_renewal" "$T/A.out" '\[CRON_LOST\].*why=no_renewal'
wait_rc "$A" 20
is "cronlock exits 75 (lease lost)" 75 "$RC"
finish
