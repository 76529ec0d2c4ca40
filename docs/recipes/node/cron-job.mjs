#!/usr/bin/env node
// cron-job.mjs: `cronlock run` in Node, over withCronLock():
//
//   DATABASE_URL=postgres://... node cron-job.mjs --job J [--instance I] [options] -- COMMAND [ARG...]
//
// COMMAND runs in its own process group with CRONLOCK_JOB, CRONLOCK_RUN_ID,
// CRONLOCK_TOKEN and CRONLOCK_INSTANCE set; it gets SIGTERM, then SIGKILL after
// --grace, when the lease is lost. Exit status: COMMAND's (128+N for signal
// N, 126/127 when it cannot be started); --on-busy (0) when busy, too soon or
// paused; --on-unavailable (0) when the database stayed unreachable; 64 usage;
// 75 lease lost; 78 permanent error (authentication, missing cron_lock, ...).

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { withCronLock } from './cron-lock.mjs';

const USAGE = `usage: cron-job.mjs --job NAME [--instance ID] [--ttl D] [--min-gap D] [--retries N]
       [--backoff D] [--jitter D] [--connect-timeout D] [--timeout D] [--grace D]
       [--on-busy CODE] [--on-unavailable CODE] [--driver pg|neon] [--ws-proxy HOST:PORT/PATH]
       [--db URL] -- COMMAND [ARG...]
The database: --db, else $CRONLOCK_DB, else $DATABASE_URL (pg also reads PG* variables).
D: 250ms, 30s, 5m, 1h, 1d, combinations (1m30s) or bare seconds.`;

function usage(msg) {
  process.stderr.write(`cron-job.mjs: ${msg}\n${USAGE}\n`);
  process.exit(64);
}

// duration('1m30s') -> milliseconds, as cronlock reads DURATION.
function duration(name, s) {
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(s ?? '');
  if (/^\d+$/.test(s ?? '')) return Number(s) * 1000;
  if (!m || s === '') usage(`${name}: not a duration: ${s}`);
  const [, d, h, mi, se, ms] = m.map((x) => Number(x ?? 0));
  return (((d * 24 + h) * 60 + mi) * 60 + se) * 1000 + ms;
}

function integer(name, s, max) {
  if (!/^\d+$/.test(s ?? '') || Number(s) > max) usage(`${name}: not an integer in [0, ${max}]: ${s}`);
  return Number(s);
}

const opt = { driver: 'pg', onBusy: 0, onUnavailable: 0, db: process.env.CRONLOCK_DB || process.env.DATABASE_URL };
const lock = { instance: process.env.CRONLOCK_INSTANCE };
const argv = process.argv.slice(2);
let command = null;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--') { command = argv.slice(i + 1); break; }
  if (a === '--help' || a === '-h') { process.stdout.write(USAGE + '\n'); process.exit(0); }
  const [k, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
  const v = () => inline ?? (i + 1 < argv.length ? argv[++i] : usage(`${k} needs a value`));
  switch (k) {
    case '--job': lock.job = v(); break;
    case '--instance': lock.instance = v(); break;
    case '--ttl': lock.ttlMs = duration(k, v()); break;
    case '--min-gap': lock.minGapMs = duration(k, v()); break;
    case '--retries': lock.retries = integer(k, v(), 100); break;
    case '--backoff': lock.backoffMs = duration(k, v()); break;
    case '--jitter': lock.jitterMs = duration(k, v()); break;
    case '--connect-timeout': lock.connectTimeoutMs = duration(k, v()); break;
    case '--timeout': lock.timeoutMs = duration(k, v()); break;
    case '--grace': lock.graceMs = duration(k, v()); break;
    case '--on-busy': opt.onBusy = integer(k, v(), 255); break;
    case '--on-unavailable': opt.onUnavailable = integer(k, v(), 255); break;
    case '--driver': opt.driver = v(); break;
    case '--ws-proxy': opt.wsProxy = v(); break;
    case '--db': opt.db = v(); break;
    default:
      if (a.startsWith('-')) usage(`unknown option ${a}`);
      command = argv.slice(i); i = argv.length;
  }
}
if (!lock.job) usage('--job is required');
if (!command || command.length === 0) usage('no COMMAND given');
if (!['pg', 'neon'].includes(opt.driver)) usage(`--driver: pg or neon, not ${opt.driver}`);
if (lock.ttlMs !== undefined && lock.ttlMs < 3000) usage('--ttl: at least 3s');

