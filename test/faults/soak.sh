#!/usr/bin/env bash
# test/faults/soak.sh [DURATION]: the fault-injection soak (make soak DURATION=10m).
#
# N instances x M jobs of wrapper loops run `cronlock run` again and again
# ("cron ticks"); each COMMAND makes guarded writes (cron_lock_check with its
# token, then an insert into soak_hist) for a random time, some longer than the
# TTL so that heartbeats matter.  Instances w1..w(N-1) reach the cluster through
# the fault proxy, the last one through PgBouncer (transaction pooling) behind
# the same proxy.  A nemesis applies random faults all along: proxy resets,
# black holes, freezes, latency, lost replies, reset requests; terminated
# backends; fast and crash restarts; a SIGSTOPped postmaster; exhausted
# connection slots (53300); paused (SIGSTOP) and killed (-9) wrappers.  Then all
# faults are healed and the loops go on for a resume window.
#
# The checker (check_history.sql) proves from the history: zero crashes (every
# wrapper exit in the documented set, no sanitizer report, no core), no two runs
# of a job overlapping, accepted writes never going back in token order, every
# attempt accounted for, and runs resuming within TTL + backoff after the faults
# stop.  It prints a table of faults and outcomes.  Exit 0 only if all hold.
#
# Env: CRONLOCK_BIN, SOAK_INSTANCES (3), SOAK_JOBS (3), SOAK_SEED, FAULTS_KEEP=1.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export REPO=${REPO:-$(cd "$HERE/../.." && pwd)}
SCENARIO=soak
source "$HERE/lib.sh"
need_cronlock
build_proxy

to_secs() {
	local d=${1:-10m}
	case $d in
	*h) echo $((${d%h} * 3600)) ;;
	*m) echo $((${d%m} * 60)) ;;
	*s) echo "${d%s}" ;;
	*) echo "$d" ;;
	esac
}
DURATION=$(to_secs "${1:-${DURATION:-10m}}")
[[ "$DURATION" =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 10 ] || {
	echo "usage: soak.sh [DURATION] (at least 10s; 30s, 10m, 1h)" >&2
	exit 64
}
N=${SOAK_INSTANCES:-3}
M=${SOAK_JOBS:-3}
RANDOM=${SOAK_SEED:-$$}
TTL=3
GRACE=1
# Bound for "runs resume after faults stop": a stale lease (TTL) + the retry
# budget (3 connect timeouts of 1s, backoff 0.1+0.2s, jitter) + one command
# (<= 2.5s) + the loop's pause (<= 0.5s) + slack.
RESUME_BOUND=$((TTL + GRACE + 4 + 3 + 2))
HEAL_WINDOW=$((RESUME_BOUND + 6))
CLARGS=(--ttl ${TTL}s --grace ${GRACE}s --retries 2 --backoff 100ms --jitter 100ms
	--connect-timeout 1s --preflight-timeout 1s)

ulimit -c unlimited 2>/dev/null
mkdir -p "$T/logs" "$T/pids" "$T/work" "$T/cmdtimes"
chmod 777 "$T/work"

pg_new db "max_connections = 150" "client_connection_check_interval = 500ms" || exit 1
q db "CREATE ROLE jobs LOGIN IN ROLE cron_lock_user"
q db "CREATE TABLE soak_hist (id bigserial PRIMARY KEY, job text NOT NULL, token bigint NOT NULL,
	attempt text NOT NULL, seq int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())"
proxy_start px "$(pg_port db)" || exit 1
bouncer_start pb "$(proxy_port px)" transaction 6 || exit 1
VIA_PROXY="host=127.0.0.1 port=$(proxy_port px) user=jobs dbname=postgres"
VIA_BOUNCER="host=127.0.0.1 port=$(bouncer_port pb) user=jobs dbname=postgres"
DIRECT="host=$T/db port=$(pg_port db) user=postgres dbname=postgres connect_timeout=2"

