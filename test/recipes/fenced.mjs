// test/recipes/fenced.mjs JOB GO_FILE: the Node recipe's fenced() after a
// takeover. Takes JOB (instance "stalled", ttl 3s), writes once under
// cron_lock_check ("write1=ok"), waits for GO_FILE (the test stops this process
// meanwhile so that the lease expires and another instance takes over), then
// writes again, ignoring the abort signal as a stalled runner would: the
// write must be refused with LK001 ("write2=LK001").
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const dir = process.env.RECIPE_NODE_DIR;
const { withCronLock, fenced } = await import(path.resolve(dir, 'cron-lock.mjs'));
const pg = createRequire(path.resolve(dir, 'package.json'))('pg');
const [job, go] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 3 });
const write = (lease) => fenced(pool, lease, (c) =>
  c.query('INSERT INTO fenced_log (job, token) VALUES ($1, $2)', [lease.job, lease.token]));

await withCronLock(pool, job, { instance: 'stalled', ttlMs: 3000, retries: 1 }, async (lease) => {
  await write(lease);
  console.log('write1=ok');
  while (!existsSync(go)) await new Promise((r) => setTimeout(r, 50));
  try {
    await write(lease);
    console.log('write2=ok');
  } catch (err) {
    console.log(`write2=${err.code}`);
  }
});
await pool.end();
