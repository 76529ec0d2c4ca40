#!/usr/bin/env bash
# test/client/ops_test.sh [CRONLOCK]: the operating subcommands against a real server:
# health (exit 0/1/69/78, late and back to ok, -q, --json in UTC), runs --status,
# anomalies, pause/resume, expect (also --instances: strays in health, metrics and
# duplicates), metrics (promtool check metrics, the textfile
# written atomically), timeline (rendered by headless Chromium: one shape per run, no
# script, no network, a non-empty screenshot), and health/metrics on the plain-SQL
# edition. Needs a superuser connection in PG* (run-tests.sh gives one), the extension
# installed on that server, promtool and chromium. Ends with "N passed, N failed".
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-${CRONLOCK_BIN:-$repo/build/client/cronlock}}
start=$SECONDS
passed=0 failed=0
db=ops_cli db_none=ops_cli_none db_ed=ops_cli_edition db_old=ops_cli_old
tmp=$(mktemp -d)
chmod 755 "$tmp"
bg=
trap '[ -n "$bg" ] && kill $bg 2>/dev/null; rm -rf "$tmp"' EXIT

check() { # check NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		passed=$((passed + 1)); echo "ok   $1"
	else
		failed=$((failed + 1)); echo "FAIL $1: expected [$2], got [$3]"
		[ -n "${out:-}" ] && head -n 8 <<<"$out" | sed 's/^/     /'
	fi
}
sql() { PGOPTIONS='-c client_min_messages=warning' psql -qXAt -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
cl() { # cl ARGS...: out = stdout, err = stderr, rc = exit status
	out=$("$bin" "$@" 2>"$tmp/err"); rc=$?; err=$(cat "$tmp/err")
}
# as_user ROLE ARGS...: cronlock as that role in $db
U="dbname=$db user=ops_cli_user" A="dbname=$db user=ops_cli_admin"
# await SQL: until it answers t (10 s at most)
await() {
	for _ in $(seq 100); do [ "$(sql "$1")" = t ] && return 0; sleep 0.1; done
	return 1
}

for tool in promtool chromium psql; do
	command -v $tool >/dev/null || { echo "missing $tool (make deps)"; echo "0 passed, 1 failed"; exit 1; }
done
psql -qX -d postgres -v ON_ERROR_STOP=1 >/dev/null <<EOF || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
SET client_min_messages = warning;
DROP DATABASE IF EXISTS $db;
DROP DATABASE IF EXISTS $db_none;
DROP DATABASE IF EXISTS $db_ed;
DROP DATABASE IF EXISTS $db_old;
CREATE DATABASE $db;
CREATE DATABASE $db_none;
CREATE DATABASE $db_ed;
CREATE DATABASE $db_old;
DO \$\$ BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ops_cli_user') THEN CREATE ROLE ops_cli_user LOGIN; END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ops_cli_admin') THEN CREATE ROLE ops_cli_admin LOGIN; END IF;
END \$\$;
EOF
sql "CREATE EXTENSION cron_lock" >/dev/null
sql "GRANT cron_lock_user TO ops_cli_user; GRANT cron_lock_admin TO ops_cli_admin" >/dev/null

# ---- health: exit statuses
cl health --db "host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2"
check "health: unreachable database: 69" 69 "$rc"
cl health --db "dbname=$db_none"
check "health: no cron_lock in the database: 78" "78|1" "$rc|$(grep -c 'needs cron_lock 1.2' <<<"$err")"
cl health --db "$U"
check "health: no jobs: 0, nothing wrong" "0|(0 rows)" "$rc|$(tail -n1 <<<"$out")"
"$bin" run --db "$U" --job h.free -- true 2>/dev/null
cl health --db "$U"
check "health: a job without expectation is unknown, not a failure: 0" "0|unknown" \
	"$rc|$(awk '$1 == "h.free" {print $2}' <<<"$out")"

