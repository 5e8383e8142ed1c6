#!/usr/bin/env node
// Reading a whole space page by page (kv.entries, collection.page in key order and sorted
// by a field, with and without an index), then deleting in bulk (collection.deleteWhere on
// an unindexed field, kv.clear), on every embedded driver. Time per record should stay flat
// as the store grows; on memory: and file: it used to grow with the store (every page
// re-read every record).
//   node bench/diagnose-paging.mjs [--sizes 20000,100000] [--page 100]
import { mkdirSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chunks } from './lib/data.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const argv = process.argv.slice(2);
const arg = (name, fallback) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : fallback);
const SIZES = arg('sizes', '20000,100000').split(',').map(Number);
const PAGE = Number(arg('page', 100));
const DIR = join(HERE, '.data', 'diagnose-paging');
const { openStore } = await import('../dist/index.js');

async function timed(label, size, fn, expected = size) {
  const started = performance.now();
  const n = await fn();
  const ms = performance.now() - started;
  if (n !== expected) throw new Error(`${label}: got ${n} of ${expected}`);
  console.log(`  ${label.padEnd(34)} ${String(Math.round(ms)).padStart(6)} ms  ${((ms * 1000) / size).toFixed(2)} µs/record`);
}

for (const url of ['memory:', `file:${join(DIR, 'store')}`, `sqlite:${join(DIR, 'store.db')}`]) {
  for (const size of SIZES) {
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    const store = await openStore({ url, durability: 'normal', sweepInterval: false });
    const kv = store.kv('deployments');
    const docs = store.collection('deployment_docs');
    const indexed = store.collection('indexed_docs', { indexes: ['createdAt'] });
    for (const chunk of chunks(size)) {
      await kv.setMany(chunk);
      await docs.upsertMany(chunk.map((e) => e[1]));
      await indexed.upsertMany(chunk.map((e) => e[1]));
    }
    console.log(`${url.split(':')[0]}: ${size} records, pages of ${PAGE}`);
    await timed('kv.entries', size, async () => {
      let n = 0;
      for await (const _ of kv.entries()) n++;
      return n;
    });
    for (const [label, c, sort] of [
      ['collection.page, key order', docs, undefined],
      ['collection.page, sort by createdAt', docs, { createdAt: -1 }],
      ['  the same, createdAt indexed', indexed, { createdAt: -1 }],
      ['  indexed, ascending', indexed, { createdAt: 1 }],
    ]) {
      if (url.startsWith('sqlite:') && sort !== undefined && c === docs && size > 20_000) {
        console.log(`  ${label.padEnd(34)} skipped: with no index every page sorts the collection (~100 s at 100k)`);
        continue;
      }
      await timed(label, size, async () => {
        let n = 0;
        let cursor = null;
        do {
          const page = await c.page({}, { limit: PAGE, cursor, sort });
          n += page.items.length;
          cursor = page.next;
        } while (cursor !== null);
        return n;
      });
    }
    const failed = await docs.count({ status: 'failed' });
    await timed("deleteWhere({ status: 'failed' })", size, () => docs.deleteWhere({ status: 'failed' }), failed);
    await timed('kv.clear', size, () => kv.clear());
    await store.close();
  }
}
rmSync(DIR, { recursive: true, force: true });
