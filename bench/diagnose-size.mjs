#!/usr/bin/env node
// Why random gets slow down as a store grows, and which SQLite setting helps: point reads on
// Strata's kv table of a small and a large store, side by side, under several pragma sets.
//   node bench/diagnose-size.mjs [--small 20000] [--large 1000000] [--rounds 5]
// The stores are built through Strata (kv + indexed collection, as `npm run bench` does) and
// kept in bench/.data/diagnose-size between runs; the reads use better-sqlite3 directly, so
// the ratios isolate the storage engine from Strata's JavaScript layers.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keyOf, rng } from './lib/data.mjs';
import { measure, median } from './lib/measure.mjs';
import { strataTarget } from './targets/strata.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const Database = createRequire(join(HERE, '../package.json'))('better-sqlite3');
const argv = process.argv.slice(2);
const flag = (name, fallback) => (argv.includes(`--${name}`) ? Number(argv[argv.indexOf(`--${name}`) + 1]) : fallback);
const SMALL = flag('small', 20_000);
const LARGE = flag('large', 1_000_000);
const ROUNDS = flag('rounds', 5);
const DIR = join(HERE, '.data', 'diagnose-size');
const MiB = 1024 * 1024;

const CONFIGS = {
  'cache 32 MiB (Strata before mmap)': { cache: 32, mmap: 0 },
  'cache 128 MiB': { cache: 128, mmap: 0 },
  'cache 32 MiB + mmap 128 MiB': { cache: 32, mmap: 128 },
  'cache 32 MiB + mmap 256 MiB (Strata default)': { cache: 32, mmap: 256 },
  'cache 32 MiB + mmap 1 GiB': { cache: 32, mmap: 1024 },
};

async function storeOf(size) {
  const dir = join(DIR, String(size));
  if (!existsSync(join(dir, 'strata.db'))) {
    mkdirSync(dir, { recursive: true });
    console.log(`building a ${size}-record store in ${dir}`);
    await strataTarget('sqlite').prefill(dir, size, true);
  }
  return join(dir, 'strata.db');
}

function reader(file, size, { cache, mmap }) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`cache_size = ${-cache * 1024}`);
  db.pragma(`mmap_size = ${mmap * MiB}`);
  const table = db.prepare("SELECT tbl FROM strata_spaces WHERE space = 'kv.deployments'").pluck().get();
  const get = db.prepare(`SELECT value, version, created_at, updated_at, expires_at FROM ${table} WHERE key = ?`).raw();
  const random = rng(7);
  const step = async (n) => {
    for (let i = 0; i < n; i++) JSON.parse(get.get(keyOf(Math.floor(random() * size)))[0]);
    return n;
  };
  return { db, step };
}

/** File pages this process maps right now: node's code plus both stores' mapped pages. */
const mapped = () => {
  const kb = Number(/RssFile:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
  return `${Math.round(kb / 1024)} MB mapped`;
};

const files = { small: await storeOf(SMALL), large: await storeOf(LARGE) };
console.log(`\nrandom point reads, ${SMALL} vs ${LARGE} records, median of ${ROUNDS} interleaved rounds`);
for (const [name, config] of Object.entries(CONFIGS)) {
  const small = reader(files.small, SMALL, config);
  const large = reader(files.large, LARGE, config);
  const ratios = [];
  const rates = { small: [], large: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? ['small', 'large'] : ['large', 'small'];
    const round = {};
    for (const which of order) {
      const reader = which === 'small' ? small : large;
      round[which] = (await measure(reader.step, { warmupMs: 250, roundMs: 600, maxOps: Infinity })).opsPerSec;
      rates[which].push(round[which]);
    }
    ratios.push(round.large / round.small);
  }
  const k = (v) => `${Math.round(median(v) / 1000)}k/s`;
  console.log(
    `  ${name.padEnd(46)} ${k(rates.small).padStart(8)} ${k(rates.large).padStart(8)}  ` +
      `large/small ${median(ratios).toFixed(2)}  (${mapped()})`,
  );
  small.db.close();
  large.db.close();
}