# late, then ok after a run: every 2s, late 2s after it was due
cl expect --db "$A" --job h.late --every 2s --late-after 2s
check "expect --every: 0" 0 "$rc"
"$bin" run --db "$U" --job h.late -- true 2>/dev/null
await "SELECT state = 'late' FROM cron_lock.health WHERE job = 'h.late'"
cl health --db "$U"
check "health: a job that stopped running is late: 1" "1|late" "$rc|$(awk '$1 == "h.late" {print $2}' <<<"$out")"
cl health --db "$U" -q
check "health -q: lists only the late job" "1|h.late" "$rc|$(awk 'NR > 2 && $1 !~ /^\(/ {print $1}' <<<"$out" | paste -sd,)"
"$bin" run --db "$U" --job h.late -- true 2>/dev/null
cl health --db "$U" -q
check "health -q: after a run, back to ok: 0 and silent" "0|" "$rc|$out"
cl expect --db "$A" --job h.late --clear
check "expect --clear: 0, state unknown" "0|unknown" "$rc|$(sql "SELECT state FROM cron_lock.health WHERE job = 'h.late'")"

"$bin" run --db "$U" --job h.fail -- false 2>/dev/null
cl health --db "$U"
check "health: a failed run makes the job failing: 1" "1|failing" "$rc|$(awk '$1 == "h.fail" {print $2}' <<<"$out")"
PGTZ=Asia/Kolkata PGDATESTYLE='German, DMY' cl health --db "$U" --json
check "health --json: ISO 8601 UTC whatever PGTZ/PGDATESTYLE say" 1 \
	"$(grep -Ec '"job": "h.free", "state": "unknown", .*"last_success": "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"' <<<"$out")"
check "health --json: a failing job, and exit 1" "1|1" "$rc|$(grep -c '"job": "h.fail", "state": "failing"' <<<"$out")"

# ---- runs --status
cl runs --db "$A" --status failed
check "runs --status failed: only the failed run" "0|h.fail" "$rc|$(awk 'NR > 2 && NF > 3 {print $2}' <<<"$out" | paste -sd,)"
cl runs --db "$A" --status succeeded,failed --json
check "runs --status a,b: both kinds" 0 "$(grep -vEc '"status": "(succeeded|failed)"|^\[|^\]' <<<"$out")"
cl runs --db "$A" --status bogus
check "runs --status bogus: 64" 64 "$rc"

# ---- expect: validation by the server is a usage error
cl expect --db "$A" --job e.sched --schedule '0 6 * * 1-5' --timezone Europe/Berlin --late-after 30m
check "expect --schedule --timezone: set" "0|0 6 * * 1-5|Europe/Berlin|00:30:00" \
	"$rc|$(sql "SELECT concat_ws('|', schedule, timezone, late_after) FROM cron_lock.health WHERE job = 'e.sched'")"
cl expect --db "$A" --job e.sched --schedule '61 * * * *'
check "expect: a schedule the server refuses: 64" 64 "$rc"
cl expect --db "$A" --job e.sched --schedule '0 6 * * *' --timezone Mars/Olympus
check "expect: an unknown time zone: 64" 64 "$rc"
cl expect --db "$A" --job e.sched --every 5m --schedule '* * * * *'
check "expect --every with --schedule: 64" 64 "$rc"
cl expect --db "$U" --job e.sched --every 5m
check "expect as a plain cron_lock_user: 78" 78 "$rc"

# ---- pause / resume
cl pause --db "$A" --job p.job --until 1h --reason 'schema migration'
check "pause --until 1h: 0, paused about an hour" "0|paused|t" \
	"$rc|$(sql "SELECT state, paused_until BETWEEN now() + '59 min' AND now() + '61 min' FROM cron_lock.health WHERE job = 'p.job'" | tr '|' '|')"
