// Child process: opens a file: store, makes one write (so its lock owner record exists), prints
// `R`, waits for `go` on stdin, then runs <n> kv.incr('counter') one at a time and prints
// `D {"acked":..,"errors":[..]}`.
// usage: node incr-worker.mjs <dir> <n>
import { openStore } from '../../../dist/index.js';
import { writeSync } from 'node:fs';

const [dir, nArg] = process.argv.slice(2);
const out = (text) => writeSync(1, `${text}\n`);
const store = await openStore({ url: `file:${dir}`, sweepInterval: false });
const kv = store.kv('race');
await kv.set(`warm.${process.pid}`, 1);
out('R');
await new Promise((resolve) => {
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (c) => {
    buf += c;
    if (buf.includes('go\n')) resolve();
  });
});
process.stdin.destroy();
let acked = 0;
const errors = [];
for (let i = 0; i < Number(nArg); i++) {
  try {
    await kv.incr('counter');
    acked++;
  } catch (error) {
    if (errors.length < 5) errors.push(`${error.code}: ${String(error.message).slice(0, 160)}`);
    if (errors.length >= 5) break;
  }
}
out(`D ${JSON.stringify({ acked, errors })}`);
await store.close().catch(() => {});
process.exit(0);
