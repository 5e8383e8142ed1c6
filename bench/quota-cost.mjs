#!/usr/bin/env node
// What a quota costs per write (a quick measurement for the README, not part of `npm run bench`).
// For each driver and size: a namespace holding N records gets M single kv.set calls of new
// keys (CPU time per write), without a quota, then with a records + bytes quota that is never reached, and a third
// namespace with a store-wide quota. Also the one-time cost of the first check of a space
// (SQLite counts the space and installs its usage triggers). Needs `npm run build` first.
//
//   node bench/quota-cost.mjs [--sizes 10000,100000] [--writes 2000] [--only sqlite]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStore } from '../dist/index.js';

const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? fallback : process.argv[at + 1];
};
const sizes = arg('sizes', '10000,100000').split(',').map(Number);
const writes = Number(arg('writes', '2000'));
const only = arg('only', '');
const drivers = {
  'sqlite (durability normal)': (dir) => `sqlite:${join(dir, 'q.db')}?durability=normal`,
  'file (durability normal)': (dir) => `file:${join(dir, 'store')}?durability=normal`,
  memory: () => 'memory:',
};
const value = (i) => ({ title: `task number ${i}`, status: 'todo', n: i });

async function perWrite(kv, prefix) {
  for (let i = 0; i < 100; i++) await kv.set(`${prefix}-warm-${i}`, value(i));
  // CPU time of this process, not wall time: the numbers stay comparable on a busy machine.
  const started = process.cpuUsage();
  for (let i = 0; i < writes; i++) await kv.set(`${prefix}-${i}`, value(i));
  const used = process.cpuUsage(started);
  return (used.user + used.system) / writes;
}

const rows = [];
for (const [name, url] of Object.entries(drivers).filter(([n]) => only === '' || n.startsWith(only))) {
  for (const size of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'strata-quota-cost-'));
    try {
      const fill = async (store, space) => {
        const kv = store.kv(space);
        for (let at = 0; at < size; at += 5000) {
          await kv.setMany(Array.from({ length: Math.min(5000, size - at) }, (_, j) => [`seed-${at + j}`, value(at + j)]));
        }
      };
      const big = { records: 1e9, bytes: 1e12 };
      let store = await openStore({ url: url(dir), sweepInterval: false });
      await fill(store, 'plain');
      await fill(store, 'limited');
      const plain = await perWrite(store.kv('plain'), 'p');
      const limited = store.kv('limited', { quota: big });
      let t = performance.now();
      await limited.set('first', 1);
      const first = performance.now() - t;
      const quota = await perWrite(limited, 'q');
      if (name !== 'memory') {
        await store.close();
        store = await openStore({ url: url(dir), sweepInterval: false, quota: big });
      } else {
        await fill(store, 'wide'); // memory: no reopen; a store-wide quota needs a new store
        store = await openStore({ url: url(dir), sweepInterval: false, quota: big });
        await fill(store, 'wide');
      }
      const wide = await perWrite(store.kv(name === 'memory' ? 'wide' : 'plain'), 'w');
      await store.close();
      rows.push({ driver: name, records: size, noQuota: plain, quota, storeWide: wide, firstCheckMs: first });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
console.log(`CPU us per kv.set of a new key (${writes} writes), first quota check of a space in ms (wall)`);
console.table(
  rows.map((r) => ({
    driver: r.driver,
    records: r.records,
    'no quota (us)': r.noQuota.toFixed(1),
    'namespace quota (us)': r.quota.toFixed(1),
    'store-wide quota (us)': r.storeWide.toFixed(1),
    'first check (ms)': r.firstCheckMs.toFixed(1),
  })),
);
