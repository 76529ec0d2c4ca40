// cron-lock.mjs: run a job under a cron_lock lease from a Node scheduler
// (node-cron, setInterval, ...), with node-postgres (`pg`) or Neon's
// `@neondatabase/serverless` Pool.
//
//   import { withCronLock } from './cron-lock.mjs';
//   const outcome = await withCronLock(pool, 'nightly-report', { instance: 'web-1' },
//       async (lease, signal) => { ... stop when signal.aborted ... });
//
// What it guarantees: one attempt uuid for every retry of one acquisition (a
// lost reply is answered `replayed`, never a second lease); backoff with
// jitter; a heartbeat every ttl/3; `signal` aborted when the lease is lost
// (a heartbeat answered NULL, or none succeeded by deadline - grace); the
// release reports the outcome; a database blip is a logged skip, never an
// exception. Tokens stay strings (bigint in the database; BigInt(token) if you
// need arithmetic), never a float. Log lines use cronlock's tags.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';

export const VERSION = '1.2.0';

const DEFAULTS = {
  ttlMs: 60_000,
  minGapMs: null,
  retries: 5,
  backoffMs: 250,
  jitterMs: 250,
  connectTimeoutMs: 5_000,
  timeoutMs: 2_000, // every statement's deadline
  graceMs: null, // min(10 s, ttl / 4)
  log: null, // (line: string) => void; stderr by default
  describeError: null, // (err) => string: more words for an error's log line
  signal: null, // the caller's AbortSignal: stops waiting, or cancels the job
};

// SQLSTATEs that stop at once (cronlock's permanent classes); other server
// answers from these classes retry. Unknown SQLSTATEs are permanent too.
const SQLSTATE_CLASSES = [
  [/^08/, 'connection_reset', true],
  [/^57P0[12]$/, 'admin_shutdown', true],
  [/^57P03$/, 'cannot_connect_now', true],
  [/^53300$/, 'too_many_connections', true],
  [/^53/, 'insufficient_resources', true],
  [/^57014$/, 'query_canceled', true],
  [/^25006$/, 'read_only', true],
  [/^(40001|40P01)$/, 'serialization', true],
  [/^55P03$/, 'lock_not_available', true],
  [/^28/, 'auth_failed', false],
  [/^3D000$/, 'database_missing', false],
  [/^(42883|3F000|42P01)$/, 'extension_missing', false],
  [/^42501$/, 'permission_denied', false],
  [/^(22004|22023)$/, 'invalid_input', false],
];

// Node's network errors that are worth a retry. ENOTFOUND (unknown host) is a
// misconfiguration: permanent, as in cronlock.
const RETRY_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ECONNABORTED']);

class Timeout extends Error {}

// classify(err, phase) -> { cls, retry, sqlstate }. phase is 'connect' or
// 'query': a connection lost while a statement was pending is `in_doubt`
// (the retry reuses the attempt uuid, so a committed lease comes back as
// `replayed`). Uses codes only, never message text.
export function classify(err, phase) {
  const code = typeof err?.code === 'string' ? err.code : '';
  if (err instanceof Timeout)
    return { cls: phase === 'connect' ? 'connect_timeout' : 'query_timeout', retry: true };
  if (/^[0-9A-Z]{5}$/.test(code) && !code.startsWith('E')) {
    for (const [re, cls, retry] of SQLSTATE_CLASSES)
      if (re.test(code)) return { cls, retry, sqlstate: code };
    return { cls: 'server_error', retry: false, sqlstate: code };
  }
  if (code === 'ENOTFOUND') return { cls: 'bad_conninfo', retry: false };
  if (RETRY_ERRNO.has(code) || code === '')
    // No code at all: the driver lost its socket ("Connection terminated
    // unexpectedly", a WebSocket closed with 1006, ...).
    return phase === 'connect' ? { cls: 'connection_refused', retry: true }
      : { cls: 'in_doubt', retry: true };
  return { cls: 'internal_error', retry: false };
}

