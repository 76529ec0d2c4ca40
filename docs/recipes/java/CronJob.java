// CronJob.java: `cronlock run` in Java, over the CronLock helper below (JDBC).
// One source file, run without a build step (Java 11 or newer):
//
//   DATABASE_URL=postgres://u@host/db java -cp /usr/share/java/postgresql.jar CronJob.java \
//       --job J [--instance I] [options] -- COMMAND [ARG...]
//
// COMMAND runs with CRONLOCK_JOB, CRONLOCK_RUN_ID, CRONLOCK_TOKEN and
// CRONLOCK_INSTANCE set; it (and its descendants) get SIGTERM, then SIGKILL
// after --grace, when the lease is lost. Exit status: COMMAND's (128+N for
// signal N, 126/127 when it cannot be started); --on-busy (0) when busy, too
// soon or paused; --on-unavailable (0) when the database stayed unreachable;
// 64 usage; 75 lease lost; 78 permanent error.
//
// CronLock (the second class) is what a Spring @Scheduled method uses: copy it
// into your application (docs/recipes/README.md shows how).

import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class CronJob {
    static final String USAGE = String.join("\n",
        "usage: CronJob.java --job NAME [--instance ID] [--ttl D] [--min-gap D] [--retries N]",
        "       [--backoff D] [--jitter D] [--connect-timeout D] [--timeout D] [--grace D]",
        "       [--on-busy CODE] [--on-unavailable CODE] [--db URL] -- COMMAND [ARG...]",
        "The database: --db, else $CRONLOCK_DB, else $DATABASE_URL (postgres://user:pw@host:port/db or jdbc:postgresql:...).",
        "D: 250ms, 30s, 5m, 1h, 1d, combinations (1m30s) or bare seconds.");

    static void usage(String msg) {
        System.err.println("CronJob.java: " + msg + "\n" + USAGE);
        System.exit(64);
    }

    /** "1m30s" -> milliseconds, as cronlock reads DURATION. */
    static long duration(String name, String s) {
        if (s.matches("\\d+")) return Long.parseLong(s) * 1000;
        Matcher m = Pattern.compile("(?:(\\d+)d)?(?:(\\d+)h)?(?:(\\d+)m(?!s))?(?:(\\d+)s)?(?:(\\d+)ms)?").matcher(s);
        if (s.isEmpty() || !m.matches()) usage(name + ": not a duration: " + s);
        long[] v = new long[5];
        for (int i = 0; i < 5; i++) v[i] = m.group(i + 1) == null ? 0 : Long.parseLong(m.group(i + 1));
        return (((v[0] * 24 + v[1]) * 60 + v[2]) * 60 + v[3]) * 1000 + v[4];
    }

    static int integer(String name, String s, int max) {
        if (!s.matches("\\d{1,9}") || Integer.parseInt(s) > max) usage(name + ": not an integer in [0, " + max + "]: " + s);
        return Integer.parseInt(s);
    }

    public static void main(String[] args) throws Exception {
        CronLock.Options o = new CronLock.Options();
        String job = null;
        String db = System.getenv("CRONLOCK_DB") != null ? System.getenv("CRONLOCK_DB") : System.getenv("DATABASE_URL");
        int onBusy = 0, onUnavailable = 0;
        List<String> command = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--")) { command = List.of(args).subList(i + 1, args.length); break; }
            if (a.equals("--help") || a.equals("-h")) { System.out.println(USAGE); return; }
            if (!a.startsWith("-")) { command = List.of(args).subList(i, args.length); break; }
            String k = a, v;
            if (a.contains("=")) { k = a.substring(0, a.indexOf('=')); v = a.substring(a.indexOf('=') + 1); }
            else if (i + 1 < args.length) v = args[++i];
            else { usage(a + " needs a value"); return; }
            switch (k) {
                case "--job": job = v; break;
                case "--instance": o.instance = v; break;
                case "--ttl": o.ttlMs = duration(k, v); break;
                case "--min-gap": o.minGapMs = duration(k, v); break;
                case "--retries": o.retries = integer(k, v, 100); break;
                case "--backoff": o.backoffMs = duration(k, v); break;
                case "--jitter": o.jitterMs = duration(k, v); break;
                case "--connect-timeout": o.connectTimeoutMs = duration(k, v); break;
                case "--timeout": o.timeoutMs = duration(k, v); break;
                case "--grace": o.graceMs = duration(k, v); break;
                case "--on-busy": onBusy = integer(k, v, 255); break;
                case "--on-unavailable": onUnavailable = integer(k, v, 255); break;
                case "--db": db = v; break;
                default: usage("unknown option " + a);
            }
        }
        if (job == null) usage("--job is required");
        if (command == null || command.isEmpty()) usage("no COMMAND given");
        if (o.ttlMs < 3000) usage("--ttl: at least 3s");
        if (db == null) usage("no database: --db, $CRONLOCK_DB or $DATABASE_URL");
        final List<String> cmd = command;
        final long grace = o.graceMs >= 0 ? o.graceMs : Math.min(10_000, o.ttlMs / 4);
        final String url = db;

        CronLock lock = new CronLock(() -> CronLock.connect(url, o.connectTimeoutMs), o);
        Process[] child = new Process[1];
        // SIGTERM/SIGINT/SIGHUP end the JVM through its shutdown hooks: stop COMMAND,
        // let the release happen (Java offers no portable signal handler).
        java.util.concurrent.CountDownLatch finished = new java.util.concurrent.CountDownLatch(1);
        boolean[] stopping = new boolean[1];
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            synchronized (child) {
                stopping[0] = true;
                if (child[0] != null) stopTree(child[0], false);
            }
            lock.cancel();
            try { finished.await(Math.min(5_000, o.ttlMs), TimeUnit.MILLISECONDS); } catch (InterruptedException e) { /* exiting */ }
        }));
        CronLock.Outcome out = lock.run(job, (lease, lost) -> {
            ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
            Map<String, String> env = pb.environment();
            env.put("CRONLOCK_JOB", lease.job);
            env.put("CRONLOCK_RUN_ID", Long.toString(lease.runId));
            env.put("CRONLOCK_TOKEN", Long.toString(lease.token));
            env.put("CRONLOCK_INSTANCE", lease.instance);
            Process p;
            synchronized (child) {
                if (stopping[0]) return new CronLock.Result("cancelled", 143, "stopped before COMMAND started");
                try {
                    p = child[0] = pb.start();
                } catch (IOException e) {
                    int code = cmd.get(0).contains("/") && new java.io.File(cmd.get(0)).exists() ? 126 : 127;
                    return new CronLock.Result("failed", code, "cannot run " + cmd.get(0) + ": " + CronLock.oneLine(e));
                }
            }
            lost.thenRun(() -> {
                stopTree(p, false);
                CronLock.after(grace, () -> stopTree(p, true));
            });
            int code = p.waitFor();
            stopTree(p, false); // what COMMAND left running
            String status = stopping[0] ? "cancelled" : code == 0 ? "succeeded" : "failed";
            return new CronLock.Result(status, code, code == 0 ? null : "exit status " + code);
        });
        finished.countDown();
        System.exit(out.exitStatus(onBusy, onUnavailable));
    }

    /** SIGTERM (or SIGKILL) to a process and its descendants. */
    static void stopTree(Process p, boolean hard) {
        p.descendants().forEach(h -> { if (hard) h.destroyForcibly(); else h.destroy(); });
        if (hard) p.destroyForcibly(); else p.destroy();
    }
}

