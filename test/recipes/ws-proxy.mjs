// test/recipes/ws-proxy.mjs: a WebSocket-to-TCP proxy for Neon's serverless
// driver (what Neon's own proxy does), on loopback, with faults on demand.
//
//   node ws-proxy.mjs PG_PORT PORT_FILE CONTROL_FILE
//
// Listens on a free loopback port (written to PORT_FILE) and forwards each
// WebSocket's binary messages to 127.0.0.1:PG_PORT and back (the driver's
// ?address= is ignored: the test decides where traffic goes). Before each new
// connection it reads CONTROL_FILE: a comma-separated list of faults, the
// first of which applies to this connection and is removed:
//   connect  drop the WebSocket (no close frame: 1006) on its first message,
//            the startup packet, before anything reaches the server
//   lock     drop it when the client sends cron_lock_try, before the server sees it
//   reply    forward cron_lock_try, drop it when the server answers: the lease
//            is committed, the client never hears of it (in doubt)
//   pass     forward everything (also when the list is empty)
// Every drop is logged on stdout as "drop FAULT".
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';

// ws comes from the Node recipe's node_modules.
const require = createRequire(path.resolve(process.env.RECIPE_NODE_DIR, 'package.json'));
const { WebSocketServer } = require('ws');

const [pgPort, portFile, controlFile] = process.argv.slice(2);

function nextFault() {
  let list = [];
  try { list = readFileSync(controlFile, 'utf8').trim().split(',').filter(Boolean); } catch { /* none */ }
  const f = list.shift() ?? 'pass';
  writeFileSync(controlFile, list.join(','));
  return f;
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('listening', () => writeFileSync(portFile, String(wss.address().port)));
wss.on('connection', (ws) => {
  const fault = nextFault();
  const tcp = net.connect(Number(pgPort), '127.0.0.1');
  let first = true;
  let lockSent = false;
  const drop = () => {
    console.log(`drop ${fault}`);
    ws.terminate(); // TCP reset, no close frame: the client sees 1006
    tcp.destroy();
  };
  ws.on('message', (data) => {
    const buf = Buffer.from(data);
    if (first && fault === 'connect') return drop();
    first = false;
    if (buf.includes('cron_lock_try')) {
      if (fault === 'lock') return drop();
      lockSent = true;
    }
    tcp.write(buf);
  });
  tcp.on('data', (buf) => {
    if (fault === 'reply' && lockSent) return drop();
    if (ws.readyState === ws.OPEN) ws.send(buf);
  });
  tcp.on('error', () => ws.terminate());
  tcp.on('close', () => ws.terminate());
  ws.on('close', () => tcp.destroy());
  ws.on('error', () => tcp.destroy());
});