rm -f "$tmp/ran"
"$bin" run --db "$U" --log-to stderr --job p.job --on-busy 3 -- touch "$tmp/ran" 2>"$tmp/run.err"
check "a paused job: the runner skips it with --on-busy's status" "3|no" "$?|$([ -e "$tmp/ran" ] && echo yes || echo no)"
check "a paused job: [CRON_SKIP] reason=PAUSED" 1 "$(grep -c 'reason=PAUSED' "$tmp/run.err")"
cl pause --db "$A" --job p.job --json
check "pause without --until: until resumed (JSON)" "0|{\"job\": \"p.job\", \"paused\": true, \"until\": null}" "$rc|$out"
cl pause --db "$A" --job p.job --until 'not a time'
check "pause --until garbage: 64" 64 "$rc"
cl pause --db "$U" --job p.job
check "pause as a plain cron_lock_user: 78" 78 "$rc"
cl resume --db "$A" --job p.job
check "resume: 0" "0|resumed job p.job" "$rc|$out"
cl resume --db "$A" --job p.job
check "resume again: 1, not paused" "1|job p.job was not paused" "$rc|$out"
"$bin" run --db "$U" --job p.job -- touch "$tmp/ran" 2>/dev/null
check "after resume the job runs" yes "$([ -e "$tmp/ran" ] && echo yes || echo no)"

# ---- anomalies: a stale takeover now, an old anomaly three days ago
sql "SELECT acquired FROM cron_lock_try('a.take', 'host-a', '1 millisecond')" >/dev/null
"$bin" run --db "$U" --instance host-b --job a.take -- true 2>/dev/null
sql "INSERT INTO cron_lock.anomaly_log (kind, job, instance, detected_at, detail)
     VALUES ('late_release', 'a.old', 'host-a', now() - interval '3 days', 'an old one')"
cl anomalies --db "$U"
check "anomalies: the stale takeover of the last day" "0|1|0" \
	"$rc|$(grep -c '^stale_takeover  *a\.take' <<<"$out")|$(grep -c 'a\.old' <<<"$out")"
cl anomalies --db "$U" --since 4d --json
check "anomalies --since 4d --json: the old one too, ISO UTC" 1 \
	"$(grep -Ec '"kind": "late_release", "job": "a.old", .*"detected_at": "[0-9-]{10}T[0-9:]{8}\.[0-9]{6}Z"' <<<"$out")"
cl anomalies --db "$U" --job nobody
check "anomalies --job: filtered" "0|(0 rows)" "$rc|$(tail -n1 <<<"$out")"

# ---- metrics
"$bin" run --db "$U" --job 'm."quoted\job"' -- true 2>/dev/null
"$bin" run --db "$U" --job m.held -- sleep 60 2>/dev/null &
bg=$!
await "SELECT count(*) = 1 FROM cron_lock.status WHERE job = 'm.held' AND state = 'held'" ||
	echo "m.held was never held"
"$bin" pause --db "$A" --job m.paused >/dev/null
cl metrics --db "$U"
printf '%s\n' "$out" >"$tmp/metrics.prom"
check "metrics: exit 0" 0 "$rc"
check "metrics: promtool check metrics passes" "0|" "$(promtool check metrics <"$tmp/metrics.prom" >"$tmp/promtool" 2>&1; echo $?)|$(cat "$tmp/promtool")"
check "metrics: failing, held, paused, token" "1|1|1|$(sql "SELECT token FROM cron_lock.status WHERE job = 'm.held'")" \
	"$(grep -E '^cronlock_job_failing\{job_name="h.fail"\} ' "$tmp/metrics.prom" | cut -d' ' -f2)|$(grep -E '^cronlock_job_held\{job_name="m.held"\} ' "$tmp/metrics.prom" | cut -d' ' -f2)|$(grep -E '^cronlock_job_paused\{job_name="m.paused"\} ' "$tmp/metrics.prom" | cut -d' ' -f2)|$(grep -E '^cronlock_job_token\{job_name="m.held"\} ' "$tmp/metrics.prom" | cut -d' ' -f2)"
check "metrics as cron_lock_user: no runs by status (the history is the admin's)" 0 \
	"$(grep -c '^cronlock_job_runs{' "$tmp/metrics.prom")"
cl metrics --db "$A"
check "metrics as cron_lock_admin: runs by status" "0|$(sql "SELECT count(*) FROM cron_lock.job_runs WHERE job = 'h.late' AND status = 'succeeded'")" \
	"$rc|$(grep -E '^cronlock_job_runs\{job_name="h.late",status="succeeded"\} ' <<<"$out" | cut -d' ' -f2)"
