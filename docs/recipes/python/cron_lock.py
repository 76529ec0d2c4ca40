"""cron_lock.py: run a job under a cron_lock lease from a Python scheduler
(APScheduler, schedule, a loop), with psycopg 3.

    from cron_lock import cron_lock, cron_locked

    with cron_lock(conninfo, "nightly-report", instance="web-1") as lease:
        if lease:                        # False: skipped (busy, too soon, unreachable)
            for batch in batches():
                if lease.stop.is_set():  # the lease is lost: stop now
                    break
                with lease.fenced() as conn:   # cron_lock_check + your writes, one transaction
                    conn.execute("INSERT ...")

    @cron_locked("nightly-report", conninfo=DSN)    # for scheduler.add_job(...)
    def nightly(lease): ...

What it guarantees: one attempt uuid for every retry of one acquisition (a lost
reply comes back `replayed`, never a second lease); backoff with jitter; a
heartbeat every ttl/3 on its own connection and thread; `lease.stop` set when
the lease is lost (a heartbeat answered NULL, or none succeeded by deadline -
grace); the release reports the outcome (an exception in the block: failed);
a database blip is a logged skip, never an exception. Tokens are Python ints
(exact). Log lines use cronlock's tags, on stderr by default.
"""

import contextlib
import datetime
import os
import random
import socket
import sys
import threading
import time
import uuid

import psycopg

VERSION = "1.2.0"

# SQLSTATE -> (error class, retry?), as cronlock classifies them. Unknown ones stop.
_CLASSES = [
    ("08", "connection_reset", True),
    ("57P01", "admin_shutdown", True), ("57P02", "admin_shutdown", True),
    ("57P03", "cannot_connect_now", True),
    ("53300", "too_many_connections", True), ("53", "insufficient_resources", True),
    ("57014", "query_canceled", True), ("25006", "read_only", True),
    ("40001", "serialization", True), ("40P01", "serialization", True),
    ("55P03", "lock_not_available", True),
    ("28", "auth_failed", False), ("3D000", "database_missing", False),
    ("42883", "extension_missing", False), ("3F000", "extension_missing", False),
    ("42P01", "extension_missing", False), ("42501", "permission_denied", False),
    ("22004", "invalid_input", False), ("22023", "invalid_input", False),
]


def classify(err, phase):
    """(error class, retry?) of an exception; phase is 'connect' or 'query'.

    Uses the SQLSTATE and the exception type, never message text. A
    connection lost while a statement was pending is in doubt: the retry
    reuses the attempt uuid."""
    state = getattr(err, "sqlstate", None)
    if state:
        for prefix, cls, retry in _CLASSES:
            if state.startswith(prefix):
                return cls, retry
        return "server_error", False
    if isinstance(err, psycopg.ProgrammingError):
        return "bad_conninfo", False  # e.g. a malformed conninfo
    if isinstance(err, (psycopg.OperationalError, OSError)):
        return ("connection_refused" if phase == "connect" else "in_doubt"), True
    return "internal_error", False


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fmt(tag, fields):
    parts = ["[%s]" % tag]
    for k, v in fields.items():
        if v is None or v == "":
            continue
        s = str(v).lower() if isinstance(v, bool) else str(v)
        if any(c in s for c in ' \t\n"=\\'):
            s = '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        parts.append("%s=%s" % (k, s))
    return " ".join(parts)


