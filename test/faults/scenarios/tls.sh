#!/usr/bin/env bash
# TLS and SCRAM through the cronlock command: a verified TLS 1.3 connection with a
# password, and a server certificate that does not verify, which must not run the job
# and is a configuration error (exit 78 after one try), not a skip.
source "$(dirname "$0")/../lib.sh"

# A self-signed certificate for 127.0.0.1, and another one that did not sign it.
cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
		-addext "subjectAltName=IP:127.0.0.1" -keyout "$T/$1.key" -out "$T/$1.crt" 2>/dev/null
}
ok "server certificate made" cert server
ok "unrelated certificate made" cert other
chmod 600 "$T/server.key"
[ "$(id -u)" = 0 ] && chown postgres: "$T/server.key" "$T/server.crt"

pg_new db "ssl = on" "ssl_cert_file = '$T/server.crt'" "ssl_key_file = '$T/server.key'" || exit 1
q db "CREATE ROLE pw_user LOGIN PASSWORD 'tls-secret'" >/dev/null
q db "GRANT cron_lock_user TO pw_user" >/dev/null

TLS="host=127.0.0.1 port=$(pg_port db) dbname=postgres user=pw_user sslmode=verify-full"
# The job asks the server how the lease's connection (still open while the job
# runs) came in: its backend is recorded in the run.
cat >"$T/how.sh" <<EOF
psql -XAt -h '$T/db' -p $(pg_port db) -U postgres -d postgres -c "
SELECT s.ssl, s.version, a.usename
  FROM cron_lock.job_runs r
  JOIN pg_stat_ssl s ON s.pid = r.backend_pid
  JOIN pg_stat_activity a ON a.pid = r.backend_pid
 WHERE r.run_id = \$CRONLOCK_RUN_ID"
EOF

PGPASSWORD=tls-secret cronlock run --job tls --db "$TLS sslrootcert=$T/server.crt" -- sh "$T/how.sh"
is "verified TLS with a SCRAM password: the job ran" 0 "$CL_RC"
is "the lease's connection is TLS 1.3, as pw_user" "t|TLSv1.3|pw_user" "$(cat "$CL_OUT")"
is "the run succeeded" succeeded "$(q db "SELECT status FROM cron_lock.job_runs WHERE job = 'tls' ORDER BY run_id DESC LIMIT 1")"
is "pw_user's password is stored as SCRAM" SCRAM-SHA-256 \
	"$(q db "SELECT split_part(rolpassword, '\$', 1) FROM pg_authid WHERE rolname = 'pw_user'")"
PGPASSWORD=wrong cronlock run --job tls --retries 0 --db "$TLS sslrootcert=$T/server.crt" -- true
isnt "a wrong password over the same TLS connection is refused" 0 "$CL_RC"
has_line "by the server's password check" "$CL_LOG" "password authentication failed"

PGPASSWORD=tls-secret cronlock run --job tls-bad --retries 3 --db "$TLS sslrootcert=$T/other.crt" -- touch "$T/ran"
is "a certificate that does not verify: a configuration error (78)" 78 "$CL_RC"
ok "the job did not run" test ! -e "$T/ran"
is "one try, no retry" 1 "$(grep -c '^\[CRON_LOCK\]' "$CL_LOG")"
has_line "the skip is logged as PERMANENT_ERROR, tls_failed" "$CL_LOG" \
	"^\[CRON_SKIP\].*reason=PERMANENT_ERROR.*error_class=tls_failed"
has_line "the log says why" "$CL_LOG" "certificate verify failed"
is "no run was recorded" 0 "$(q db "SELECT count(*) FROM cron_lock.job_runs WHERE job = 'tls-bad'")"

finish
