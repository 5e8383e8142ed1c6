#!/usr/bin/env node
// Where Strata's sqlite ratios go: each failing path is rebuilt step by step, from raw
// better-sqlite3 to the public API, measured side by side (interleaved rounds, medians).
//   node bench/diagnose.mjs [get|batch|query ...] [--size 20000] [--rounds 9]
// SQL-level steps use Strata's own better-sqlite3 (the repository's node_modules) on copies of
// Strata's schema, so the numbers isolate schema/SQL choices from the JavaScript layers.
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keys as allKeys, record, valuePool } from './lib/data.mjs';
import { measure, median } from './lib/measure.mjs';
import { strataTarget } from './targets/strata.mjs';
import { rawSqlite } from './targets/raw-sqlite.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const Database = createRequire(join(HERE, '../package.json'))('better-sqlite3');
const argv = process.argv.slice(2);
const flag = (name, fallback) => (argv.includes(`--${name}`) ? Number(argv[argv.indexOf(`--${name}`) + 1]) : fallback);
const SIZE = flag('size', 20000);
const ROUNDS = flag('rounds', 9);
const wanted = argv.filter((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
const DIR = join(HERE, '.data', 'diagnose');
const KEYS = allKeys(SIZE);
const picks = Array.from({ length: 65536 }, (_, i) => KEYS[(i * 2654435761) % SIZE]);
const VALUES = valuePool().map((v) => JSON.stringify(v));

/** Runs every step in interleaved rounds; prints ops/s and the ratio to the first step. */
async function compare(title, steps) {
  const res = Object.fromEntries(Object.keys(steps).map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, step] of Object.entries(steps))
      res[name].push((await measure(step, { warmupMs: 100, roundMs: 300, maxOps: Infinity })).opsPerSec);
  }
  const base = median(Object.values(res)[0]);
  console.log(`\n${title} (${SIZE} records, median of ${ROUNDS} rounds; ratio to the first line)`);
  for (const [name, v] of Object.entries(res))
    console.log(`  ${name.padEnd(58)} ${String(Math.round(median(v))).padStart(8)}  ${(median(v) / base).toFixed(2)}`);
}

async function stores() {
  rmSync(DIR, { recursive: true, force: true });
  for (const d of ['strata', 'raw']) mkdirSync(join(DIR, d), { recursive: true });
  const strata = strataTarget('sqlite');
  await strata.prefill(join(DIR, 'strata'), SIZE, true);
  await rawSqlite.prefill(join(DIR, 'raw'), SIZE, true);
  const { openStore } = await import('../dist/index.js');
  const store = await openStore({ url: `sqlite:${join(DIR, 'strata', 'strata.db')}`, sweepInterval: false });
  const open = (file) => {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    // Strata's driver's pragmas (src/drivers/sqlite-schema.ts), as in targets/raw-sqlite.mjs.
    db.pragma('cache_size = -32768');
    db.pragma('mmap_size = 268435456');
    return db;
  };
  return { store, strataDb: open(join(DIR, 'strata', 'strata.db')), rawDb: open(join(DIR, 'raw', 'raw.db')) };
}

/** The table Strata's sqlite driver keeps a space in (see `tableName` in src/drivers/sqlite-spaces.ts). */
function tableOf(space) {
  return `strata_s_${createHash('sha256').update(space).digest('hex').slice(0, 24)}`;
}

async function diagnoseGet({ store, strataDb, rawDb }) {
  const kv = store.kv('deployments');
  await kv.get(KEYS[0]);
  const raw = rawDb.prepare('SELECT value FROM kv WHERE key = ?').pluck();
  const packed = "version || ' ' || created_at || ' ' || updated_at || ' ' || coalesce(expires_at, '') || ' ' || value";
  const table = tableOf('kv.deployments');
  const sPacked = strataDb.prepare(`SELECT ${packed} FROM ${table} WHERE key = ?`).pluck();
  const sValue = strataDb.prepare(`SELECT value FROM ${table} WHERE key = ?`).pluck();
  let c = 0;
  const loop = (fn) => async (n) => {
    for (let i = 0; i < n; i++) await fn(picks[c++ & 65535]);
    return n;
  };
  await compare('random get: raw -> SQL of Strata -> driver -> kv.get', {
    'raw better-sqlite3 SELECT value + JSON.parse (sync)': async (n) => {
      for (let i = 0; i < n; i++) JSON.parse(raw.get(picks[c++ & 65535]));
      return n;
    },
    'same, awaited through an async function': loop(async (k) => JSON.parse(raw.get(k))),
    'Strata table, SELECT value only (sync)': async (n) => {
      for (let i = 0; i < n; i++) JSON.parse(sValue.get(picks[c++ & 65535]));
      return n;
    },
    "Strata table, the driver's packed SELECT + unpack + parse (sync)": async (n) => {
      for (let i = 0; i < n; i++) {
        const p = sPacked.get(picks[c++ & 65535]);
        let at = -1;
        for (let f = 0; f < 4; f++) at = p.indexOf(' ', at + 1);
        JSON.parse(p.slice(at + 1));
      }
      return n;
    },
    'store.driver.get + JSON.parse (awaited)': loop(async (k) =>
      JSON.parse((await store.driver.get('kv.deployments', k, Date.now())).value),
    ),
    'kv.get (public API)': loop((k) => kv.get(k)),
  });
}