# COMMAND: guarded writes every 0.3s for about $1 seconds; writes that are
# rejected (LK001) or fail (database unreachable) are simply not recorded.
cat >"$T/cmd.sh" <<CMD
#!/bin/sh
date +%s%3N >"$T/cmdtimes/\$SOAK_ATTEMPT.start"
n=\$(( (\$1 * 10 + 2) / 3 ))
i=0
while [ \$i -lt \$n ]; do
	psql -XAtq -d "$DIRECT" -v ON_ERROR_STOP=1 -c "BEGIN" \\
		-c "SELECT cron_lock_check('\$CRONLOCK_JOB', \$CRONLOCK_TOKEN)" \\
		-c "INSERT INTO soak_hist (job, token, attempt, seq) VALUES ('\$CRONLOCK_JOB', \$CRONLOCK_TOKEN, '\$SOAK_ATTEMPT', \$i)" \\
		-c "COMMIT" >/dev/null 2>&1
	i=\$((i + 1))
	sleep 0.3
done
date +%s%3N >"$T/cmdtimes/\$SOAK_ATTEMPT.end"
exit 0
CMD
chmod 755 "$T/cmd.sh"

T_START=$(now_ms)
T_FAULTS_END=$((T_START + DURATION * 1000))
T_END=$((T_FAULTS_END + HEAL_WINDOW * 1000))

# wrapper_loop INSTANCE JOB CONNINFO: cron ticks until T_END.
wrapper_loop() {
	local inst=$1 job=$2 db=$3 n=0 att tpid cpid rc t0 t1 dur
	RANDOM=$((BASHPID + ${SOAK_SEED:-0}))
	cd "$T/work" || return
	while [ "$(now_ms)" -lt "$T_END" ] && [ $n -lt 100000 ]; do
		n=$((n + 1))
		att=$inst.$job.$n
		dur=$((RANDOM % 3 + 1))
		[ $((RANDOM % 3)) = 0 ] && dur=$((TTL + 1)) # longer than the TTL: heartbeats needed
		t0=$(now_ms)
		SOAK_ATTEMPT=$att timeout -k 5 60 "$CRONLOCK_BIN" run --log-to stderr --job "$job" --instance "$inst" \
			--db "$db" "${CLARGS[@]}" -- "$T/cmd.sh" "$dur" 2>"$T/logs/$att.log" &
		tpid=$!
		cpid=
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			cpid=$(pgrep -P "$tpid" -x cronlock | head -1) && [ -n "$cpid" ] && break
			sleep 0.02
		done
		[ -n "$cpid" ] && echo "$cpid $att" >"$T/pids/$inst.$job"
		wait "$tpid"
		rc=$?
		t1=$(now_ms)
		rm -f "$T/pids/$inst.$job"
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$att" "$inst" "$job" "$rc" "$t0" "$t1" >>"$T/attempts.$inst.$job.tsv"
		sleep "0.$((RANDOM % 5))"
	done
}

# ---------------------------------------------------------------- nemesis
fault_log() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$T/faults.tsv"; }

pick_wrapper() {
	local f
	f=$(find "$T/pids" -type f 2>/dev/null | shuf -n 1 2>/dev/null)
	[ -n "$f" ] && cat "$f" 2>/dev/null
}

