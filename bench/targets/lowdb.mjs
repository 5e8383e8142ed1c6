// lowdb 7 (JSONFilePreset): the whole store is one object in memory; every write rewrites
// the whole JSON file (steno: temp file + rename, no fsync).
import { join } from 'node:path';
import { chunks } from '../lib/data.mjs';

async function connect(dir) {
  const { JSONFilePreset } = await import('lowdb/node');
  return JSONFilePreset(join(dir, 'db.json'), {});
}

/** @type {import('./types.mjs').Target} */
export const lowdb = {
  id: 'lowdb',
  label: 'lowdb',
  durability: 'whole file rewritten per write (temp + rename, no fsync)',
  async prefill(dir, size) {
    const db = await connect(dir);
    for (const chunk of chunks(size)) for (const [k, v] of chunk) db.data[k] = v;
    await db.write();
  },
  async open(dir) {
    const db = await connect(dir);
    return {
      async set(key, value) {
        db.data[key] = value;
        await db.write();
      },
      get: (key) => db.data[key] ?? null,
      async setMany(entries) {
        for (const [k, v] of entries) db.data[k] = v;
        await db.write();
      },
      async readAll() {
        let n = 0;
        for (const key in db.data) if (db.data[key] !== null) n++;
        return n;
      },
      close() {},
    };
  },
};
