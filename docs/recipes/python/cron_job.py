#!/usr/bin/python3
"""cron_job.py: `cronlock run` in Python, over cron_lock.py (psycopg 3).

    DATABASE_URL=postgres://... cron_job.py --job J [--instance I] [options] -- COMMAND [ARG...]

COMMAND runs in its own process group with CRONLOCK_JOB, CRONLOCK_RUN_ID,
CRONLOCK_TOKEN and CRONLOCK_INSTANCE set; it gets SIGTERM, then SIGKILL after
--grace, when the lease is lost. Exit status: COMMAND's (128+N for signal N,
126/127 when it cannot be started); --on-busy (0) when busy, too soon or
paused; --on-unavailable (0) when the database stayed unreachable; 64 usage;
75 lease lost; 78 permanent error (authentication, missing cron_lock, ...).
"""

import os
import re
import signal
import subprocess
import sys
import threading

from cron_lock import cron_lock

USAGE = """usage: cron_job.py --job NAME [--instance ID] [--ttl D] [--min-gap D] [--retries N]
       [--backoff D] [--jitter D] [--connect-timeout D] [--grace D]
       [--on-busy CODE] [--on-unavailable CODE] [--db CONNINFO] -- COMMAND [ARG...]
The database: --db, else $CRONLOCK_DB, else $DATABASE_URL, else libpq's PG* variables.
D: 250ms, 30s, 5m, 1h, 1d, combinations (1m30s) or bare seconds."""


def usage(msg):
    print("cron_job.py: %s\n%s" % (msg, USAGE), file=sys.stderr)
    sys.exit(64)


def duration(name, s):
    """'1m30s' -> seconds (float), as cronlock reads DURATION."""
    if re.fullmatch(r"\d+", s):
        return float(s)
    m = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?", s)
    if not m or not s:
        usage("%s: not a duration: %s" % (name, s))
    d, h, mi, se, ms = (int(x or 0) for x in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + se + ms / 1000


def integer(name, s, top):
    if not re.fullmatch(r"\d+", s) or int(s) > top:
        usage("%s: not an integer in [0, %d]: %s" % (name, top, s))
    return int(s)


def main(argv):
    opts, job, command = {}, None, None
    db = os.environ.get("CRONLOCK_DB") or os.environ.get("DATABASE_URL") or ""
    on_busy = on_unavailable = 0
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            command = argv[i + 1:]
            break
        if a in ("-h", "--help"):
            print(USAGE)
            return 0
        if not a.startswith("-"):
            command = argv[i:]
            break
        k, _, inline = a.partition("=")
        if not inline:
            i += 1
            if i >= len(argv):
                usage("%s needs a value" % k)
            inline = argv[i]
        v = inline
        if k == "--job":
            job = v
        elif k == "--instance":
            opts["instance"] = v
        elif k in ("--ttl", "--min-gap", "--backoff", "--jitter", "--connect-timeout", "--grace"):
            opts[k[2:].replace("-", "_")] = duration(k, v)
        elif k == "--retries":
            opts["retries"] = integer(k, v, 100)
        elif k == "--on-busy":
            on_busy = integer(k, v, 255)
        elif k == "--on-unavailable":
            on_unavailable = integer(k, v, 255)
        elif k == "--db":
            db = v
        else:
            usage("unknown option %s" % a)
        i += 1
    if not job:
        usage("--job is required")
    if not command:
        usage("no COMMAND given")
    if opts.get("ttl", 60) < 3:
        usage("--ttl: at least 3s")
    grace = opts.get("grace", min(10.0, opts.get("ttl", 60.0) / 4))

    child = None
    stopped = []            # the signal that stopped us, if any
    cancel = threading.Event()

    def on_signal(sig, _frame):
        stopped.append(sig)
        if child is not None:
            with_group(child, sig)
        else:
            cancel.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, on_signal)

    def on_lost(_why):
        if child is not None:
            with_group(child, signal.SIGTERM)
            killer = threading.Timer(grace, with_group, (child, signal.SIGKILL))
            killer.daemon = True
            killer.start()

    with cron_lock(db, job, on_lost=on_lost, cancel=cancel, **opts) as lease:
        if lease:
            env = dict(os.environ, CRONLOCK_JOB=job, CRONLOCK_RUN_ID=str(lease.run_id),
                       CRONLOCK_TOKEN=str(lease.token), CRONLOCK_INSTANCE=lease.instance)
            try:
                child = subprocess.Popen(command, env=env, start_new_session=True)
            except OSError as e:
                code = 127 if isinstance(e, FileNotFoundError) else 126
                lease.finish("failed", code, "cannot run %s: %s" % (command[0], e.strerror))
            else:
                if lease.stop.is_set():
                    on_lost(lease.why)
                code = child.wait()
                with_group(child, signal.SIGTERM)  # what COMMAND left running in its group
                exit_code = code if code >= 0 else 128 - code
                status = "cancelled" if stopped else "succeeded" if code == 0 else "failed"
                message = None if code == 0 else ("killed by signal %d" % -code if code < 0 else "exit status %d" % code)
                lease.finish(status, exit_code, message)
    return {
        "ran": lambda: lease.exit_code or 0,
        "lost": lambda: 75,
        "permanent": lambda: 78,
        "skipped": lambda: on_unavailable,
        "cancelled": lambda: lease.exit_code if lease.exit_code is not None else 128 + (stopped[0] if stopped else 15),
    }.get(lease.outcome, lambda: on_busy)()  # busy, too_soon, paused, or a newer reason


def with_group(child, sig):
    try:
        os.killpg(child.pid, sig)
    except OSError:
        pass  # already gone


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