/**
 * CronLock: run a job under a cron_lock lease from a Java scheduler (Spring
 * {@code @Scheduled}, a ScheduledExecutorService) with JDBC.
 *
 * <pre>
 *   CronLock lock = new CronLock(dataSource::getConnection, new CronLock.Options());
 *   lock.run("nightly-report", (lease, lost) -&gt; { ... stop when lost.isDone() ...; return CronLock.Result.OK; });
 * </pre>
 *
 * One attempt uuid for every retry of one acquisition (a lost reply comes back
 * {@code replayed}, never a second lease); backoff with jitter; a heartbeat every
 * ttl/3 on its own connection and thread; {@code lost} completes when the lease is
 * lost (a heartbeat answered NULL, or none succeeded by deadline - grace); the
 * release reports the outcome; a database blip is a logged skip, never an
 * exception. Tokens are {@code long} (exact). Log lines use cronlock's tags.
 */
final class CronLock {
    static final String VERSION = "1.2.0";

    /** Settings; times in milliseconds. */
    static final class Options {
        String instance = System.getenv("CRONLOCK_INSTANCE");
        long ttlMs = 60_000, minGapMs = -1, backoffMs = 250, jitterMs = 250;
        long connectTimeoutMs = 5_000, timeoutMs = 2_000, graceMs = -1;
        int retries = 5;
        Consumer<String> log = System.err::println;
    }