check "metrics: the last success is the server's, in Unix time" \
	"$(sql "SELECT floor(extract(epoch FROM last_success)) FROM cron_lock.health WHERE job = 'h.free'")" \
	"$(grep -E '^cronlock_job_last_success_timestamp_seconds\{job_name="h.free"\} ' "$tmp/metrics.prom" | cut -d' ' -f2 | cut -d. -f1)"
check "metrics: a job name with \" and \\ escaped in its label" 1 \
	"$(grep -cF 'cronlock_job_last_status{job_name="m.\"quoted\\job\"",status="succeeded"} 1' "$tmp/metrics.prom")"
mkdir "$tmp/textfile"
cl metrics --db "$U" --textfile "$tmp/textfile/cronlock.prom"
check "metrics --textfile: written, mode 0644, no temporary file left" "0|644|cronlock.prom" \
	"$rc|$(stat -c %a "$tmp/textfile/cronlock.prom")|$(ls -A "$tmp/textfile" | paste -sd,)"
check "metrics --textfile: promtool accepts the file" 0 "$(promtool check metrics <"$tmp/textfile/cronlock.prom" >/dev/null 2>&1; echo $?)"
sum=$(md5sum <"$tmp/textfile/cronlock.prom")
cl metrics --db "host=127.0.0.1 port=1 dbname=x user=x" --textfile "$tmp/textfile/cronlock.prom"
check "metrics --textfile, database unreachable: 69, the old file kept" "69|$sum" "$rc|$(md5sum <"$tmp/textfile/cronlock.prom")"
cl metrics --db "$U" --textfile "$tmp/no/such/dir/cronlock.prom"
check "metrics --textfile into a missing directory: 73" 73 "$rc"

# ---- timeline: a busy skip, a takeover, a failure, a running run, a hostile name
"$bin" run --db "$U" --instance host-c --job m.held --on-busy 0 -- true 2>/dev/null
"$bin" run --db "$U" --instance '<b>host</b>' --job '<script>alert(1)</script>' -- true 2>/dev/null
cl timeline --db "$A" --since 1d --html "$tmp/timeline.html"
check "timeline --html: exit 0" 0 "$rc"
runs=$(sql "SELECT count(*) FROM cron_lock.job_runs")
check "timeline: one run element per run in the source" "$runs" "$(grep -o '<rect class="run ' "$tmp/timeline.html" | wc -l)"
check "timeline: no URL, script or external resource in the file" 0 \
	"$(grep -Eic 'https?:|src=|href=|url\(|@import|<script' "$tmp/timeline.html")"
check "timeline: the CSP meta tag" 1 \
	"$(grep -c "http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"" "$tmp/timeline.html")"
# One Chromium launch (seconds each): the DOM after parsing, and a screenshot.
timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$tmp/chrome" \
	--window-size=1300,700 --dump-dom --screenshot="$tmp/page.png" "file://$tmp/timeline.html" \
	>"$tmp/dom.html" 2>"$tmp/chrome.log"
check "chromium: the rendered DOM has one rect.run per run" "$runs" \
	"$(grep -o '<rect class="run s-[a-z]*"' "$tmp/dom.html" | wc -l)"
check "chromium: busy skips, a takeover, a failed and a running run drawn" "yes|yes|yes|yes" \
	"$(grep -q 'class="skip"' "$tmp/dom.html" && echo yes)|$(grep -q 'class="takeover"' "$tmp/dom.html" && echo yes)|$(grep -q 'class="run s-failed"' "$tmp/dom.html" && echo yes)|$(grep -q 'class="run s-running"' "$tmp/dom.html" && echo yes)"
# Busy answers are raw rows, or folded into hourly counters (one acquisition or release in 8).
check "chromium: a lane per instance" "$(sql "SELECT count(DISTINCT instance) FROM (SELECT instance FROM cron_lock.job_runs UNION SELECT instance FROM cron_lock.contention UNION SELECT instance FROM cron_lock.contention_hourly) i")" \
	"$(grep -o '<g class="lane"' "$tmp/dom.html" | wc -l)"
