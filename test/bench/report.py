#!/usr/bin/env python3
"""test/bench/report.py: turn the raw results of test/bench/run.sh into the
table it prints, BENCHMARKS.md and the chart.

Reads from --work: results.tsv (one line per pgbench run), contention.tsv and
the pgbench --log files it names, command.N.json (hyperfine, one per round),
connect.tsv (pgbench -C), rss.tsv (GNU time %M, KiB), facts.txt.  Figures are
medians of the repeated runs; the spread is their min-max.  Goals are ratios
of medians measured in the same run and must hold at every client count.  Numbers are reported, never asserted: the exit
status is 0 whatever they are.
"""
import argparse
import csv
import glob
import json
import os
import statistics
import subprocess
import sys

# name -> (label, what one transaction is)
WORKLOADS = {
    "cycle": ("cycle: cron_lock", "cron_lock_try + cron_lock_release, random job of 1000"),
    "cycle_shedlock": ("cycle: ShedLock", "ShedLock usingDbTime() upsert + unlock UPDATE"),
    "cycle_writes": ("cycle: the writes alone", "lease UPDATE + run INSERT, then lease UPDATE + run UPDATE, two durable commits: what a lease with a run history writes"),
    "cycle_hand_rolled": ("cycle: hand-rolled", "PL/pgSQL SELECT ... FOR UPDATE helper: lock + unlock"),
    "cycle_advisory": ("cycle: advisory (ref.)", "pg_try_advisory_lock + pg_advisory_unlock (not durable)"),
    "cycle_hist1m": ("cycle: 1M history", "cycle with 1M finished runs in job_runs"),
    "cycle_hist10m": ("cycle: 10M history", "cycle with 10M finished runs in job_runs"),
    "cycle_sql": ("cycle: SQL edition", "cycle on the plain-SQL edition"),
    "busy": ("busy: cron_lock", "cron_lock_try on a lease another instance holds"),
    "select1": ("busy baseline: SELECT 1", "SELECT 1 (the round-trip floor)"),
    "busy_writes": ("busy: the event alone", "INSERT of one contention row, asynchronous commit: what the contract makes a busy answer write"),
    "busy_hand_rolled": ("busy: hand-rolled", "the PL/pgSQL helper on a lock another owner holds"),
    "busy_sql": ("busy: SQL edition", "busy on the plain-SQL edition"),
    "acquire": ("acquire: cron_lock", "cron_lock_try on a job never seen before"),
    "acquire_sql": ("acquire: SQL edition", "acquire on the plain-SQL edition"),
    "upsert": ("acquire baseline: upsert", "single-row INSERT ... ON CONFLICT DO UPDATE, committed"),
    "acquire_writes": ("acquire: the rows alone", "INSERT of a lease row and a run row, one durable commit: what the data model writes"),
}

# (name, ours, baseline, target, what)
GOALS = [
    ("cycle >= 1.0x ShedLock", "cycle", "cycle_shedlock", 1.0),
    ("busy >= 0.5x SELECT 1", "busy", "select1", 0.5),
    ("acquire >= 0.8x single-row upsert", "acquire", "upsert", 0.8),
    ("cycle with 1M history >= 0.9x empty", "cycle_hist1m", "cycle", 0.9),
    ("SQL edition: cycle >= 0.7x ShedLock", "cycle_sql", "cycle_shedlock", 0.7),
    ("SQL edition: busy >= 0.2x SELECT 1", "busy_sql", "select1", 0.2),
    ("SQL edition: acquire >= 0.5x upsert", "acquire_sql", "upsert", 0.5),
]
OTHER_RATIOS = [
    ("cycle vs hand-rolled", "cycle", "cycle_hand_rolled"),
    ("busy vs hand-rolled busy", "busy", "busy_hand_rolled"),
    ("cycle vs advisory (reference)", "cycle", "cycle_advisory"),
    ("cycle with 10M history vs empty", "cycle_hist10m", "cycle"),
    ("SQL edition vs extension: cycle", "cycle_sql", "cycle"),
    ("SQL edition vs extension: busy", "busy_sql", "busy"),
    ("SQL edition vs extension: acquire", "acquire_sql", "acquire"),
]
# What the contract or the data model makes any implementation write, done
# alone in plain SQL, beside the goal's baseline and beside cron_lock:
# (name, writes, baseline, ours).
WRITES_ALONE = [
    ("cycle: a lease with a run history", "cycle_writes", "cycle_shedlock", "cycle"),
    ("busy: one committed event row", "busy_writes", "select1", "busy"),
    ("acquire: a lease row and a run row", "acquire_writes", "upsert", "acquire"),
]
CMD_FLOCK = "flock -n FILE true"
CMD_CRONLOCK = "cronlock run --job x -- true"
CMD_POOLED = "cronlock run --job x -- true (via PgBouncer)"
CMD_PSQL = "psql -c 'SELECT 1'"
CMD_GOAL_MS = 5.0
RSS_GOAL_KIB = 8 * 1024