nemesis() {
	local kind d t0 pid att pm k=0 cycle=()
	local kinds=(reset blackhole freeze latency drop_reply reset_request terminate
		restart_fast crash stop_postmaster slots stop_wrapper kill_wrapper)
	while [ "$(now_ms)" -lt "$T_FAULTS_END" ] && [ $k -lt 100000 ]; do
		k=$((k + 1))
		sleep "$((RANDOM % 2)).$((RANDOM % 10))"
		[ "$(now_ms)" -lt "$T_FAULTS_END" ] || break
		# Every kind once per cycle, in a random order: short soaks see them all.
		if [ ${#cycle[@]} -eq 0 ]; then
			mapfile -t cycle < <(printf '%s\n' "${kinds[@]}" | shuf --random-source=<(yes "$RANDOM"))
		fi
		kind=${cycle[0]}
		cycle=("${cycle[@]:1}")
		d=$((RANDOM % 5 + 1)) # 1..5s: sometimes longer than the TTL (3s)
		t0=$(now_ms)
		att=
		case $kind in
		reset) proxy px reset; d=0 ;;
		blackhole) proxy px blackhole; sleep "$d"; proxy px pass ;;
		freeze) proxy px freeze; sleep "$d"; proxy px thaw ;;
		latency) proxy px latency $((RANDOM % 400 + 100)); sleep "$d"; proxy px latency 0 ;;
		drop_reply)
			case $((RANDOM % 3)) in
			0) proxy px drop-reply-after cron_lock_try ;;
			1) proxy px drop-reply-after cron_lock_heartbeat ;;
			2) proxy px drop-reply-after cron_lock_release ;;
			esac
			sleep "$d"; proxy px disarm ;;
		reset_request)
			if [ $((RANDOM % 2)) = 0 ]; then proxy px reset-on cron_lock_try; else proxy px reset-on cron_lock_heartbeat; fi
			sleep "$d"; proxy px disarm ;;
		terminate)
			q db "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'jobs'" >/dev/null 2>&1
			d=0 ;;
		restart_fast)
			pg_ctl_ db -m fast -w -t 60 restart >/dev/null 2>&1 || pg_ctl_ db -w -t 60 start >/dev/null 2>&1
			d=0 ;;
		crash)
			pid=$(q db "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY random() LIMIT 1" 2>/dev/null)
			[ -n "$pid" ] && kill -9 "$pid"
			wait_for 30 pg_up db
			d=0 ;;
		stop_postmaster)
			pm=$(pg_pid db)
			[ -n "$pm" ] && { kill -STOP "$pm"; sleep "$d"; kill -CONT "$pm"; } ;;
		slots)
			q db "ALTER ROLE jobs CONNECTION LIMIT 0" >/dev/null 2>&1
			sleep "$d"
			q db "ALTER ROLE jobs CONNECTION LIMIT -1" >/dev/null 2>&1 ;;
		stop_wrapper)
			read -r pid att <<<"$(pick_wrapper)"
			if [ -n "${pid:-}" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = cronlock ]; then
				echo "$att" >>"$T/stopped.txt"
				kill -STOP "$pid"; sleep "$d"; kill -CONT "$pid"
			else
				att=; d=0
			fi ;;
		kill_wrapper)
			read -r pid att <<<"$(pick_wrapper)"
			if [ -n "${pid:-}" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = cronlock ]; then
				echo "$att" >>"$T/killed.txt"
				kill -9 "$pid"
			else
				att=
			fi
			d=0 ;;
		esac
		fault_log "$kind" "$t0" "$(now_ms)" "$att"
		pg_up db || pg_ctl_ db -w -t 60 start >/dev/null 2>&1
	done
}

heal() {
	proxy px pass; proxy px thaw; proxy px latency 0; proxy px disarm
	local pm
	pm=$(pg_pid db)
	[ -n "$pm" ] && kill -CONT "$pm" 2>/dev/null
	pg_up db || { pg_ctl_ db -w -t 60 start >/dev/null 2>&1; wait_for 30 pg_up db; }
	q db "ALTER ROLE jobs CONNECTION LIMIT -1" >/dev/null
}

echo "soak: ${DURATION}s of faults, then ${HEAL_WINDOW}s healed; $N instances x $M jobs; ttl ${TTL}s; dir $T"
loops=()
for i in $(seq 1 "$N"); do
	db=$VIA_PROXY
	[ "$i" = "$N" ] && db=$VIA_BOUNCER
	for j in $(seq 1 "$M"); do
		wrapper_loop "w$i" "j$j" "$db" 2>>"$T/loops.err" &
		loops+=($!)
		echo "$!" >>"$T/.pids"
	done