check "chromium: a hostile job name stays text (no script element, name shown)" "0|1" \
	"$(grep -c '<script' "$tmp/dom.html")|$([ "$(grep -c '&lt;script&gt;alert(1)&lt;/script&gt;' "$tmp/dom.html")" -ge 1 ] && echo 1)"
check "chromium: the paused job flagged" 1 "$(grep -c '<li class="flag paused">m.paused: paused until resumed</li>' "$tmp/dom.html")"
# A blank page's 1300x700 screenshot is about 4 KB, this page's about 27 KB.
check "chromium: the page renders (a 1300x700 screenshot of more than 10 KB)" "1300x700|yes" \
	"$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print("%dx%d" % struct.unpack(">II", d[16:24]) if d[:8] == b"\x89PNG\r\n\x1a\n" else "not a PNG")' "$tmp/page.png" 2>/dev/null)|$([ "$(stat -c %s "$tmp/page.png" 2>/dev/null || echo 0)" -gt 10240 ] && echo yes)"
kill $bg 2>/dev/null; wait $bg 2>/dev/null; bg=

# ---- expected instances (issue 16 item 7): expect --instances per job and for every
# job; strays counted by health, metrics and duplicates; a host cannot declare itself.
# s.one: s-1 and s-2 expected, s-3 a stray; s.two (every job's list, s-1): s-2 a stray.
cl expect --db "$U" --job s.one --instances s-1
check "expect --instances as a runner's role (a host declaring itself): 78, 42501" "78|1|0" \
	"$rc|$(grep -c 'SQLSTATE 42501' <<<"$err")|$(sql "SELECT count(*) FROM cron_lock.expected_instances")"
cl expect --db "$A" --job s.one --instances s-1,s-2
check "expect --job --instances: 0, the job's list" "0|job s.one: expected instances s-1, s-2|s-1,s-2" \
	"$rc|$out|$(sql "SELECT string_agg(instance, ',' ORDER BY instance) FROM cron_lock.expected_instances WHERE job = 's.one'")"
cl expect --db "$A" --all-jobs --instances s-1 --json
check "expect --all-jobs --instances: 0, every job's list" '0|{"job": null, "instances": ["s-1"], "done": true}|s-1' \
	"$rc|$out|$(sql "SELECT string_agg(instance, ',') FROM cron_lock.expected_instances WHERE job IS NULL")"
for i in s-2 s-3; do "$bin" run --db "$U" --instance $i --job s.one -- true 2>/dev/null; done
sql "SELECT acquired FROM cron_lock_try('s.two', 's-1', '1 hour')" >/dev/null
"$bin" run --db "$U" --instance s-2 --job s.two --log-to stderr -- true 2>"$tmp/busy.err"
check "a stray's busy skip: a skip, no alert" "1|0" \
	"$(grep -c 'reason=BUSY' "$tmp/busy.err")|$(grep -c CRON_ALERT "$tmp/busy.err")"
cl health --db "$U" --json
check "health --json: expected and stray instances per job" "1|1" \
	"$(grep -c '"job": "s.one", .*"expected_instances": \["s-1","s-2"\], "stray_instances": \["s-3"\]' <<<"$out")|$(grep -c '"job": "s.two", .*"expected_instances": \["s-1"\], "stray_instances": \["s-2"\]' <<<"$out")"
cl health --db "$U"
check "health: the stray instances column" "{s-3}|{s-2}" \
	"$(awk '$1 == "s.one" {print $NF}' <<<"$out")|$(awk '$1 == "s.two" {print $NF}' <<<"$out")"
cl metrics --db "$U"
check "metrics: stray instances per job, promtool passes" "0|1|1|0|0" \
	"$rc|$(grep -E '^cronlock_job_stray_instances\{job_name="s.one"\} ' <<<"$out" | cut -d' ' -f2)|$(grep -E '^cronlock_job_stray_instances\{job_name="s.two"\} ' <<<"$out" | cut -d' ' -f2)|$(grep -E '^cronlock_job_stray_instances\{job_name="h.free"\} ' <<<"$out" | cut -d' ' -f2)|$(promtool check metrics <<<"$out" >/dev/null 2>&1; echo $?)"
