// keyv + @keyv/sqlite (node-sqlite3 underneath): its defaults are a rollback journal with
// synchronous=FULL, so every set is durable. Prefilled through better-sqlite3 in keyv's own
// table and serialization format, since keyv has no batch write for SQLite.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chunks } from '../lib/data.mjs';

const require = createRequire(import.meta.url);

async function connect(dir) {
  const { default: Keyv } = await import('keyv');
  const { default: KeyvSqlite } = await import('@keyv/sqlite');
  // iterationLimit: keyv pages its iterator with LIMIT/OFFSET (default 10 rows a page); 1,000 is kinder.
  const store = new KeyvSqlite({ uri: `sqlite://${join(dir, 'keyv.sqlite')}`, iterationLimit: 1000 });
  return new Keyv({ store, throwOnErrors: true });
}

/** @type {import('./types.mjs').Target} */
export const keyvSqlite = {
  id: 'keyv',
  label: 'keyv + @keyv/sqlite',
  durability: 'rollback journal, synchronous=FULL (sqlite3 defaults), one autocommit per set',
  async prefill(dir, size) {
    const keyv = await connect(dir);
    await keyv.set('warm', 1); // creates keyv's table
    const prefix = (key) => keyv._getKeyPrefix(key);
    await keyv.disconnect();
    const Database = require('better-sqlite3');
    const db = new Database(join(dir, 'keyv.sqlite'));
    const put = db.prepare('INSERT OR REPLACE INTO keyv (key, value) VALUES (?, ?)');
    const load = db.transaction((chunk) => {
      for (const [k, v] of chunk) put.run(prefix(k), keyv.serialize({ value: v, expires: undefined }));
    });
    for (const chunk of chunks(size)) load(chunk);
    db.prepare('DELETE FROM keyv WHERE key = ?').run(prefix('warm'));
    db.close();
  },
  async open(dir) {
    const keyv = await connect(dir);
    return {
      set: (key, value) => keyv.set(key, value),
      get: (key) => keyv.get(key),
      setMany: (entries) => keyv.setMany(entries.map(([key, value]) => ({ key, value }))),
      async readAll() {
        let n = 0;
        for await (const [, value] of keyv.iterator()) if (value !== undefined) n++;
        return n;
      },
      close: () => keyv.disconnect(),
    };
  },
};
