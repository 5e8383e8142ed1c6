// Raw better-sqlite3, the way a careful app would write it by hand: WAL, synchronous=FULL,
// Strata's cache_size and mmap_size,
// a kv(key TEXT PRIMARY KEY, value TEXT) table, prepared statements, JSON.stringify/parse.
// Called synchronously, as better-sqlite3 is used (no await).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chunks } from '../lib/data.mjs';

const require = createRequire(import.meta.url);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS docs (key TEXT PRIMARY KEY, value TEXT);
CREATE INDEX IF NOT EXISTS docs_status ON docs (json_extract(value, '$.status'));
`;

function connect(dir, synchronous) {
  const Database = require('better-sqlite3');
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('cache_size = -32768'); // the same page cache as Strata's driver
  db.pragma('mmap_size = 268435456'); // and the same memory-mapped reads
  db.exec(SCHEMA);
  return db;
}

/** SQLite version of the better-sqlite3 that the raw path uses. */
export function rawSqliteVersion() {
  const Database = require('better-sqlite3');
  const db = new Database(':memory:');
  try {
    return db.prepare('SELECT sqlite_version()').pluck().get();
  } finally {
    db.close();
  }
}

/** @type {import('./types.mjs').Target} */
export const rawSqlite = {
  id: 'raw-sqlite',
  label: 'raw better-sqlite3',
  durability: 'WAL, synchronous=FULL, one autocommit statement per set',
  query: true,
  async prefill(dir, size, withDocs) {
    const db = connect(dir, 'NORMAL');
    const put = db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    const putDoc = db.prepare(
      'INSERT INTO docs (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    const load = db.transaction((stmt, chunk) => {
      for (const [k, v] of chunk) stmt.run(k, JSON.stringify(v));
    });
    for (const chunk of chunks(size)) load(put, chunk);
    if (withDocs) for (const chunk of chunks(size)) load(putDoc, chunk);
    db.close();
  },
  async open(dir) {
    const db = connect(dir, 'FULL');
    const put = db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    const get = db.prepare('SELECT value FROM kv WHERE key = ?').pluck();
    const all = db.prepare('SELECT key, value FROM kv').raw();
    const byStatus = db.prepare("SELECT key, value FROM docs WHERE json_extract(value, '$.status') = ? ORDER BY key").raw();
    const putMany = db.transaction((entries) => {
      for (const [k, v] of entries) put.run(k, JSON.stringify(v));
    });
    return {
      set(key, value) {
        put.run(key, JSON.stringify(value));
      },
      get(key) {
        const text = get.get(key);
        return text === undefined ? null : JSON.parse(text);
      },
      setMany(entries) {
        putMany(entries);
      },
      async readAll() {
        let n = 0;
        for (const row of all.iterate()) if (JSON.parse(row[1]) !== null) n++;
        return n;
      },
      query(status) {
        return byStatus.all(status).map((row) => JSON.parse(row[1]));
      },
      close() {
        db.close();
      },
    };
  },
};