cl duplicates --db "$U"
check "duplicates: expected_ids and unexpected_ids columns" "0|expected_ids unexpected_ids|{s-1,s-2} {s-1} {s-2}" \
	"$rc|$(awk 'NR == 1 {print $(NF-1), $NF}' <<<"$out")|$(awk '$1 == "s.two" {print $3, $(NF-1), $NF}' <<<"$out")"
cl duplicates --db "$U" --json
check "duplicates --json: expected_ids and unexpected_ids" "0|1" \
	"$rc|$(grep -c '"job": "s.two", .*"expected_ids": \["s-1"\], "unexpected_ids": \["s-2"\]' <<<"$out")"
PGOPTIONS='-c client_min_messages=warning' psql -qXAt -v ON_ERROR_STOP=1 -d "$db_old" >/dev/null <<'EOF'
CREATE EXTENSION cron_lock VERSION '1.1';
SELECT acquired FROM cron_lock_try('o.j', 'o-1', '1 hour');
SELECT acquired FROM cron_lock_try('o.j', 'o-2', '1 hour');
EOF
cl duplicates --db "dbname=$db_old"
check "duplicates on a 1.1 server: the columns it has" "0|instance_ids busy_answers first_seen last_seen|{o-1,o-2}" \
	"$rc|$(awk 'NR == 1 {print $3, $4, $5, $6}' <<<"$out")|$(awk '$1 == "o.j" {print $3}' <<<"$out")"
cl status --db "$U"
check "status: a free job's last success, and no stale holder" "0|last_success paused_until|free||yes" \
	"$rc|$(awk 'NR == 1 {print $(NF-1), $NF}' <<<"$out")|$(sql "SELECT state || '|' || coalesce(holder, '') FROM cron_lock.status WHERE job = 'h.free'")|$(grep -q "^h\.free  *free  .*$(sql "SELECT to_char(last_success, 'YYYY-MM-DD HH24:MI:SS') FROM cron_lock.status WHERE job = 'h.free'")" <<<"$out" && echo yes)"
cl status --db "$U" --json
check "status --json: last_success in UTC" 1 \
	"$(grep -Ec '"job": "h.free", "state": "free", "holder": null, .*"last_success": "[0-9-]{10}T[0-9:]{8}\.[0-9]{6}Z", "paused_until": null' <<<"$out")"
cl status --db "dbname=$db_old"
check "status on a 1.1 server: the columns it has" "0|heartbeat_at expires_at" "$rc|$(awk 'NR == 1 {print $(NF-1), $NF}' <<<"$out")"
cl expect --db "$A" --all-jobs --instances ''
cl expect --db "$A" --job s.one --instances '' --json
check "expect --instances '': the lists cleared, no strays left" '0|{"job": "s.one", "instances": [], "done": true}|0|0' \
	"$rc|$out|$(sql "SELECT count(*) FROM cron_lock.expected_instances")|$(sql "SELECT count(*) FROM cron_lock.stray_instances")"

# ---- the plain-SQL edition: the same views
if "$bin" install --db "dbname=$db_ed" >/dev/null 2>&1; then
	"$bin" run --db "dbname=$db_ed" --job ed.job -- true 2>/dev/null
	"$bin" expect --db "dbname=$db_ed" --job ed.job --every 1h >/dev/null
	cl health --db "dbname=$db_ed"
	check "edition: health ok: 0" "0|ok" "$rc|$(awk '$1 == "ed.job" {print $2}' <<<"$out")"
	cl metrics --db "dbname=$db_ed"
	check "edition: metrics pass promtool" "0|0" "$rc|$(promtool check metrics <<<"$out" >/dev/null 2>&1; echo $?)"
else
	check "edition: cronlock install" 0 1
fi

echo "ops subcommands: $((SECONDS - start))s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