def read_facts(path):
    facts = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            facts[key] = value
    return facts


def number(text):
    """A figure of a results file, or None when it is empty or not a number
    (pgbench failed and printed no tps)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


# (workload, clients) of runs that gave no tps: reported as missing.
MISSING = set()


def read_results(path):
    """{(workload, clients): [run, ...]} with run = dict(tps, lat, rows);
    a run without a tps figure is left out and its key put in MISSING."""
    runs = {}
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            key = (row["workload"], int(row["clients"]))
            if number(row["tps"]) is None:
                MISSING.add(key)
                print(f"report: {key[0]} c={key[1]} rep {row.get('rep', '?')}: no tps figure, left out",
                      file=sys.stderr)
                continue
            runs.setdefault(key, []).append({
                "tps": float(row["tps"]),
                "lat": float(row["latency_ms"]) if row["latency_ms"] else None,
                "rows": int(row["history_rows"]) if row["history_rows"] else None,
            })
    return runs


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def read_contention(path):
    """[(workload, clients, tps, p50_ms, p99_ms, n)], from the pgbench logs
    (then summarised in contention_pct.tsv beside them) or that summary."""
    out = []
    summary = os.path.join(os.path.dirname(path), "contention_pct.tsv")
    if not os.path.exists(path):
        if os.path.exists(summary):
            with open(summary) as f:
                for row in csv.DictReader(f, delimiter="\t"):
                    if number(row["tps"]) is None:
                        continue
                    out.append((row["workload"], int(row["clients"]), float(row["tps"]),
                                float(row["p50_ms"]), float(row["p99_ms"]), int(row["n"])))
        return out
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if number(row["tps"]) is None:
                MISSING.add((row["workload"], int(row["clients"])))
                continue
            lat = []
            for log in glob.glob(row["log"] + ".*"):
                with open(log) as lf:
                    for line in lf:
                        fields = line.split()
                        if len(fields) >= 3:
                            lat.append(int(fields[2]) / 1000.0)
            lat.sort()
            out.append((row["workload"], int(row["clients"]), float(row["tps"]),
                        percentile(lat, 50), percentile(lat, 99), len(lat)))
    with open(summary, "w") as f:
        f.write("workload\tclients\ttps\tp50_ms\tp99_ms\tn\n")
        for r in out:
            if r[3] is not None:
                f.write("\t".join(str(x) for x in r) + "\n")
    return out


def fmt_tps(v):
    return f"{v:,.0f}"


def fmt_ms(v):
    if v is None:
        return "n/a"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def spread(values):
    med = statistics.median(values)
    if len(values) < 2:
        return f"{fmt_tps(med)}"
    return f"{fmt_tps(med)} ({fmt_tps(min(values))}-{fmt_tps(max(values))})"


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(lines)


def text_table(header, rows):
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = []
    for n, r in enumerate(cells):
        out.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                             for i, c in enumerate(r)))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--chart", required=True)
    ap.add_argument("--findings")
    args = ap.parse_args()
    w = args.work

    facts = read_facts(os.path.join(w, "facts.txt"))
    runs = read_results(os.path.join(w, "results.tsv"))
    clients = sorted({c for (_, c) in runs} | {c for (_, c) in MISSING})
    present = [k for k in WORKLOADS if any((k, c) in runs or (k, c) in MISSING for c in clients)]
    med = {key: statistics.median(r["tps"] for r in v) for key, v in runs.items()}

    # Throughput table.
    tp_header = ["workload"] + [f"c={c} tps" for c in clients] + ["one transaction"]
    tp_rows = []
    for k in present:
        tp_rows.append([WORKLOADS[k][0]] +
                       [spread([r["tps"] for r in runs[(k, c)]]) if (k, c) in runs
                        else "missing" if (k, c) in MISSING else "-"
                        for c in clients] + [WORKLOADS[k][1]])
    lat_header = ["workload"] + [f"c={c} ms" for c in clients]
    lat_rows = []
    for k in present:
        lat_rows.append([WORKLOADS[k][0]] +
                        [fmt_ms(statistics.median(r["lat"] for r in runs[(k, c)]))
                         if (k, c) in runs else "missing" if (k, c) in MISSING else "-" for c in clients])

    # Goals and ratios.
    goal_rows = []
    goal_summary = []
    for name, ours, base, target in GOALS:
        ratios = {c: med[(ours, c)] / med[(base, c)]
                  for c in clients if (ours, c) in med and (base, c) in med}
        if not ratios:
            goal_summary.append((name, "n/a", "not measured"))
            continue
        ok = all(r >= target for r in ratios.values())
        worst = min(ratios.values())
        lost = [str(c) for c in clients if (ours, c) in MISSING or (base, c) in MISSING]
        if lost:
            goal_summary.append((name, f"{worst:.2f}x (worst); c={','.join(lost)} missing",
                                 "MISS" if not ok else "incomplete"))
        else:
            goal_summary.append((name, f"{worst:.2f}x (worst)", "PASS" if ok else "MISS"))
        for c, r in ratios.items():
            best = max(x["tps"] for x in runs[(ours, c)]) / max(x["tps"] for x in runs[(base, c)])
            goal_rows.append([name, c, fmt_tps(med[(ours, c)]), fmt_tps(med[(base, c)]),
                              f"{r:.2f}x", f"{best:.2f}x", "PASS" if r >= target else "MISS"])
    writes_rows = []
    for name, writes, base, ours in WRITES_ALONE:
        for c in clients:
            if all((k, c) in med for k in (writes, base, ours)):
                writes_rows.append([name, c, fmt_tps(med[(writes, c)]),
                                    f"{med[(writes, c)] / med[(base, c)]:.2f}x",
                                    f"{med[(ours, c)] / med[(writes, c)]:.2f}x"])
    other_rows = []
    for name, ours, base in OTHER_RATIOS:
        for c in clients:
            if (ours, c) in med and (base, c) in med:
                other_rows.append([name, c, f"{med[(ours, c)] / med[(base, c)]:.2f}x"])

    # History rows actually present during the cycle runs.
    hist_rows = []
    for k in ("cycle", "cycle_hist1m", "cycle_hist10m"):
        rows = [r["rows"] for c in clients for r in runs.get((k, c), []) if r["rows"] is not None]
        if rows:
            hist_rows.append([WORKLOADS[k][0], f"{min(rows):,}", f"{max(rows):,}"])

    # Contention.
    cont = []
    cont = read_contention(os.path.join(w, "contention.tsv"))
    cont_by = {(wl, c): (tps, p50, p99) for wl, c, tps, p50, p99, _ in cont}
    cont_clients = sorted({c for _, c, *_ in cont})
    cont_rows = []
    for c in cont_clients:
        b = cont_by.get(("busy_cron_lock", c))
        if b:
            cont_rows.append([c, fmt_tps(b[0]), fmt_ms(c * 1000.0 / b[0]), fmt_ms(b[1]), fmt_ms(b[2])])

    # The command.
    cmd_rows = []
    cmd_goal = ("cronlock run -- true within 5 ms of flock", "n/a", "not measured: " + facts.get("command_status", "?"))
    rss_goal = ("cronlock peak RSS <= 8 MiB", "n/a", "not measured: " + facts.get("command_status", "?"))
    cpaths = sorted(glob.glob(os.path.join(w, "command*.json")))
    rss = {}
    rpath = os.path.join(w, "rss.tsv")
    if os.path.exists(rpath):
        with open(rpath) as f:
            for line in f:
                name, _, kib = line.strip().partition("\t")
                if kib.isdigit():
                    rss.setdefault(name, []).append(int(kib))
    if cpaths and facts.get("command_status") == "ok":
        # hyperfine runs in rounds (one file each) that alternate the commands,
        # so a change of machine load falls on all of them: pool each command's
        # times over the rounds.
        times = {}
        for cpath in cpaths:
            with open(cpath) as f:
                for r in json.load(f)["results"]:
                    times.setdefault(r["command"], []).extend(r["times"])
        hf = {name: {"median": statistics.median(t), "mean": statistics.mean(t),
                     "stddev": statistics.stdev(t) if len(t) > 1 else 0.0,
                     "min": min(t), "max": max(t), "times": t}
              for name, t in times.items()}
        def vs_flock(name):
            """The median's difference to flock's, in ms, or None."""
            if CMD_FLOCK not in hf or name not in hf:
                return None
            return (hf[name]["median"] - hf[CMD_FLOCK]["median"]) * 1000

        for name, r in hf.items():
            key = "cronlock" if name == CMD_CRONLOCK else "flock" if name == CMD_FLOCK else None
            peak = f"{max(rss[key]) / 1024:.1f} MiB" if key in rss else "-"
            d = vs_flock(name)
            cmd_rows.append([name, fmt_ms(r["median"] * 1000),
                             f"{r['mean'] * 1000:.2f} ± {r['stddev'] * 1000:.2f}",
                             fmt_ms(r["min"] * 1000), fmt_ms(r["max"] * 1000),
                             "-" if d is None or name == CMD_FLOCK else f"{d:+.2f}",
                             len(r["times"]), peak])
        d = vs_flock(CMD_CRONLOCK)
        if d is not None:
            # The verdict is the direct connection's; through PgBouncer is
            # shown beside it.
            measured = f"{d:+.2f} ms"
            dp = vs_flock(CMD_POOLED)
            if dp is not None:
                measured += f"; through PgBouncer: {dp:+.2f} ms"
            cmd_goal = ("cronlock run -- true within 5 ms of flock", measured,
                        "PASS" if d <= CMD_GOAL_MS else "MISS")
        if "cronlock" in rss:
            peak = max(rss["cronlock"])
            rss_goal = ("cronlock peak RSS <= 8 MiB", f"{peak / 1024:.1f} MiB",
                        "PASS" if peak <= RSS_GOAL_KIB else "MISS")
    goal_summary += [cmd_goal, rss_goal]

    # The server's part of one cronlock run: pgbench -C, a new connection each.
    connect = {}
    cpath = os.path.join(w, "connect.tsv")
    if os.path.exists(cpath):
        with open(cpath) as f:
            for r in csv.DictReader(f, delimiter="\t"):
                if r["latency_ms"]:
                    connect.setdefault(r["workload"], []).append(float(r["latency_ms"]))

    # WAL bytes per cycle (one client, nothing else running).
    wal_rows = []
    wpath = os.path.join(w, "wal.tsv")
    if os.path.exists(wpath):
        with open(wpath) as f:
            for r in csv.DictReader(f, delimiter="\t"):
                if r["bytes"]:
                    wal_rows.append([WORKLOADS[r["workload"]][0], r["cycles"],
                                     f"{float(r['bytes']) / int(r['cycles']):.0f}"])

    chart_ok = make_chart(args.chart, w, present, clients, runs, med, cont)

    # --- stdout -----------------------------------------------------------
    print()
    print(f"cron_lock benchmarks  {facts.get('date')}  nproc={facts.get('nproc')}  "
          f"{facts.get('postgres')}  {facts.get('seconds')} s x {facts.get('repeat')} runs per figure"
          + ("  (QUICK MODE)" if facts.get("quick") == "1" else ""))
    print()
    print("Throughput, transactions per second: median (min-max)")
    print(text_table(tp_header[:-1], [r[:-1] for r in tp_rows]))
    print()
    print("Goals (ratio of medians, every client count)")
    print(text_table(["goal", "clients", "ours", "baseline", "ratio", "best runs", "result"], goal_rows))
    print()
    print(text_table(["goal", "measured", "result"], goal_summary))
    if writes_rows:
        print()
        print("The contract's writes alone, in plain SQL (same run)")
        print(text_table(["writes", "clients", "tps", "writes / baseline", "ours / writes"], writes_rows))
    if wal_rows:
        print()
        print("WAL bytes per cycle (pg_current_wal_lsn difference, one client)")
        print(text_table(["workload", "cycles", "bytes per cycle"], wal_rows))
    if cont_rows:
        print()
        print("Contention: every client asks for one held job (latency ms)")
        print(text_table(["clients", "busy tps", "mean", "p50", "p99"], cont_rows))
    if cmd_rows:
        print()
        print("Whole process (ms)")
        print(text_table(["command", "median", "mean ± sd", "min", "max", "vs flock", "runs", "peak RSS"],
                         cmd_rows))
    print()

    # --- BENCHMARKS.md -------------------------------------------------------
    chart_rel = os.path.relpath(args.chart, os.path.dirname(os.path.abspath(args.out)))
    md = []
    md.append("# cron_lock benchmarks\n")
    md.append("Generated by `make bench` (`test/bench/run.sh`); do not edit by hand: the "
              "profiling notes at the end come from `test/bench/FINDINGS.md`.\n")
    if facts.get("quick") == "1":
        md.append("**Quick mode** (`BENCH_QUICK=1`): short single runs, for a smoke check only.\n")
    md.append("## Machine and method\n")
    md.append(md_table(["fact", "value"], [
        ["date", facts.get("date")],
        ["CPU", f"{facts.get('nproc')} cores, {facts.get('cpu')}"],
        ["memory", facts.get("memory")],
        ["kernel", facts.get("kernel")],
        ["PostgreSQL", facts.get("postgres")],
        ["server settings", facts.get("settings")],
        ["cron_lock", f"commit {facts.get('commit')}; {facts.get('so')}"],
        ["load average (1, 5, 15 min) at start / end", f"{facts.get('load_start')} / {facts.get('load_end')}"],
        ["runs", f"{facts.get('repeat')} x {facts.get('seconds')} s per figure, clients {facts.get('clients')}, "
                 f"{facts.get('jobs')} jobs; whole run {int(facts.get('elapsed_s', 0)) // 60} min"],
    ]))
    md.append("")
    md.append("""One throwaway cluster (`test/lib/cluster.sh`) with its default durability