    /** The held lease. */
    static final class Lease {
        final String job, instance, attempt, reason;
        final long runId, token;
        Lease(String job, String instance, String attempt, String reason, long runId, long token) {
            this.job = job; this.instance = instance; this.attempt = attempt; this.reason = reason;
            this.runId = runId; this.token = token;
        }

        /** cron_lock_check in conn's current transaction: SQLException with SQLState LK001 when no longer ours. */
        void check(Connection conn) throws SQLException {
            try (PreparedStatement st = conn.prepareStatement("SELECT cron_lock_check(?, ?)")) {
                st.setString(1, job);
                st.setLong(2, token);
                st.execute();
            }
        }
    }

    /** How the job ended: status succeeded, failed or cancelled. */
    static final class Result {
        static final Result OK = new Result("succeeded", null, null);
        final String status, message;
        final Integer exitCode;
        Result(String status, Integer exitCode, String message) {
            this.status = status; this.exitCode = exitCode; this.message = message;
        }
    }

    interface Job {
        Result run(Lease lease, java.util.concurrent.CompletableFuture<String> lost) throws Exception;
    }

    interface ConnectionSource {
        Connection get() throws SQLException;
    }

    /** outcome: ran, busy, too_soon, paused, skipped (unreachable), lost, permanent, cancelled. */
    static final class Outcome {
        final String outcome;
        final Result result;
        Outcome(String outcome, Result result) { this.outcome = outcome; this.result = result; }

        int exitStatus(int onBusy, int onUnavailable) {
            switch (outcome) {
                case "ran": return result.exitCode == null ? 0 : result.exitCode;
                case "lost": return 75;
                case "permanent": return 78;
                case "skipped": return onUnavailable;
                case "cancelled": return result != null && result.exitCode != null ? result.exitCode : 143;
                default: return onBusy; // busy, too_soon, paused, or a newer reason
            }
        }
    }

    private final ConnectionSource source;
    /** When this thread's last statement was sent (after connecting), System.nanoTime(). */
    private final ThreadLocal<long[]> sentAt = ThreadLocal.withInitial(() -> new long[1]);
    private final Options o;
    private volatile boolean cancelled;
    private final Object sleeper = new Object();

    CronLock(ConnectionSource source, Options o) {
        this.source = source;
        this.o = o;
        if (o.instance == null) o.instance = hostname();
    }

    /** Abandon a pending acquisition (a shutdown); a running job is released as cancelled. */
    void cancel() {
        cancelled = true;
        synchronized (sleeper) { sleeper.notifyAll(); }
    }

