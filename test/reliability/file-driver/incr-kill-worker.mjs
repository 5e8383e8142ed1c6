// Child process: kv.incr('counter') in a loop on a file store compacting every 4 KiB, plus a
// padded set now and then (so compactions rewrite something), until SIGKILLed. Prints `W` before
// each incr and `A` after it resolved (synchronous writes, so a kill loses no line).
// usage: node incr-kill-worker.mjs <dir>
import { openStore } from '../../../dist/index.js';
import { fileDriver } from '../../../dist/drivers/file/index.js';
import { writeSync } from 'node:fs';

const [dir] = process.argv.slice(2);
const out = (text) => {
  const buf = Buffer.from(`${text}\n`);
  for (let off = 0; off < buf.length;) off += writeSync(1, buf, off);
};
const store = await openStore({
  driver: fileDriver({ dir, durability: 'full', compactBytes: 4 * 1024, lockTimeoutMs: 30_000 }),
  sweepInterval: false,
});
const kv = store.kv('race');
out('R');
for (let i = 0; ; i++) {
  if (i % 7 === 0) await kv.set(`pad.${process.pid % 13}`, 'p'.repeat(300));
  out('W');
  await kv.incr('counter');
  out('A');
}