// One logfmt line: [TAG] key=value ..., values quoted when they need it.
export function logLine(tag, fields) {
  const parts = [`[${tag}]`];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || v === null || v === '') continue;
    let s = String(v);
    if (/[\s"=\\]/.test(s) || s === '')
      s = '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
    parts.push(`${k}=${s}`);
  }
  return parts.join(' ');
}

// The message of an error on one line, without a stack, without a password.
function errorText(err) {
  const m = String(err?.message || err || 'unknown error').split('\n')[0];
  return m.replace(/(postgres(?:ql)?:\/\/[^:@/]*:)[^@]*@/g, '$1***@').slice(0, 300);
}

// retryDelay(k): backoff * 2^k plus a random jitter in [0, jitter).
function retryDelay(o, k) {
  return o.backoffMs * 2 ** k + Math.floor(Math.random() * o.jitterMs);
}

// sleep(ms, signal): false when the signal ended the wait.
function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(true); }, ms);
    const onAbort = () => { clearTimeout(t); resolve(false); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// deadline(promise, ms, onLate): the promise, or a Timeout after ms; onLate
// gets the value if it arrives after all (to close a late connection).
function deadline(promise, ms, onLate) {
  let timer;
  let late = false;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => { late = true; reject(new Timeout(`no answer within ${ms} ms`)); }, ms);
  });
  promise.then((v) => { if (late && onLate) onLate(v); }, () => {});
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// statement(pool, o, sql, params) -> { rows, sentAt }: one statement on a
// pooled connection under the connect and statement deadlines; sentAt is when
// it was sent (after connecting: a lease's clock starts no earlier). Throws
// { err, phase }.
async function statement(pool, o, sql, params) {
  let client;
  try {
    client = await deadline(pool.connect(), o.connectTimeoutMs, (c) => c.release(true));
  } catch (err) {
    throw { err, phase: 'connect' };
  }
  let broken = null;
  const onError = (e) => { broken = e; };
  client.on('error', onError); // a socket error between statements must not crash the process
  try {
    const sentAt = performance.now();
    const res = await deadline(client.query(sql, params), o.timeoutMs);
    return { rows: res.rows, sentAt };
  } catch (err) {
    broken = err;
    throw { err, phase: 'query' };
  } finally {
    client.removeListener('error', onError);
    // A connection that failed or timed out is destroyed, never reused.
    client.release(broken ? (broken instanceof Error ? broken : new Error(String(broken))) : undefined);
  }
}

const ms = (n) => `${Math.max(0, Math.round(n))} milliseconds`;

