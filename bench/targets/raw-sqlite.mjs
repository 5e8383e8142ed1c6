// Raw better-sqlite3, the way a careful app would write it by hand: WAL, synchronous=FULL,
// Strata's cache_size and mmap_size,
// a kv(key TEXT PRIMARY KEY, value TEXT) table, prepared statements, JSON.stringify/parse.
// Documents live in docs(key, value) WITHOUT ROWID (as Strata's tables: index entries then
// carry the key, so a page in key order on the index needs no sort) with the same expression
// index Strata declares for `indexes: ['status']`. Called synchronously, as better-sqlite3 is used (no await).
// The `zod` variant runs only the collection workloads and validates every document with
// the same zod schema on write and on read, as Strata does with `schema`.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chunks } from '../lib/data.mjs';
import { Deployment } from './deployment-schema.mjs';

const require = createRequire(import.meta.url);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS docs (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS docs_status ON docs (json_extract(value, '$.status'));
`;
const UPSERT_DOC = 'INSERT INTO docs (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value';

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

/**
 * @param {{ zod?: boolean }} [variant]
 * @returns {import('./types.mjs').Target}
 */
export function rawSqliteTarget(variant = {}) {
  const zod = variant.zod === true;
  const check = zod ? (doc) => Deployment.parse(doc) : (doc) => doc;
  return {
    id: zod ? 'raw-sqlite-zod' : 'raw-sqlite',
    label: zod ? 'raw better-sqlite3 + zod parse' : 'raw better-sqlite3',
    durability: 'WAL, synchronous=FULL, one autocommit statement per set',
    query: true,
    coll: true,
    collectionOnly: zod,
    async prefill(dir, size, withDocs) {
      const db = connect(dir, 'NORMAL');
      const put = db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
      const putDoc = db.prepare(UPSERT_DOC);
      const load = db.transaction((stmt, chunk) => {
        for (const [k, v] of chunk) stmt.run(k, JSON.stringify(v));
      });
      if (!zod) for (const chunk of chunks(size)) load(put, chunk);
      if (withDocs) for (const chunk of chunks(size)) load(putDoc, chunk);
      db.close();
    },
    async open(dir) {
      const db = connect(dir, 'FULL');
      const put = db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
      const get = db.prepare('SELECT value FROM kv WHERE key = ?').pluck();
      const all = db.prepare('SELECT key, value FROM kv').raw();
      const byStatus = db.prepare("SELECT key, value FROM docs WHERE json_extract(value, '$.status') = ? ORDER BY key").raw();
      const putDoc = db.prepare(UPSERT_DOC);
      const getDoc = db.prepare('SELECT value FROM docs WHERE key = ?').pluck();
      const firstPage = db
        .prepare("SELECT key, value FROM docs WHERE json_extract(value, '$.status') = ? ORDER BY key LIMIT ?")
        .raw();
      const nextPage = db
        .prepare("SELECT key, value FROM docs WHERE json_extract(value, '$.status') = ? AND key > ? ORDER BY key LIMIT ?")
        .raw();
      const putMany = db.transaction((entries) => {
        for (const [k, v] of entries) put.run(k, JSON.stringify(v));
      });
      const upsertDocs = db.transaction((docs) => {
        for (const doc of docs) {
          const valid = check(doc);
          putDoc.run(valid.id, JSON.stringify(valid));
        }
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
          return byStatus.all(status).map((row) => check(JSON.parse(row[1])));
        },
        coll: {
          get(key) {
            const text = getDoc.get(key);
            return text === undefined ? null : check(JSON.parse(text));
          },
          upsert(doc) {
            const valid = check(doc);
            putDoc.run(valid.id, JSON.stringify(valid));
          },
          upsertMany(docs) {
            upsertDocs(docs);
          },
          // Keyset paging in key order, one row more than the page to know whether another follows.
          page(status, cursor, limit) {
            const rows = cursor == null ? firstPage.all(status, limit + 1) : nextPage.all(status, cursor, limit + 1);
            const items = rows.slice(0, limit).map((row) => check(JSON.parse(row[1])));
            return { items, next: rows.length > limit ? rows[limit - 1][0] : null };
          },
        },
        close() {
          db.close();
        },
      };
    },
  };
}

/** @type {import('./types.mjs').Target} */
export const rawSqlite = rawSqliteTarget();