done
nemesis
heal
T_HEALED=$(now_ms)
echo "soak: faults stopped, healed; resume window ${HEAL_WINDOW}s"
for p in "${loops[@]}"; do
	wait "$p"
done
T_DONE=$(now_ms)

# ---------------------------------------------------------------- history
# One row per attempt: exit status and what its log says.
cat "$T"/attempts.*.tsv >"$T/attempts.tsv"
touch "$T/stopped.txt" "$T/killed.txt"
# One awk pass (a few thousand attempts: no process per line).
awk -F'\t' -v OFS='\t' -v T="$T" '
	function fld(line, key,    m) {
		if (match(line, " " key "=[^ ]+")) {
			m = substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
			gsub(/"/, "", m)
			return m
		}
		return "\\N"
	}
	function first(file,    l) { l = ""; if ((getline l < file) > 0) { close(file); return l } close(file); return "\\N" }
	FILENAME ~ /stopped.txt$/ { stopped[$1] = 1; next }
	FILENAME ~ /killed.txt$/ { killed[$1] = 1; next }
	{
		att = $1; f = T "/logs/" att ".log"
		runts = token = lostts = donets = donest = skip = "\\N"; san = 0
		while ((getline line < f) > 0) {
			if (index(line, "[CRON_RUN]") && runts == "\\N") { runts = fld(line, "ts"); token = fld(line, "token") }
			else if (index(line, "[CRON_LOST]") && lostts == "\\N") lostts = fld(line, "ts")
			else if (index(line, "[CRON_DONE]") && donets == "\\N") { donets = fld(line, "ts"); donest = fld(line, "status") }
			else if (index(line, "[CRON_SKIP]") && skip == "\\N") skip = fld(line, "reason")
			if (line ~ /Sanitizer|runtime error:/) san = 1
		}
		close(f)
		print att, $2, $3, $4, $5, $6, runts, token, lostts, donets, donest, skip, san,
			(att in stopped) ? 1 : 0, (att in killed) ? 1 : 0,
			first(T "/cmdtimes/" att ".start"), first(T "/cmdtimes/" att ".end")
	}' "$T/stopped.txt" "$T/killed.txt" "$T/attempts.tsv" >"$T/outcomes.tsv"
SOAK_TABLES=$(soak_tables)
cores=$(find "$T/work" -maxdepth 1 -name 'core*' | wc -l)
cp "$T/faults.tsv" "$T/faults.load.tsv" 2>/dev/null || : >"$T/faults.load.tsv"

psql -X -q -h "$T/db" -p "$(pg_port db)" -U postgres -d postgres -v ON_ERROR_STOP=1 \
	-v t_start="$T_START" -v t_healed="$T_HEALED" -v t_done="$T_DONE" -v ttl="$TTL" -v grace="$GRACE" \
	-v resume_bound="$RESUME_BOUND" -v cores="$cores" \
	-c "$SOAK_TABLES" \
	-c "\\copy soak_attempts FROM '$T/outcomes.tsv'" \
	-c "\\copy soak_faults FROM '$T/faults.load.tsv'" \
	-f "$HERE/check_history.sql" | tee "$T/report.txt"
rc=${PIPESTATUS[0]}
fails=$(grep -cE '^ *FAIL +\|' "$T/report.txt")
passes=$(grep -cE '^ *ok +\|' "$T/report.txt")
PASSED=$passes
FAILED=$fails
[ "$rc" -ne 0 ] && FAILED=$((FAILED + 1))
echo "soak: $(wc -l <"$T/attempts.tsv") attempts, $(wc -l <"$T/faults.load.tsv") faults in $(((T_DONE - T_START) / 1000))s"
[ "$FAILED" -gt 0 ] && FAULTS_KEEP=1
finish
