#!/usr/bin/env bash
# The soak's checker (check_history.sql) can fail: fed a clean history it says
# ok to every property; fed histories with a crash, an unaccounted attempt, a
# write going back in token order, overlapping COMMANDs, a late resume, it says
# FAIL to exactly the property concerned.
source "$(dirname "$0")/../lib.sh"

pg_new db || exit 1
q db "CREATE TABLE soak_hist (id bigserial PRIMARY KEY, job text NOT NULL, token bigint NOT NULL,
	attempt text NOT NULL, seq int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())"
q db "$(soak_tables)"
# Three real runs of job j1 (tokens 1, 2 by w2, 3), released.
q db "SELECT cron_lock_try('j1', 'w1', '60s'); SELECT cron_lock_release('j1', 1);
      SELECT cron_lock_try('j1', 'w2', '60s'); SELECT cron_lock_release('j1', 2);
      SELECT cron_lock_try('j1', 'w1', '60s'); SELECT cron_lock_release('j1', 3);" >/dev/null
base=$(( $(now_ms) - 60000 ))
healed=$((base + 30000))
ts() { q db "SELECT to_timestamp($1 / 1000.0)"; }

# A clean history: w1 ran token 1 (cmd 1s..3s), w2 ran token 2 (4s..6s), w3 was busy,
# and after the heal (30s) w1 ran again at 33s.
clean() {
	q db "TRUNCATE soak_attempts, soak_faults, soak_hist"
	q db "INSERT INTO soak_attempts VALUES
		('w1.j1.1', 'w1', 'j1', 0, $base, $((base + 3500)), '$(ts $((base + 900)))', 1, NULL, '$(ts $((base + 3200)))', 'succeeded', NULL, 0, 0, 0, $((base + 1000)), $((base + 3000))),
		('w2.j1.1', 'w2', 'j1', 0, $((base + 3600)), $((base + 6500)), '$(ts $((base + 3900)))', 2, NULL, '$(ts $((base + 6200)))', 'succeeded', NULL, 0, 0, 0, $((base + 4000)), $((base + 6000))),
		('w3.j1.1', 'w3', 'j1', 0, $((base + 2000)), $((base + 2100)), NULL, NULL, NULL, NULL, NULL, 'BUSY', 0, 0, 0, NULL, NULL),
		('w1.j1.2', 'w1', 'j1', 0, $((healed + 2900)), $((healed + 4000)), '$(ts $((healed + 2950)))', 3, NULL, '$(ts $((healed + 3900)))', 'succeeded', NULL, 0, 0, 0, $((healed + 3000)), $((healed + 3800)))"
	q db "INSERT INTO soak_faults VALUES ('reset', $base, $((base + 10)), '')"
	q db "INSERT INTO soak_hist (job, token, attempt, seq, at) VALUES
		('j1', 1, 'w1.j1.1', 0, to_timestamp($((base + 1100)) / 1000.0)),
		('j1', 1, 'w1.j1.1', 1, to_timestamp($((base + 2000)) / 1000.0)),
		('j1', 2, 'w2.j1.1', 0, to_timestamp($((base + 4100)) / 1000.0))"
}
check() {
	psql -X -q -h "$T/db" -p "$(pg_port db)" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-v t_start="$base" -v t_healed="$healed" -v t_done="$((healed + 10000))" -v ttl=3 -v grace=1 \
		-v resume_bound=13 -v cores=0 -f "$REPO/test/faults/check_history.sql" >"$T/report.txt" 2>&1
}
# fails PROPERTY_REGEX: the report has FAIL for it and for nothing else
fails_only() {
	grep -E '^ *FAIL +\|' "$T/report.txt" >"$T/fails.txt"
	[ "$(wc -l <"$T/fails.txt")" = 1 ] && grep -Eq "$1" "$T/fails.txt"
}

clean
check
is "clean history: the checker runs" 0 $?
is "clean history: every property ok" "10|0" "$(grep -cE '^ *ok +\|' "$T/report.txt")|$(grep -cE '^ *FAIL +\|' "$T/report.txt")"

clean
q db "UPDATE soak_attempts SET rc = 139 WHERE attempt = 'w3.j1.1'"
check
ok "a wrapper dying of SIGSEGV is a crash" fails_only "zero crashes"

clean
q db "UPDATE soak_attempts SET sanitizer = 1 WHERE attempt = 'w3.j1.1'"
check
ok "a sanitizer report is a crash" fails_only "zero crashes"

clean
q db "UPDATE soak_attempts SET skip_reason = NULL WHERE attempt = 'w3.j1.1'"
check
ok "exit 0 without a skip or a run is unaccounted" fails_only "every attempt accounted"

clean
q db "INSERT INTO soak_hist (job, token, attempt, seq, at) VALUES ('j1', 1, 'w1.j1.1', 2, to_timestamp($((base + 5000)) / 1000.0))"
check
grep -E '^ *FAIL +\|' "$T/report.txt" >"$T/fails.txt"
ok "a token-1 write accepted after a token-2 write goes back in token order" grep -q "never go back in token order" "$T/fails.txt"
ok "... and interleaves in time" grep -q "never interleave in time" "$T/fails.txt"

clean
q db "UPDATE soak_attempts SET cmd_end_ms = $((base + 4500)) WHERE attempt = 'w1.j1.1'"
check
ok "two COMMANDs of a job alive at once overlap" fails_only "no two COMMANDs"

clean
q db "UPDATE soak_attempts SET cmd_end_ms = NULL, rc = 75, lost_ts = '$(ts $((base + 3300)))', done_ts = '$(ts $((base + 5000)))' WHERE attempt = 'w1.j1.1'"
check
ok "a lost run's COMMAND killed grace after [CRON_LOST] overlaps the next run" fails_only "no two COMMANDs"

clean
q db "UPDATE soak_attempts SET stopped = 1, cmd_end_ms = $((base + 4500)) WHERE attempt = 'w1.j1.1'"
check
ok "a paused wrapper's COMMAND is left to fencing (no overlap failure)" bash -c "! grep -qE '^ *FAIL +\|' '$T/report.txt'"

clean
q db "UPDATE soak_attempts SET cmd_start_ms = $((healed + 20000)) WHERE attempt = 'w1.j1.2'"
check
ok "a job first running 20s after the heal is late" fails_only "runs resume within"

clean
q db "UPDATE soak_attempts SET rc = 0, run_ts = NULL, token = NULL, done_ts = NULL, done_status = NULL, skip_reason = 'DB_UNAVAILABLE', cmd_start_ms = NULL, cmd_end_ms = NULL, t0_ms = $((healed + 5000)) WHERE attempt = 'w1.j1.2'"
check
grep -E '^ *FAIL +\|' "$T/report.txt" >"$T/fails.txt"
ok "a skip well after the heal fails" grep -q "no attempt is skipped or lost" "$T/fails.txt"

clean
q db "UPDATE soak_attempts SET token = 7 WHERE attempt = 'w2.j1.1'"
check
ok "a token the server never issued is caught" fails_only "every token a wrapper ran with"
finish
