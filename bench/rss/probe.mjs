// Child process: open a prefilled store, read 1,000 random keys, report peak RSS.
// Usage: node probe.mjs strata|raw <dir> <size>
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { keyOf, rng } from '../lib/data.mjs';
import { performance } from 'node:perf_hooks';

const [kind, dir, sizeText] = process.argv.slice(2);
const size = Number(sizeText);
const READS = 1000;
const mb = (bytes) => Math.round((bytes / 1048576) * 10) / 10;
const status = (field) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
const hwm = () => status('VmHWM');

const random = rng(42);
const picks = Array.from({ length: READS }, () => keyOf(Math.floor(random() * size)));
let found = 0;
let baseline;
let rssAnon = 0;
let rssFile = 0;
// Sampled after the reads and before closing, while the file is still mapped.
const sample = () => {
  rssAnon = status('RssAnon');
  rssFile = status('RssFile');
};
const started = performance.now();
if (kind === 'strata') {
  const { openStore } = await import('../../dist/index.js');
  baseline = process.memoryUsage().rss;
  const store = await openStore({ url: `sqlite:${join(dir, 'strata.db')}`, sweepInterval: false });
  const kv = store.kv('deployments');
  for (const key of picks) if ((await kv.get(key)) !== null) found++;
  sample();
  await store.close();
} else {
  const Database = createRequire(import.meta.url)('better-sqlite3');
  baseline = process.memoryUsage().rss;
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('cache_size = -32768');
  db.pragma('mmap_size = 268435456');
  const get = db.prepare('SELECT value FROM kv WHERE key = ?').pluck();
  for (const key of picks) {
    const text = get.get(key);
    if (text !== undefined && JSON.parse(text) !== null) found++;
  }
  sample();
  db.close();
}
const ms = performance.now() - started;
process.stdout.write(
  JSON.stringify({
    kind,
    size,
    found,
    reads: READS,
    ms: Math.round(ms),
    baselineMB: mb(baseline),
    maxRssMB: mb(process.resourceUsage().maxRSS * 1024),
    vmHwmMB: mb(hwm()),
    // After the reads, before exit: what the process owns (heap, page cache copies) vs
    // file pages it maps, which are the kernel's shared, reclaimable page cache.
    rssAnonMB: mb(rssAnon),
    rssFileMB: mb(rssFile),
  }) + '\n',
);