// withCronLock(pool, job, options, fn) -> outcome
//   options: instance (default: host name), ttlMs, minGapMs, retries,
//     backoffMs, jitterMs, connectTimeoutMs, timeoutMs, graceMs, log, signal
//   fn(lease, signal): lease = { job, instance, runId, token, attempt,
//     reason }; return nothing (succeeded) or { status, exitCode, message };
//     a throw ends the run as failed.
//   outcome: { outcome: 'ran' | 'busy' | 'too_soon' | 'paused' | 'skipped'
//     (unreachable) | 'lost' | 'permanent' | 'cancelled', ... }. Never throws
//     for a database problem.
export async function withCronLock(pool, job, options, fn) {
  const o = { ...DEFAULTS, ...options };
  o.instance = o.instance || hostname();
  // pg's Pool emits 'error' when an idle connection dies (a server restart);
  // with no listener that event would end the process.
  if (typeof pool.listenerCount === 'function' && pool.listenerCount('error') === 0)
    pool.on('error', () => {});
  const grace = o.graceMs ?? Math.min(10_000, o.ttlMs / 4);
  const log = o.log || ((line) => process.stderr.write(line + '\n'));
  const attempt = randomUUID();
  const base = { job, instance: o.instance, pid: process.pid };
  const emit = (tag, fields) => log(logLine(tag, { ts: new Date().toISOString(), ...base, ...fields }));
  const t0 = performance.now();
  const since = () => Math.round(performance.now() - t0);
  const describe = (err) => {
    const extra = o.describeError?.(err);
    return extra ? `${errorText(err)} (${extra})` : errorText(err);
  };

  emit('CRON_BOOT', { started_at: new Date().toISOString(), version: VERSION, attempt });

  // Acquire: up to 1 + retries tries, all with the same attempt uuid.
  let won = null;
  let last = null;
  let tries = 0;
  for (let k = 0; k <= o.retries; k++) {
    if (k > 0 && !(await sleep(retryDelay(o, k - 1), o.signal))) break;
    tries = k + 1;
    const tSent = performance.now();
    try {
      const { rows, sentAt } = await statement(pool, o,
        'SELECT acquired, reason, run_id::text AS run_id, token::text AS token, holder, holder_pid, '
        + 'took_over::text AS took_over, pg_backend_pid() AS backend_pid '
        + 'FROM cron_lock_try($1, $2, $3::interval, $4::uuid, $5::interval)',
        [job, o.instance, ms(o.ttlMs), attempt, o.minGapMs == null ? null : ms(o.minGapMs)]);
      const r = rows[0];
      const elapsed = Math.round(performance.now() - tSent);
      if (r.acquired) {
        emit('CRON_LOCK', { try: tries, outcome: 'acquired', elapsed_ms: elapsed, reason: r.reason, backend_pid: r.backend_pid });
        won = { r, tSent: sentAt };
        break;
      }
      emit('CRON_LOCK', { try: tries, outcome: 'busy', elapsed_ms: elapsed, reason: r.reason, holder: r.holder, backend_pid: r.backend_pid });
      last = { busy: r };
      if (r.reason !== 'locked') break; // held, too_soon, paused, or a reason newer than this file
    } catch (e) {
      const c = classify(e.err, e.phase);
      emit('CRON_LOCK', { try: tries, outcome: 'error', elapsed_ms: Math.round(performance.now() - tSent),
        error_class: c.cls, sqlstate: c.sqlstate, message: describe(e.err) });
      last = { error: c, message: describe(e.err) };
      if (!c.retry) break;
    }
  }

  if (!won) {
    if (o.signal?.aborted) {
      emit('CRON_SKIP', { reason: 'CANCELLED', tries, elapsed_ms: since() });
      return { outcome: 'cancelled', attempt };
    }
    if (last?.busy) {
      const reason = last.busy.reason === 'locked' || last.busy.reason === 'held' ? 'BUSY'
        : String(last.busy.reason).toUpperCase();
      emit('CRON_SKIP', { reason, tries, elapsed_ms: since(), holder: last.busy.holder });
      return { outcome: reason === 'BUSY' ? 'busy' : reason.toLowerCase(), holder: last.busy.holder, attempt };
    }
    if (last?.error && !last.error.retry) {
      emit('CRON_SKIP', { reason: 'PERMANENT_ERROR', tries, elapsed_ms: since(), error_class: last.error.cls, message: last.message });
      return { outcome: 'permanent', errorClass: last.error.cls, message: last.message, attempt };
    }
    emit('CRON_SKIP', { reason: 'DB_UNAVAILABLE', tries, elapsed_ms: since(), error_class: last?.error?.cls });
    return { outcome: 'skipped', errorClass: last?.error?.cls, attempt };
  }

  const r = won.r;
  const lease = Object.freeze({ job, instance: o.instance, runId: r.run_id, token: r.token, attempt, reason: r.reason });
  emit('CRON_RUN', { run_id: r.run_id, token: r.token, backend_pid: r.backend_pid, reason: r.reason, took_over: r.took_over });

  // The lease deadline on the monotonic clock: when the last successful try or
  // heartbeat was sent, plus ttl. Lost at deadline - grace without a renewal.
  const lost = new AbortController();
  let why = null;
  let leaseDeadline = won.tSent + o.ttlMs;
  let watch = null;
  let beat = null;
  let running = true;
  const onLost = (reason) => {
    if (why) return;
    why = reason;
    lost.abort(new Error(`lease lost (${reason})`));
    emit('CRON_LOST', { run_id: lease.runId, token: lease.token, why: reason });
  };
  const arm = () => {
    clearTimeout(watch);
    watch = setTimeout(() => onLost('no_renewal'), Math.max(0, leaseDeadline - grace - performance.now()));
  };
  const heartbeat = async () => {
    if (!running || why) return;
    try {
      const { rows, sentAt } = await statement(pool, o, 'SELECT cron_lock_heartbeat($1, $2::bigint, $3::interval)::text AS expires_at',
        [job, lease.token, ms(o.ttlMs)]);
      if (!running || why) return;
      if (rows[0].expires_at === null) return onLost('heartbeat_null');
      leaseDeadline = sentAt + o.ttlMs;
      arm();
      beat = setTimeout(heartbeat, o.ttlMs / 3);
    } catch {
      // Unreachable for now: try again soon; the watch declares the loss.
      if (running && !why) beat = setTimeout(heartbeat, Math.min(o.backoffMs * 2, o.ttlMs / 3));
    }
  };
  arm();
  beat = setTimeout(heartbeat, Math.max(0, won.tSent + o.ttlMs / 3 - performance.now()));
  const onCallerAbort = () => lost.abort(new Error('cancelled'));
  o.signal?.addEventListener('abort', onCallerAbort, { once: true });

  const tRun = performance.now();
  let result;
  try {
    result = (await fn(lease, lost.signal)) || {};
    result = { status: 'succeeded', ...result };
  } catch (err) {
    result = { status: 'failed', message: errorText(err) };
  }
  running = false;
  clearTimeout(watch);
  clearTimeout(beat);
  o.signal?.removeEventListener('abort', onCallerAbort);
  if (o.signal?.aborted && !why) result.status = 'cancelled';

  // Release with the outcome, retried like the acquisition (one try after a loss).
  const message = why ? `lease lost (${why})${result.message ? ': ' + result.message : ''}` : result.message;
  let release = 'failed';
  let relErr = null;
  for (let k = 0; k <= (why ? 0 : o.retries); k++) {
    if (k > 0) await sleep(retryDelay(o, k - 1));
    try {
      const { rows } = await statement(pool, o, 'SELECT cron_lock_release($1, $2::bigint, $3, $4) AS ok',
        [job, lease.token, result.status, message ?? null]);
      release = rows[0].ok ? 'ok' : 'taken_over';
      break;
    } catch (e) {
      relErr = classify(e.err, e.phase);
      if (!relErr.retry) break;
    }
  }
  const durationMs = Math.round(performance.now() - tRun);
  emit('CRON_DONE', { run_id: lease.runId, status: why ? 'lost' : result.status, exit_code: result.exitCode,
    duration_ms: durationMs, release, error_class: release === 'failed' ? relErr?.cls : null, message: result.message });
  return { outcome: why ? 'lost' : o.signal?.aborted ? 'cancelled' : 'ran', why, lease, result, release, durationMs };
}

// fenced(pool, lease, fn): run fn(client) in a transaction that starts with
// cron_lock_check, so its writes commit under the lease's token or not at all
// (LK001 when the lease is no longer current: stop working).
export async function fenced(pool, lease, fn) {
  const client = await pool.connect();
  let broken = null;
  try {
    await client.query('BEGIN');
    await client.query('SELECT cron_lock_check($1, $2::bigint)', [lease.job, lease.token]);
    const value = await fn(client);
    await client.query('COMMIT');
    return value;
  } catch (err) {
    broken = err;
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release(broken && !broken.code ? broken : undefined);
  }
}
