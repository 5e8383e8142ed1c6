// Child process: an ENCRYPTED file store (kv 'sec' with encrypt: true), compacting every few KiB,
// written until SIGKILL. Prints `W <i> <effect>` before each write and `A <i>` once it resolved.
// Effects map keys to values (null = absent). Ops: single sets, setMany batches, deletes,
// transactions moving amounts between t.a and t.b (sum 1000), short-TTL sets and purges.
// usage: node enc-crash-writer.mjs <dir> <round> <seed>
import { openStore } from '../../../dist/index.js';
import { fileDriver } from '../../../dist/drivers/file/index.js';
import { writeSync } from 'node:fs';

const [dir, roundArg, seedArg] = process.argv.slice(2);
const round = Number(roundArg);
let seed = Number(seedArg) >>> 0;
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const out = (text) => {
  const buf = Buffer.from(`${text}\n`);
  for (let off = 0; off < buf.length;) off += writeSync(1, buf, off);
};
const KEY = 'k1:' + Buffer.alloc(32, 42).toString('base64');
const store = await openStore({
  driver: fileDriver({ dir, durability: 'full', compactBytes: 8 * 1024 }),
  encryption: { keys: KEY },
  sweepInterval: false,
});
const kv = store.kv('sec', { encrypt: true });
let a = (await kv.get('t.a')) ?? 1000;
let b = (await kv.get('t.b')) ?? 0;
out('R');
for (let i = 0; ; i++) {
  const roll = rand();
  const effect = {};
  let run;
  if (roll < 0.3) {
    const key = `s.${int(0, 15)}`;
    const value = { r: round, i, pad: 'x'.repeat(int(0, 800)) };
    effect[key] = value;
    run = () => kv.set(key, value);
  } else if (roll < 0.4) {
    const key = `s.${int(0, 15)}`;
    effect[key] = null;
    run = () => kv.delete(key);
  } else if (roll < 0.6) {
    const g = int(0, 3);
    const entries = [];
    for (let j = 0, n = int(2, 10); j < n; j++) entries.push([`b.${g}.${j}`, { r: round, i, j, pad: 'y'.repeat(int(0, 200)) }]);
    for (const [k, v] of entries) effect[k] = v;
    run = () => kv.setMany(entries);
  } else if (roll < 0.85) {
    const move = int(1, 50);
    const na = a - move;
    const nb = b + move;
    effect['t.a'] = na;
    effect['t.b'] = nb;
    run = async () => {
      await store.transaction(async (tx) => {
        const t = tx.kv('sec');
        const ca = (await t.get('t.a')) ?? 1000;
        const cb = (await t.get('t.b')) ?? 0;
        await t.set('t.a', ca - move);
        await t.set('t.b', cb + move);
      });
      a = na;
      b = nb;
    };
  } else if (roll < 0.95) {
    const key = `e.${int(0, 5)}`;
    effect[key] = 'EXPIRES';
    run = () => kv.set(key, { i }, { ttl: 30 });
  } else {
    run = () => store.purgeExpired();
  }
  out(`W ${i} ${JSON.stringify(effect)}`);
  await run();
  out(`A ${i}`);
}