async function diagnoseBatch({ store }) {
  const kv = store.kv('deployments');
  const base = join(DIR, 'batch');
  mkdirSync(base, { recursive: true });
  // The table the sqlite driver keeps one space in (one table per space, keyed by key).
  const schema = `CREATE TABLE space_records (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, expires_at INTEGER) WITHOUT ROWID;
    CREATE INDEX space_records_expiry ON space_records (expires_at) WHERE expires_at IS NOT NULL;`;
  const upsert = (
    version,
  ) => `INSERT INTO space_records (key, value, version, created_at, updated_at, expires_at) VALUES (?, ?, 1, ?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = ${version}, updated_at = excluded.updated_at, expires_at = excluded.expires_at
    WHERE expires_at IS NULL OR expires_at > excluded.updated_at`;
  const now = Date.now();
  const variant = (name, ddl, sql, bind, udf) => {
    const db = new Database(join(base, `${name}.db`));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    if (udf) db.function('strata_overwrote', { directOnly: true }, (version, _createdAt) => version);
    db.exec(ddl);
    const stmt = db.prepare(sql);
    const load = db.transaction((rows) => {
      for (const [k, v] of rows) bind(stmt, k, v);
    });
    for (let i = 0; i < SIZE; i += 10_000)
      load(KEYS.slice(i, i + 10_000).map((k, j) => [k, JSON.stringify(record(i + j, SIZE))]));
    let c = 0;
    return async (n) => {
      const batches = Math.max(1, Math.round(n / 1000));
      for (let b = 0; b < batches; b++) {
        const rows = [];
        for (let i = 0; i < 1000; i++, c++) rows.push([KEYS[c % SIZE], VALUES[(c + ((c / SIZE) | 0) * 7) & 1023]]);
        load(rows);
      }
      return batches * 1000;
    };
  };
  const kvBind = (stmt, k, v) => stmt.run(k, v, now, now, null);
  const objects = valuePool();
  let c = 0;
  await compare('batch set (1,000/transaction): raw -> the space table -> + UDF -> kv.setMany', {
    'raw kv(key TEXT PRIMARY KEY, value TEXT) upsert': variant(
      'raw',
      'CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT)',
      'INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      (s, k, v) => s.run(k, v),
    ),
    "a space's table (WITHOUT ROWID, 6 columns) upsert": variant('schema', schema, upsert('version + 1'), kvBind),
    '+ strata_overwrote() JS callback per row': variant(
      'udf',
      schema,
      upsert('strata_overwrote(version + 1, created_at)'),
      kvBind,
      true,
    ),
    'kv.setMany (public API, store with an indexed collection)': async (n) => {
      const batches = Math.max(1, Math.round(n / 1000));
      for (let b = 0; b < batches; b++) {
        const entries = [];
        for (let i = 0; i < 1000; i++, c++) entries.push([KEYS[c % SIZE], objects[(c + ((c / SIZE) | 0) * 7 + 300) & 1023]]);
        await kv.setMany(entries);
      }
      return batches * 1000;
    },
  });
}

async function diagnoseQuery({ store, strataDb, rawDb }) {
  const docs = store.collection('deployment_docs', { indexes: ['status'] });
  await docs.query({ status: 'pending' });
  const table = tableOf('c.deployment_docs');
  // The SQL collection.query runs (src/drivers/sqlite.ts buildScan): live records only; a
  // string equality needs no json_type guard; `valuesOnly` selects key and value.
  const where = '(expires_at IS NULL OR expires_at > ?) AND json_extract(value, \'$."status"\') = ?';
  const cols6 = 'key, value, version, created_at, updated_at, expires_at';
  const stmts = {
    raw: rawDb.prepare("SELECT key, value FROM docs WHERE json_extract(value, '$.status') = ? ORDER BY key").raw(true),
    strata: strataDb.prepare(`SELECT key, value FROM ${table} WHERE ${where} ORDER BY key ASC`).raw(true),
    all6: strataDb.prepare(`SELECT ${cols6} FROM ${table} WHERE ${where} ORDER BY key ASC`).raw(true),
  };
  const { parseJson } = await import('../dist/codec/json.js');
  const now = Date.now();
  const run = (stmt, args, parse) => async (n) => {
    for (let i = 0; i < n; i++) for (const row of stmt.all(...args)) parse(row[1]);
    return n;
  };
  const strataArgs = [now, 'pending'];
  await compare("query status='pending' (~100 docs): raw SQL -> Strata's SQL -> collection.query", {
    'raw: docs table, expression index, 2 columns + JSON.parse': run(stmts.raw, ['pending'], JSON.parse),
    "Strata's SQL (+ expiry test), 2 columns + JSON.parse": run(stmts.strata, strataArgs, JSON.parse),
    "  the same, all 6 envelope columns (before 'valuesOnly')": run(stmts.all6, strataArgs, JSON.parse),
    "Strata's SQL + parseJson (the __proto__ guard)": run(stmts.strata, strataArgs, parseJson),
    'collection.query (public API)': async (n) => {
      for (let i = 0; i < n; i++) await docs.query({ status: 'pending' });
      return n;
    },
  });
}

const ctx = await stores();
try {
  if (wanted.length === 0 || wanted.includes('get')) await diagnoseGet(ctx);
  if (wanted.length === 0 || wanted.includes('batch')) await diagnoseBatch(ctx);
  if (wanted.length === 0 || wanted.includes('query')) await diagnoseQuery(ctx);
} finally {
  await ctx.store.close();
  ctx.strataDb.close();
  ctx.rawDb.close();
  rmSync(DIR, { recursive: true, force: true });
}
