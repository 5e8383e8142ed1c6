#!/usr/bin/env node
// Backups of a large SQLite store (issue 9 targets): store.backup() against copying the
// store's file, and verify / restore against the backup. Run by `npm run bench` after the
// main tables; alone: `node bench/ops-backup.mjs [--records 1000000] [--levels 1,6]`.
// Needs `npm run build` first. Prints one Markdown table; the ratios go to RESULTS.md by hand.
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStore } from '../dist/index.js';

const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? fallback : process.argv[at + 1];
};
const records = Number(arg('records', '1000000'));
const levels = arg('levels', '1').split(',').map(Number);
const dir = mkdtempSync(join(tmpdir(), 'strata-bench-backup-'));
const url = `sqlite:${join(dir, 'app.db')}?durability=normal`;
const log = (line) => process.stderr.write(`${line}\n`);
const time = async (fn) => {
  const started = performance.now();
  const result = await fn();
  return { ms: performance.now() - started, result };
};
const best = async (runs, fn) => {
  let out;
  for (let i = 0; i < runs; i++) {
    const run = await time(fn);
    if (out === undefined || run.ms < out.ms) out = run;
  }
  return out;
};

try {
  log(`backup bench: filling ${records.toLocaleString('en-US')} records ...`);
  let store = await openStore({ url, sweepInterval: false });
  const kv = store.kv('items');
  const BATCH = 10_000;
  for (let i = 0; i < records; i += BATCH) {
    const entries = [];
    for (let j = i; j < Math.min(records, i + BATCH); j++) {
      entries.push([`item:${String(j).padStart(8, '0')}`, { title: `item number ${j}`, status: j % 3 ? 'open' : 'done', n: j }]);
    }
    await kv.setMany(entries);
  }
  await store.close(); // checkpoints the WAL: the copy below is of the whole store
  store = await openStore({ url, sweepInterval: false });
  const file = join(dir, 'app.db');
  const fileBytes = statSync(file).size;
  const copy = await best(3, () => copyFileSync(file, join(dir, 'copy.db')));
  rmSync(join(dir, 'copy.db'), { force: true });
  const rows = [];
  for (const level of levels) {
    const backup = await best(2, () => store.backup({ to: join(dir, `backups-${level}`), gzipLevel: level }));
    const id = backup.result.id;
    const verify = await best(1, () => store.backups.verify(id, { dir: join(dir, `backups-${level}`) }));
    const restore = await best(1, () => store.restore(id, { dir: join(dir, `backups-${level}`) }));
    if (restore.result.records !== records) throw new Error(`restore brought back ${restore.result.records} records`);
    rows.push({ level, backup, verify, restore, bytes: backup.result.bytes });
  }
  await store.close();
  const mb = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
  const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`\n### Backups (issue 9): ${records.toLocaleString('en-US')} records, store file ${mb(fileBytes)}\n`);
  console.log(`copying the file: ${s(copy.ms)} (${mb(fileBytes / (copy.ms / 1000))}/s)\n`);
  console.log('| gzip level | backup | size | speed vs copy (target >= 0.5x) | verify / backup (target < 2x) | restore / backup (target < 2x) |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.level} | ${s(r.backup.ms)} | ${mb(r.bytes)} | ${(copy.ms / r.backup.ms).toFixed(2)}x | ${s(r.verify.ms)} = ${(r.verify.ms / r.backup.ms).toFixed(2)}x | ${s(r.restore.ms)} = ${(r.restore.ms / r.backup.ms).toFixed(2)}x |`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