// The pool: node-postgres, or Neon's serverless driver (WebSocket). Both are
// pg.Pool-compatible; withCronLock needs only connect() and query().
let pool;
let lastClose = null; // the last WebSocket close code (neon), for the log
if (opt.driver === 'pg') {
  const { default: pg } = await import('pg');
  pool = new pg.Pool({ connectionString: opt.db, max: 2, keepAlive: true,
    application_name: 'cron-job.mjs', connectionTimeoutMillis: lock.connectTimeoutMs ?? 5000 });
} else {
  if (!opt.db) usage('--driver neon needs --db or $DATABASE_URL');
  const neon = await import('@neondatabase/serverless');
  const { default: WebSocket } = await import('ws');
  neon.neonConfig.webSocketConstructor = class extends WebSocket {
    constructor(...args) {
      lastClose = null;
      super(...args);
      this.on('close', (code) => { lastClose = code; });
    }
  };
  if (opt.wsProxy) {
    // A self-hosted WebSocket-to-TCP proxy (plain ws://), not Neon's own
    // endpoint: no TLS inside or outside, no pipelined password startup.
    neon.neonConfig.wsProxy = (host, port) => `${opt.wsProxy}?address=${host}:${port}`;
    neon.neonConfig.useSecureWebSocket = false;
    neon.neonConfig.forceDisablePgSSL = true;
    neon.neonConfig.pipelineConnect = false;
    neon.neonConfig.pipelineTLS = false;
  }
  pool = new neon.Pool({ connectionString: opt.db, max: 2, connectionTimeoutMillis: lock.connectTimeoutMs ?? 5000 });
}
pool.on('error', () => {}); // an idle connection that dies is dropped, not fatal
if (opt.driver === 'neon') {
  // Name the WebSocket close code in error messages (1006: dropped without a close frame).
  lock.describeError = () => (lastClose ? `websocket closed with code ${lastClose}` : '');
}

// Signals: before the lease, they cancel the acquisition; while COMMAND runs,
// they go to its process group and the run is released as cancelled.
const stop = new AbortController();
let child = null;
let stopSignal = null;
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT']) {
  process.on(sig, () => {
    stopSignal ??= sig;
    if (child) kill(child, sig);
    else stop.abort();
  });
}

function kill(c, sig) {
  try { process.kill(-c.pid, sig); } catch { /* already gone */ }
}

const grace = lock.graceMs ?? Math.min(10_000, (lock.ttlMs ?? 60_000) / 4);
const outcome = await withCronLock(pool, lock.job, { ...lock, signal: stop.signal }, (lease, signal) =>
  new Promise((resolve) => {
    const env = { ...process.env, CRONLOCK_JOB: lease.job, CRONLOCK_RUN_ID: lease.runId,
      CRONLOCK_TOKEN: lease.token, CRONLOCK_INSTANCE: lease.instance };
    let killer = null;
    child = spawn(command[0], command.slice(1), { stdio: 'inherit', detached: true, env });
    child.on('error', (err) => {
      const code = err.code === 'ENOENT' ? 127 : 126;
      resolve({ status: 'failed', exitCode: code, message: `cannot run ${command[0]}: ${err.code}` });
    });
    child.on('exit', (code, sig) => {
      clearTimeout(killer);
      kill(child, 'SIGTERM'); // what COMMAND left running in its group
      const exitCode = code ?? 128 + (constants.signals[sig] ?? 0);
      resolve({ status: stopSignal ? 'cancelled' : code === 0 ? 'succeeded' : 'failed', exitCode,
        message: code === 0 ? undefined : sig ? `killed by ${sig}` : `exit status ${code}` });
    });
    signal.addEventListener('abort', () => {
      kill(child, 'SIGTERM');
      killer = setTimeout(() => kill(child, 'SIGKILL'), grace);
    }, { once: true });
  }));

const signalled = stopSignal ? 128 + constants.signals[stopSignal] : 0;
const status = {
  ran: () => outcome.result.exitCode ?? 0,
  lost: () => 75,
  permanent: () => 78,
  skipped: () => opt.onUnavailable,
  cancelled: () => (outcome.result?.exitCode ?? signalled),
}[outcome.outcome]?.() ?? opt.onBusy; // busy, too_soon, paused, or a newer reason
pool.end().catch(() => {});
process.stderr.write('', () => process.exit(status));
