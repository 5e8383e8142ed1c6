#!/usr/bin/env node
// Journaled vs unjournaled durable sets on sqlite, side by side in one run (issue 9 target:
// a journaled durable set >= 0.8x an unjournaled one). Two stores with durability 'full'
// (every set is one fsync'd commit), one opened with journal: { retention: '7d' }; rounds
// alternate between them so a busy machine slows both alike. Needs `npm run build` first.
//
//   node bench/ops-journal.mjs [--quick] [--rounds 7] [--writes 300] [--seed 20000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStore } from '../dist/index.js';

const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const at = argv.indexOf(`--${name}`);
  return at < 0 ? fallback : Number(argv[at + 1]);
};
const quick = argv.includes('--quick');
const rounds = arg('rounds', quick ? 3 : 7);
const writes = arg('writes', quick ? 100 : 300);
const seed = arg('seed', quick ? 2000 : 20000);
const value = (i) => ({ title: `task number ${i}`, status: 'todo', n: i, tags: ['a', 'b'] });

const dir = mkdtempSync(join(tmpdir(), 'strata-bench-journal-'));
try {
  const stores = {
    plain: await openStore({ url: `sqlite:${join(dir, 'plain.db')}`, sweepInterval: false }),
    journaled: await openStore({ url: `sqlite:${join(dir, 'journal.db')}`, sweepInterval: false, journal: { retention: '7d' } }),
  };
  for (const store of Object.values(stores)) {
    const kv = store.kv('bench');
    for (let at = 0; at < seed; at += 1000)
      await kv.setMany(Array.from({ length: 1000 }, (_, j) => [`seed-${at + j}`, value(at + j)]));
  }
  const rates = { plain: [], journaled: [] };
  let n = 0;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['plain', 'journaled'] : ['journaled', 'plain'];
    for (const name of order) {
      const kv = stores[name].kv('bench');
      const start = performance.now();
      for (let i = 0; i < writes; i++) await kv.set(`k-${n++}`, value(i));
      rates[name].push(writes / ((performance.now() - start) / 1000));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const plain = median(rates.plain);
  const journaled = median(rates.journaled);
  const ratio = journaled / plain;
  const line = (label, ops) => `| ${label} | ${Math.round(ops).toLocaleString('en-US')} | ${(1e6 / ops).toFixed(0)} |`;
  console.log(
    `\nJournal (issue 9): durable kv.set on sqlite, ${seed.toLocaleString('en-US')} records seeded, ${rounds} rounds x ${writes} sets, median`,
  );
  console.log('| store | sets/s | µs per set |');
  console.log('|---|---:|---:|');
  console.log(line('unjournaled (durability full)', plain));
  console.log(line("journaled (journal: { retention: '7d' })", journaled));
  console.log(`\njournaled / unjournaled = ${ratio.toFixed(2)}x (target >= 0.8x): ${ratio >= 0.8 ? 'met' : 'NOT met'}`);
  for (const store of Object.values(stores)) await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