def _text(err):
    """An exception's message on one line, no traceback."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]


class Lease:
    """What the block gets: true when acquired. job, instance, run_id, token
    (int), attempt, reason; stop (threading.Event, set when the lease is
    lost); after the block: outcome ('ran', 'busy', 'too_soon', 'paused',
    'skipped', 'lost', 'permanent', 'cancelled'), release ('ok', 'failed',
    'taken_over'), why (of a loss)."""

    def __init__(self, owner, job, instance, attempt):
        self._owner = owner
        self.job, self.instance, self.attempt = job, instance, attempt
        self.run_id = self.token = self.reason = self.why = self.release = None
        self.outcome = None
        self.stop = threading.Event()
        self.status, self.exit_code, self.message = "succeeded", None, None

    def __bool__(self):
        return self.token is not None and self.outcome is None

    def finish(self, status, exit_code=None, message=None):
        """Report how the job ended (default: succeeded; failed on an exception)."""
        self.status, self.exit_code, self.message = status, exit_code, message

    @contextlib.contextmanager
    def fenced(self, conn=None):
        """A transaction that starts with cron_lock_check: its writes commit
        under this lease's token or not at all (psycopg.Error with sqlstate
        LK001 when the lease is no longer current). conn: yours, else a new one."""
        own = conn is None
        if own:
            conn = self._owner.connect()
        try:
            with conn.transaction():
                conn.execute("SELECT cron_lock_check(%s, %s::bigint)", (self.job, self.token))
                yield conn
        finally:
            if own:
                conn.close()


class _CronLock:
    def __init__(self, conninfo, job, instance=None, ttl=60.0, min_gap=None, retries=5,
                 backoff=0.25, jitter=0.25, connect_timeout=5.0, grace=None, log=None,
                 on_lost=None, cancel=None):
        self.conninfo, self.job = conninfo, job
        self.instance = instance or os.environ.get("CRONLOCK_INSTANCE") or socket.gethostname()
        self.ttl, self.min_gap, self.retries = ttl, min_gap, retries
        self.backoff, self.jitter, self.connect_timeout = backoff, jitter, connect_timeout
        self.grace = grace if grace is not None else min(10.0, ttl / 4)
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.on_lost = on_lost      # called (from another thread) when the lease is lost
        self.cancel = cancel or threading.Event()  # set it to abandon the acquisition
        self.conn = None

    def connect(self):
        # Keepalives and tcp_user_timeout bound a dead network like cronlock's
        # defaults; psycopg has no client-side statement deadline of its own.
        return psycopg.connect(self.conninfo, autocommit=True, connect_timeout=max(1, round(self.connect_timeout)),
                               keepalives=1, keepalives_idle=10, tcp_user_timeout=10000,
                               application_name="cron_lock.py")

    def emit(self, tag, **fields):
        self.log(_fmt(tag, dict(ts=_now(), job=self.job, instance=self.instance, pid=os.getpid(), **fields)))

    def _statement(self, sql, params):
        """One statement on the main connection, reconnecting as needed; sets
        self.sent_at (when it was sent, after connecting). Raises _Failed."""
        if self.conn is None or self.conn.closed:
            try:
                self.conn = self.connect()
            except Exception as e:
                raise _Failed(e, "connect")
        try:
            self.sent_at = time.monotonic()
            return self.conn.execute(sql, params).fetchone()
        except Exception as e:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
            raise _Failed(e, "query")

    def _delay(self, k):
        return self.backoff * 2 ** k + random.uniform(0, self.jitter)

    def __enter__(self):
        self.t0 = time.monotonic()
        lease = self.lease = Lease(self, self.job, self.instance, str(uuid.uuid4()))
        self.emit("CRON_BOOT", started_at=_now(), version=VERSION, attempt=lease.attempt)
        last, tries = None, 0
        for k in range(self.retries + 1):
            if k and self.cancel.wait(self._delay(k - 1)):
                break
            tries = k + 1
            t_sent = time.monotonic()
            try:
                r = self._statement(
                    "SELECT acquired, reason, run_id, token, holder, pg_backend_pid(), took_over "
                    "FROM cron_lock_try(%s, %s, %s::bigint * interval '1 ms', %s::uuid, %s::bigint * interval '1 ms')",
                    (self.job, self.instance, round(self.ttl * 1000), lease.attempt,
                     None if self.min_gap is None else round(self.min_gap * 1000)))
            except _Failed as f:
                cls, retry = classify(f.err, f.phase)
                self.emit("CRON_LOCK", **{"try": tries, "outcome": "error",
                          "elapsed_ms": round((time.monotonic() - t_sent) * 1000), "error_class": cls,
                          "sqlstate": getattr(f.err, "sqlstate", None), "message": _text(f.err)})
                last = ("error", cls, retry, _text(f.err))
                if not retry:
                    break
                continue
            acquired, reason, run_id, token, holder, backend_pid, took_over = r
            elapsed = round((time.monotonic() - t_sent) * 1000)
            self.emit("CRON_LOCK", **{"try": tries, "outcome": "acquired" if acquired else "busy",
                      "elapsed_ms": elapsed, "reason": reason, "holder": None if acquired else holder,
                      "backend_pid": backend_pid})
            if acquired:
                lease.run_id, lease.token, lease.reason = run_id, token, reason
                self.emit("CRON_RUN", run_id=run_id, token=token, backend_pid=backend_pid,
                          reason=reason, took_over=took_over)
                self._start(self.sent_at)
                return lease
            last = ("busy", reason, holder)
            if reason != "locked":
                break  # held, too_soon, paused, or a reason newer than this file
        self._skip(last, tries)
        return lease

    def _skip(self, last, tries):
        lease, elapsed = self.lease, round((time.monotonic() - self.t0) * 1000)
        if self.cancel.is_set():
            lease.outcome = "cancelled"
            self.emit("CRON_SKIP", reason="CANCELLED", tries=tries, elapsed_ms=elapsed)
        elif last and last[0] == "busy":
            reason = "BUSY" if last[1] in ("held", "locked") else str(last[1]).upper()
            lease.outcome = reason.lower() if reason != "BUSY" else "busy"
            self.emit("CRON_SKIP", reason=reason, tries=tries, elapsed_ms=elapsed, holder=last[2])
        elif last and not last[2]:
            lease.outcome = "permanent"
            self.emit("CRON_SKIP", reason="PERMANENT_ERROR", tries=tries, elapsed_ms=elapsed,
                      error_class=last[1], message=last[3])
        else:
            lease.outcome = "skipped"
            self.emit("CRON_SKIP", reason="DB_UNAVAILABLE", tries=tries, elapsed_ms=elapsed,
                      error_class=last[1] if last else None)
        if self.conn is not None:
            self.conn.close()

    # Heartbeats on a thread and connection of their own; a timer declares the
    # loss at deadline - grace (deadline = when the last renewal was sent + ttl).
    def _start(self, t_sent):
        self.lock = threading.Lock()
        self.deadline = t_sent + self.ttl
        self.done = threading.Event()
        self.watch = None
        self._arm()
        self.beat = threading.Thread(target=self._heartbeats, daemon=True)
        self.beat.start()

    def _arm(self):
        with self.lock:
            if self.watch:
                self.watch.cancel()
            self.watch = threading.Timer(max(0, self.deadline - self.grace - time.monotonic()),
                                         self._lost, ("no_renewal",))
            self.watch.daemon = True
            self.watch.start()

    def _lost(self, why):
        with self.lock:
            if self.lease.why or self.done.is_set():
                return
            self.lease.why = why
        self.lease.stop.set()
        self.emit("CRON_LOST", run_id=self.lease.run_id, token=self.lease.token, why=why)
        if self.on_lost:
            self.on_lost(why)

    def _heartbeats(self):
        conn, wait = None, self.deadline - self.ttl + self.ttl / 3 - time.monotonic()
        while not self.done.wait(max(0, wait)) and not self.lease.why:
            try:
                if conn is None or conn.closed:
                    conn = self.connect()
                t_sent = time.monotonic()
                (expires,) = conn.execute("SELECT cron_lock_heartbeat(%s, %s::bigint, %s::bigint * interval '1 ms')",
                                          (self.job, self.lease.token, round(self.ttl * 1000))).fetchone()
            except Exception:
                if conn is not None:
                    conn.close()
                conn, wait = None, min(self.backoff * 2, self.ttl / 3)  # the timer decides the loss
                continue
            if self.done.is_set():
                break
            if expires is None:
                self._lost("heartbeat_null")
                break
            with self.lock:
                self.deadline = t_sent + self.ttl
            self._arm()
            wait = self.ttl / 3
        if conn is not None:
            conn.close()

    def __exit__(self, etype, err, tb):
        lease = self.lease
        if lease.outcome is not None:  # skipped: nothing to release
            return False
        self.done.set()
        self.watch.cancel()
        if err is not None:
            lease.status, lease.message = "failed", "%s: %s" % (etype.__name__, _text(err))
        if self.cancel.is_set() and not lease.why:
            lease.status = "cancelled"
        message = lease.message
        if lease.why:
            message = "lease lost (%s)%s" % (lease.why, ": " + message if message else "")
        lease.release, rel_cls = "failed", None
        for k in range(1 if lease.why else self.retries + 1):
            if k:
                time.sleep(self._delay(k - 1))
            try:
                (ok,) = self._statement("SELECT cron_lock_release(%s, %s::bigint, %s, %s)",
                                        (self.job, lease.token, lease.status, message))
                lease.release = "ok" if ok else "taken_over"
                break
            except _Failed as f:
                rel_cls, retry = classify(f.err, f.phase)
                if not retry:
                    break
        lease.outcome = "lost" if lease.why else "cancelled" if self.cancel.is_set() else "ran"
        self.emit("CRON_DONE", run_id=lease.run_id, status="lost" if lease.why else lease.status,
                  exit_code=lease.exit_code, duration_ms=round((time.monotonic() - self.t0) * 1000),
                  release=lease.release, error_class=rel_cls if lease.release == "failed" else None,
                  message=lease.message)
        if self.conn is not None:
            self.conn.close()
        return False  # the block's own exception goes on to the caller


class _Failed(Exception):
    def __init__(self, err, phase):
        super().__init__(str(err))
        self.err, self.phase = err, phase


def cron_lock(conninfo, job, **options):
    """Context manager: `with cron_lock(conninfo, job, instance=..., ttl=60) as lease:`.
    Options (seconds as floats): instance, ttl, min_gap, retries, backoff,
    jitter, connect_timeout, grace, log (a function taking one line),
    on_lost (called when the lease is lost), cancel (a threading.Event)."""
    return _CronLock(conninfo, job, **options)


def cron_locked(job, conninfo, **options):
    """Decorator for a scheduled function f(lease): runs it only when the
    lease is taken; returns the Lease (falsy when skipped)."""
    def wrap(f):
        def run(*args, **kwargs):
            with cron_lock(conninfo, job, **options) as lease:
                if lease:
                    f(lease, *args, **kwargs)
            return lease
        run.__name__, run.__doc__ = f.__name__, f.__doc__
        return run
    return wrap