    /** A JDBC connection from a libpq-style URL (postgres://user:pw@host:port/db) or a jdbc: URL. */
    static Connection connect(String url, long connectTimeoutMs) throws SQLException {
        Properties p = new Properties();
        String jdbc = url;
        if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
            java.net.URI u = java.net.URI.create(url.replaceFirst("^postgres(ql)?://", "http://"));
            jdbc = "jdbc:postgresql://" + u.getHost() + (u.getPort() > 0 ? ":" + u.getPort() : "") + u.getRawPath()
                + (u.getRawQuery() != null ? "?" + u.getRawQuery() : "");
            if (u.getRawUserInfo() != null) {
                String[] ui = u.getRawUserInfo().split(":", 2);
                p.setProperty("user", java.net.URLDecoder.decode(ui[0], java.nio.charset.StandardCharsets.UTF_8));
                if (ui.length > 1) p.setProperty("password", java.net.URLDecoder.decode(ui[1], java.nio.charset.StandardCharsets.UTF_8));
            }
        }
        p.setProperty("connectTimeout", Long.toString(Math.max(1, (connectTimeoutMs + 999) / 1000)));
        p.setProperty("socketTimeout", "30"); // a frozen server or dead network ends a statement
        p.setProperty("tcpKeepAlive", "true");
        p.setProperty("ApplicationName", "CronJob.java");
        return DriverManager.getConnection(jdbc, p);
    }

    /** Runs job under the lease; never throws for a database problem. */
    Outcome run(String jobName, Job job) {
        String attempt = UUID.randomUUID().toString();
        long t0 = System.nanoTime();
        emit("CRON_BOOT", jobName, fields("started_at", Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS).toString(), "version", VERSION, "attempt", attempt));
        Connection[] conn = new Connection[1];
        Lease lease = null;
        long tSentLease = 0;
        String[] last = null; // {kind, reason-or-class, holder-or-message, retry}
        int tries = 0;
        for (int k = 0; k <= o.retries; k++) {
            if (k > 0 && !pause(delay(k - 1))) break;
            tries = k + 1;
            long tSent = System.nanoTime();
            try {
                Object[] r = statement(conn,
                    "SELECT acquired, reason, run_id, token, holder, pg_backend_pid(), took_over "
                    + "FROM cron_lock_try(?, ?, ?::bigint * interval '1 ms', ?::uuid, ?::bigint * interval '1 ms')",
                    jobName, o.instance, o.ttlMs, attempt, o.minGapMs < 0 ? null : o.minGapMs);
                boolean acquired = (Boolean) r[0];
                String reason = (String) r[1];
                emit("CRON_LOCK", jobName, fields("try", tries, "outcome", acquired ? "acquired" : "busy",
                    "elapsed_ms", ms(tSent), "reason", reason, "holder", acquired ? null : r[4], "backend_pid", r[5]));
                if (acquired) {
                    lease = new Lease(jobName, o.instance, attempt, reason, (Long) r[2], (Long) r[3]);
                    tSentLease = sentAt.get()[0];
                    emit("CRON_RUN", jobName, fields("run_id", r[2], "token", r[3], "backend_pid", r[5], "reason", reason, "took_over", r[6]));
                    break;
                }
                last = new String[] {"busy", reason, (String) r[4], "false"};
                if (!"locked".equals(reason)) break; // held, too_soon, paused, or a newer reason
            } catch (Failed f) {
                String[] c = classify(f.err, f.phase);
                emit("CRON_LOCK", jobName, fields("try", tries, "outcome", "error", "elapsed_ms", ms(tSent),
                    "error_class", c[0], "sqlstate", f.err.getSQLState(), "message", oneLine(f.err)));
                last = new String[] {"error", c[0], oneLine(f.err), c[1]};
                if (c[1].equals("false")) break;
            }
        }
        if (lease == null) {
            close(conn[0]);
            long el = ms(t0);
            if (cancelled) {
                emit("CRON_SKIP", jobName, fields("reason", "CANCELLED", "tries", tries, "elapsed_ms", el));
                return new Outcome("cancelled", null);
            }
            if (last != null && last[0].equals("busy")) {
                String reason = last[1].equals("held") || last[1].equals("locked") ? "BUSY" : last[1].toUpperCase();
                emit("CRON_SKIP", jobName, fields("reason", reason, "tries", tries, "elapsed_ms", el, "holder", last[2]));
                return new Outcome(reason.equals("BUSY") ? "busy" : reason.toLowerCase(), null);
            }
            if (last != null && last[3].equals("false")) {
                emit("CRON_SKIP", jobName, fields("reason", "PERMANENT_ERROR", "tries", tries, "elapsed_ms", el,
                    "error_class", last[1], "message", last[2]));
                return new Outcome("permanent", null);
            }
            emit("CRON_SKIP", jobName, fields("reason", "DB_UNAVAILABLE", "tries", tries, "elapsed_ms", el,
                "error_class", last == null ? null : last[1]));
            return new Outcome("skipped", null);
        }

        // Heartbeats on a thread and connection of their own; the watch declares
        // the loss at deadline - grace (deadline = last renewal sent + ttl).
        final Lease held = lease;
        final long firstSent = tSentLease;
        final long grace = o.graceMs >= 0 ? o.graceMs : Math.min(10_000, o.ttlMs / 4);
        final long[] deadline = {tSentLease + o.ttlMs * 1_000_000};
        final java.util.concurrent.CompletableFuture<String> lost = new java.util.concurrent.CompletableFuture<>();
        final java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
        Runnable onLostNoRenewal = () -> loseLease(held, lost, done, "no_renewal");
        Thread beat = new Thread(() -> {
            Connection[] hb = new Connection[1];
            long wait = o.ttlMs / 3 - ms(firstSent);
            while (!done.get() && !lost.isDone()) {
                synchronized (done) {
                    try { if (wait > 0 && !done.get()) done.wait(wait); } catch (InterruptedException e) { break; }
                }
                if (done.get() || lost.isDone()) break;
                if (System.nanoTime() >= deadline[0] - grace * 1_000_000) { onLostNoRenewal.run(); break; }
                try {
                    Object[] r = statement(hb, "SELECT cron_lock_heartbeat(?, ?, ?::bigint * interval '1 ms')",
                        held.job, held.token, o.ttlMs);
                    if (done.get()) break;
                    if (r[0] == null) { loseLease(held, lost, done, "heartbeat_null"); break; }
                    synchronized (deadline) { deadline[0] = sentAt.get()[0] + o.ttlMs * 1_000_000; }
                    wait = o.ttlMs / 3;
                } catch (Failed f) {
                    wait = Math.min(o.backoffMs * 2, o.ttlMs / 3);
                }
            }
            close(hb[0]);
        }, "cron_lock-heartbeat");
        beat.setDaemon(true);
        Thread watch = new Thread(() -> {
            while (!done.get() && !lost.isDone()) {
                long left;
                synchronized (deadline) { left = deadline[0] - grace * 1_000_000 - System.nanoTime(); }
                if (left <= 0) { onLostNoRenewal.run(); break; }
                synchronized (done) {
                    try { if (!done.get()) done.wait(Math.max(1, left / 1_000_000)); } catch (InterruptedException e) { break; }
                }
            }
        }, "cron_lock-deadline");
        watch.setDaemon(true);
        beat.start();
        watch.start();

        long tRun = System.nanoTime();
        Result result;
        try {
            result = job.run(held, lost);
            if (result == null) result = Result.OK;
        } catch (Exception e) {
            result = new Result("failed", null, e.getClass().getSimpleName() + ": " + oneLine(e));
        }
        done.set(true);
        synchronized (done) { done.notifyAll(); }
        String why = lost.getNow(null);
        String status = cancelled && why == null ? "cancelled" : result.status;
        String message = why != null ? "lease lost (" + why + ")" + (result.message != null ? ": " + result.message : "") : result.message;
        String release = "failed", relClass = null;
        for (int k = 0; k <= (why != null ? 0 : o.retries); k++) {
            if (k > 0) sleepQuietly(delay(k - 1));
            try {
                Object[] r = statement(conn, "SELECT cron_lock_release(?, ?, ?, ?::text)", held.job, held.token, status, message);
                release = (Boolean) r[0] ? "ok" : "taken_over";
                break;
            } catch (Failed f) {
                String[] c = classify(f.err, f.phase);
                relClass = c[0];
                if (c[1].equals("false")) break;
            }
        }
        close(conn[0]);
        emit("CRON_DONE", jobName, fields("run_id", held.runId, "status", why != null ? "lost" : status,
            "exit_code", result.exitCode, "duration_ms", ms(tRun), "release", release,
            "error_class", release.equals("failed") ? relClass : null, "message", result.message));
        return new Outcome(why != null ? "lost" : cancelled ? "cancelled" : "ran", result);
    }

    private void loseLease(Lease lease, java.util.concurrent.CompletableFuture<String> lost,
                           java.util.concurrent.atomic.AtomicBoolean done, String why) {
        if (done.get()) return;
        if (lost.complete(why))
            emit("CRON_LOST", lease.job, fields("run_id", lease.runId, "token", lease.token, "why", why));
    }

    /** {error class, retry?} from the SQLState (never message text); phase: connect or query. */
    static String[] classify(SQLException e, String phase) {
        String s = e.getSQLState();
        if (s == null || s.startsWith("08"))  // the driver's own connection failures are 08xxx
            return new String[] {phase.equals("connect") ? "connection_refused" : "in_doubt", "true"};
        String[][] table = {
            {"57P01", "admin_shutdown", "true"}, {"57P02", "admin_shutdown", "true"},
            {"57P03", "cannot_connect_now", "true"}, {"53300", "too_many_connections", "true"},
            {"53", "insufficient_resources", "true"}, {"57014", "query_canceled", "true"},
            {"25006", "read_only", "true"}, {"40001", "serialization", "true"}, {"40P01", "serialization", "true"},
            {"55P03", "lock_not_available", "true"}, {"28", "auth_failed", "false"},
            {"3D000", "database_missing", "false"}, {"42883", "extension_missing", "false"},
            {"3F000", "extension_missing", "false"}, {"42P01", "extension_missing", "false"},
            {"42501", "permission_denied", "false"}, {"22004", "invalid_input", "false"},
            {"22023", "invalid_input", "false"}};
        for (String[] row : table)
            if (s.startsWith(row[0])) return new String[] {row[1], row[2]};
        return new String[] {"server_error", "false"};
    }

    private static final class Failed extends Exception {
        private static final long serialVersionUID = 1L;
        final SQLException err;
        final String phase;
        Failed(SQLException err, String phase) { super(err); this.err = err; this.phase = phase; }
    }

    /** One statement on conn[0] (opened as needed, closed after a failure), in autocommit; the first row. */
    private Object[] statement(Connection[] conn, String sql, Object... params) throws Failed {
        if (conn[0] == null) {
            try {
                conn[0] = source.get();
                conn[0].setAutoCommit(true);
            } catch (SQLException e) {
                close(conn[0]);
                conn[0] = null;
                throw new Failed(e, "connect");
            }
        }
        try (PreparedStatement st = conn[0].prepareStatement(sql)) {
            sentAt.get()[0] = System.nanoTime();
            st.setQueryTimeout((int) Math.max(1, (o.timeoutMs + 999) / 1000));
            for (int i = 0; i < params.length; i++) st.setObject(i + 1, params[i]);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                Object[] row = new Object[rs.getMetaData().getColumnCount()];
                for (int i = 0; i < row.length; i++) row[i] = rs.getObject(i + 1);
                return row;
            }
        } catch (SQLException e) {
            close(conn[0]);
            conn[0] = null;
            throw new Failed(e, "query");
        }
    }

    private long delay(int k) {
        return o.backoffMs * (1L << k) + (o.jitterMs > 0 ? ThreadLocalRandom.current().nextLong(o.jitterMs) : 0);
    }

    /** Sleeps; false when cancel() ended the wait. */
    private boolean pause(long millis) {
        long end = System.nanoTime() + millis * 1_000_000;
        synchronized (sleeper) {
            while (!cancelled) {
                long left = (end - System.nanoTime()) / 1_000_000;
                if (left <= 0) return true;
                try { sleeper.wait(left); } catch (InterruptedException e) { return false; }
            }
        }
        return false;
    }

    private static void sleepQuietly(long millis) {
        try { Thread.sleep(millis); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
    }

    static void after(long millis, Runnable r) {
        Thread t = new Thread(() -> { sleepQuietly(millis); r.run(); });
        t.setDaemon(true);
        t.start();
    }

    private static void close(Connection c) {
        if (c != null) try { c.close(); } catch (SQLException e) { /* gone already */ }
    }

    private static long ms(long sinceNanos) { return (System.nanoTime() - sinceNanos) / 1_000_000; }

    static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        m = m.split("\n", 2)[0];
        return m.length() > 300 ? m.substring(0, 300) : m;
    }

    private static String hostname() {
        try { return java.net.InetAddress.getLocalHost().getHostName(); } catch (IOException e) { return "localhost"; }
    }

    private static Map<String, Object> fields(Object... kv) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    private void emit(String tag, String job, Map<String, Object> f) {
        StringBuilder b = new StringBuilder("[" + tag + "]");
        Map<String, Object> all = new java.util.LinkedHashMap<>();
        all.put("ts", Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS).toString());
        all.put("job", job);
        all.put("instance", o.instance);
        all.put("pid", ProcessHandle.current().pid());
        all.putAll(f);
        for (Map.Entry<String, Object> e : all.entrySet()) {
            if (e.getValue() == null || e.getValue().toString().isEmpty()) continue;
            String s = e.getValue().toString();
            if (s.matches("(?s).*[\\s\"=\\\\].*"))
                s = "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
            b.append(' ').append(e.getKey()).append('=').append(s);
        }
        o.log.accept(b.toString());
    }
}
