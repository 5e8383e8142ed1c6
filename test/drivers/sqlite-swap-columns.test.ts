// A restore or import swaps a staged SQLite copy into the live store. Into an emptied table
// with the same columns it copies with `SELECT *` (SQLite's transfer optimization, which goes
// by column position); a staged table whose columns differ must still land by name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStore } from '../../src/index.js';
import { swapIn } from '../../src/drivers/sqlite-image.js';
import { tableName } from '../../src/drivers/sqlite-spaces.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'strata-swap-columns-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function fill(file: string, tag: string): Promise<void> {
  const store = await openStore({ url: `sqlite:${file}`, sweepInterval: false });
  await store.kv('items').setMany(Array.from({ length: 300 }, (_, i) => [`k${i}`, { tag, i }] as [string, unknown]));
  await store.kv('items').set('short', { tag }, { ttl: 3_600_000 });
  await store.close();
}

/** A live store and a staged copy holding other values under the same keys. */
async function filledPair(name: string): Promise<{ live: string; stage: string }> {
  const live = join(root, `${name}-live.db`);
  const stage = join(root, `${name}-stage.db`);
  await fill(live, 'live');
  await fill(stage, 'staged');
  return { live, stage };
}

async function readAll(file: string): Promise<Array<[string, unknown]>> {
  const store = await openStore({ url: `sqlite:${file}`, sweepInterval: false });
  try {
    const out: Array<[string, unknown]> = [];
    for await (const entry of store.kv('items').entries()) out.push(entry as [string, unknown]);
    expect((await store.verify()).ok).toBe(true);
    return out;
  } finally {
    await store.close();
  }
}

function swap(live: string, stage: string): void {
  const db = new Database(live);
  try {
    swapIn({ db, location: live, driver: 'sqlite' }, stage, { mode: 'replace' }, Date.now());
  } finally {
    db.close();
  }
}

describe('swapping a staged copy into the live store', () => {
  it('the same columns: every record as staged', async () => {
    const { live, stage } = await filledPair('same');
    const expected = await readAll(stage);
    swap(live, stage);
    expect(await readAll(live)).toEqual(expected);
  });

  it('columns in another order in the staged table: still copied by name', async () => {
    const { live, stage } = await filledPair('order');
    const expected = await readAll(stage);
    const table = tableName('kv.items');
    const db = new Database(stage);
    const columns = 'key, value, version, created_at, updated_at, expires_at, crc, vsum';
    db.exec(`
      CREATE TABLE reordered (vsum INTEGER NOT NULL, crc INTEGER NOT NULL, expires_at INTEGER, updated_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL, version INTEGER NOT NULL, value TEXT NOT NULL, key TEXT PRIMARY KEY) WITHOUT ROWID;
      INSERT INTO reordered (${columns}) SELECT ${columns} FROM ${table};
      DROP TABLE ${table};
      ALTER TABLE reordered RENAME TO ${table};
    `);
    db.close();
    swap(live, stage);
    expect(await readAll(live)).toEqual(expected);
  });
});