(fsync on, `synchronous_commit = on`), reached over its unix socket; the
superuser runs everything.  `pgbench -n -M prepared`, one script per figure
(`test/bench/*.sql`), `-j 2` threads from 2 clients up; pgbench runs on the same
2 cores as the server.  Every figure is the median of the repeated runs, with
their min-max; within one repetition the runs are interleaved, each compared
pair back to back, after a `CHECKPOINT`.  A cycle is two transactions (try,
then release), as a scheduled job makes them; for ShedLock, its two statements,
each as one autocommit statement (ShedLock itself adds BEGIN/COMMIT round trips
through Spring's TransactionTemplate, so this is generous to it).  The cron_lock
calls pass job, instance and ttl, as a psql user would (cronlock also passes an
attempt uuid, which costs nothing measurable).
"History ~0" prunes finished runs (`cron_lock_prune('0 s')`) and rewrites the
table (`VACUUM FULL`) before each run; setup leaves every cycle job created.
""")
    md.append("## Goals\n")
    md.append("A goal is met when its ratio of medians holds at every client count. \"best runs\" is "
              "the ratio of each side's fastest run: on a shared machine, interference only slows a run "
              "down, so when the spread is wide it is the steadier estimate of what the code can do.\n")
    md.append(md_table(["goal", "measured", "result"], goal_summary))
    md.append("")
    md.append(md_table(["goal", "clients", "ours (tps)", "baseline (tps)", "ratio", "best runs", "result"],
                       goal_rows))
    md.append("")
    if other_rows:
        md.append("Other ratios (no goal):\n")
        md.append(md_table(["ratio", "clients", "value"], other_rows))
        md.append("")
    if writes_rows:
        md.append("The contract's writes alone: what the contract and its data model make any "
                  "implementation write, done as plain SQL on copies of cron_lock's tables (same "
                  "columns, indexes and fillfactors; `busy_writes.sql`, `acquire_writes.sql`, "
                  "`cycle_writes.sql`), with no function call, no checks and no row lock before the "
                  "token change, measured in the same run. \"writes / baseline\" shows what those "
                  "writes alone cost against the goal's baseline; \"ours / writes\" what cron_lock "
                  "costs against them. They are a reference, not a hard bound: the same writes made "
                  "from C skip some executor work, which is why cron_lock's cycle beats its "
                  "plain-SQL version.\n")
        md.append(md_table(["writes", "clients", "tps", "writes / baseline", "ours / writes"],
                           writes_rows))
        md.append("")
    if wal_rows:
        md.append("## WAL per cycle\n")
        md.append("`pg_current_wal_lsn()` difference over many cycles by one client, nothing else running, "
                  "starting right after a CHECKPOINT (so the full-page images of the pages first touched count).\n")
        md.append(md_table(["workload", "cycles", "bytes per cycle"], wal_rows))
        md.append("")
    md.append("## Throughput\n")
    md.append("Transactions per second, median (min-max).\n")
    md.append(md_table(tp_header, tp_rows))
    md.append("")
    if chart_ok:
        md.append(f"![throughput and contention]({chart_rel})\n")
    md.append("Average latency per transaction (ms, median of the runs):\n")
    md.append(md_table(lat_header, lat_rows))
    md.append("")
    if hist_rows:
        md.append("Rows in `cron_lock.job_runs` at the start of the cycle runs:\n")
        md.append(md_table(["workload", "fewest", "most"], hist_rows))
        md.append("")
    if cont_rows:
        md.append("## Contention: every client asks for one held job\n")
        md.append(f"`cron_lock_try` on one lease that another instance holds, {facts.get('contention_seconds')} s "
                  "per client count, every answer `held` (and recorded as a contention event); "
                  "latency in ms: mean = clients / tps, p50 and p99 from `pgbench --log` (pgbench stamps "
                  "times lazily, so with many clients per thread the percentiles lean low by up to a "
                  "few microseconds).\n")
        md.append(md_table(["clients", "busy tps", "mean ms", "p50 ms", "p99 ms"], cont_rows))
        md.append("")
    md.append("## The command\n")
    if cmd_rows:
        pool = facts.get("command_pool_status", "")
        if pool.startswith("ok"):
            pool_text = (f"\"via PgBouncer\" is the same command through {pool[4:].split(',')[0] or 'PgBouncer'} "
                         "(`pool_mode = transaction`, listening on loopback TCP, reaching the cluster "
                         "over its unix socket): its server connection is already open and warm, so "
                         "no backend starts. ")
        elif pool:
            pool_text = f"Through PgBouncer: {pool}. "
        else:
            pool_text = ""
        md.append("Whole process, `hyperfine -N` (no shell), in rounds that alternate the commands "
                  "(each command's times pooled over the rounds), against the same cluster over its "
                  "unix socket; " + pool_text + "`psql -c 'SELECT 1'` is one process that connects once, "
                  "`cronlock --version` is cronlock's process start alone, no database. "
                  "\"vs flock\" is the difference of medians, in ms. "
                  "Peak RSS is GNU time's %M over 5 runs. Before the timed runs the server finishes "
                  "the after-work of the SQL benchmarks, which would fall on cronlock alone: no "
                  f"autovacuum worker running, then a CHECKPOINT (waited {facts.get('quiet_waits') or '-'}).\n")
        md.append(md_table(["command", "median ms", "mean ± sd ms", "min ms", "max ms", "vs flock ms", "runs",
                            "peak RSS"], cmd_rows))
        md.append("")
        md.append(f"Runs of the timed jobs by status: {facts.get('command_runs') or '-'}; busy answers among "
                  f"them: {facts.get('command_busy') or '0'} (each timed run must be an acquisition).\n")
        if "connect_cycle" in connect and "connect_select1" in connect:
            cyc = statistics.median(connect["connect_cycle"])
            sel = statistics.median(connect["connect_select1"])
            md.append(f"The server's part of one run, measured with `pgbench -C` (a new connection per "
                      f"transaction, 1 client, {len(connect['connect_cycle'])} runs): a new connection that "
                      f"sends what cronlock sends (`SELECT 1`, the try, the release; "
                      f"`connect_cycle.sql`) takes **{cyc:.2f} ms**, of which {sel:.2f} ms is the "
                      f"connection with `SELECT 1` alone (`connect_select1.sql`: the backend's start, "
                      f"authentication, its exit). That is before cronlock's own process and the "
                      f"fork/exec of the job, which `flock` pays too.\n")
    else:
        md.append(f"Not measured: {facts.get('command_status')}.\n")
    if args.findings and os.path.exists(args.findings):
        md.append("---\n")
        with open(args.findings) as f:
            md.append(f.read().rstrip() + "\n")
    with open(args.out, "w") as f:
        f.write("\n".join(md).rstrip() + "\n")
    return 0


def make_chart(chart, work, present, clients, runs, med, cont):
    """Three panels: cycle family, single calls, contention latency."""
    datadir = os.path.join(work, "chart")
    os.makedirs(datadir, exist_ok=True)
    for k in present:
        with open(os.path.join(datadir, k + ".dat"), "w") as f:
            for c in clients:
                if (k, c) in runs:
                    v = [r["tps"] for r in runs[(k, c)]]
                    f.write(f"{c} {med[(k, c)]} {min(v)} {max(v)}\n")
    for wl in ("busy_cron_lock",):
        with open(os.path.join(datadir, "cont_" + wl + ".dat"), "w") as f:
            for name, c, tps, p50, p99, _ in sorted(cont, key=lambda x: x[1]):
                if name == wl and p50 is not None:
                    f.write(f"{c} {p50} {p99}\n")

    def plot(keys):
        parts = []
        for k in keys:
            if k in present:
                parts.append(f"'{datadir}/{k}.dat' using 1:2:3:4 with yerrorlines title '{WORKLOADS[k][0]}'")
        return ", \\\n  ".join(parts)

    cycle_keys = ["cycle", "cycle_sql", "cycle_shedlock", "cycle_writes", "cycle_hand_rolled", "cycle_hist1m", "cycle_hist10m", "cycle_advisory"]
    call_keys = ["busy", "busy_sql", "select1", "busy_writes", "busy_hand_rolled", "acquire", "acquire_sql", "upsert", "acquire_writes"]
    xtics = "(" + ", ".join(f"'{c}' {c}" for c in clients) + ")"
    script = f"""
set terminal svg size 1500,560 dynamic noenhanced font 'sans,12' background '#ffffff'
set output '{chart}'
set multiplot layout 1,3 title 'cron_lock: throughput and contention (median of runs, bars min-max)'
set logscale x 2
set logscale y
set xtics {xtics}
set xrange [0.7:{max(clients) * 1.4}]
set grid ytics mytics
set key below font ',10'
set xlabel 'clients'
set ylabel 'transactions per second'
set format y '%.0f'
set title 'lock + unlock cycles'
plot {plot(cycle_keys)}
set title 'single calls'
plot {plot(call_keys)}
set title 'one held job, every client asking'
set ylabel 'latency (ms)'
set format y '%g'
unset xtics
set xtics (1, 2, 4, 8, 16, 32, 64)
set xrange [0.7:90]
plot '{datadir}/cont_busy_cron_lock.dat' using 1:2 with linespoints title 'busy answer p50', \\
  '{datadir}/cont_busy_cron_lock.dat' using 1:3 with linespoints title 'busy answer p99'
unset multiplot
"""
    path = os.path.join(datadir, "chart.gp")
    with open(path, "w") as f:
        f.write(script)
    r = subprocess.run(["gnuplot", path], capture_output=True, text=True)
    if r.returncode != 0:
        print("report: gnuplot failed:\n" + r.stderr, file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
