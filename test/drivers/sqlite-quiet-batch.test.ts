// Quiet batches (results unread: kv.setMany, upsertMany) write QUIET_ROWS puts per statement.
// They must leave exactly what one statement per put leaves: versions counted on, created_at
// kept, expired keys started again at version 1, duplicates in one statement applied in
// order, other ops seeing every earlier put, and a damaged row met inside a statement CORRUPT
// with the store untouched. The memory driver is the reference.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteConnection, sqliteDriver } from '../../src/drivers/sqlite.js';
import { memoryDriver } from '../../src/drivers/memory.js';
import type { Driver, StoredRecord, WriteOp } from '../../src/drivers/driver.js';
import { tableName, QUIET_ROWS } from '../../src/drivers/sqlite-spaces.js';
import { StrataError } from '../../src/errors.js';
import { rng } from '../rng.js';

const root = mkdtempSync(join(tmpdir(), 'strata-quiet-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshPath = (): string => join(root, `case-${++counter}`, 'store.db');

const SPACES = ['kv.a', 'kv.b'];
const KEYS = Array.from({ length: 40 }, (_, i) => `k${i}`);

async function everything(driver: Driver, now: number): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for (const space of SPACES) {
    // Stamps differ by design (sqlite: the CRC; memory: a counter).
    for (const r of await driver.getMany(space, KEYS, now)) if (r !== null) out.push({ ...r, stamp: undefined });
  }
  return out;
}

/** A random batch: mostly puts (some expiring soon), a few deletes, repeated keys, two spaces. */
function batchOf(next: () => number, now: number, round: number): WriteOp[] {
  const ops: WriteOp[] = [];
  const length = Math.floor(next() * (QUIET_ROWS * 4)) + 1;
  let space = SPACES[0]!;
  for (let i = 0; i < length; i++) {
    if (next() < 0.05) space = SPACES[Math.floor(next() * SPACES.length)]!;
    const key = KEYS[Math.floor(next() * (next() < 0.3 ? 4 : KEYS.length))]!;
    if (next() < 0.06) {
      ops.push({ type: 'delete', space, key });
      continue;
    }
    const roll = next();
    const expiresAt = roll < 0.2 ? now + 5 : roll < 0.3 ? now + 1000 : null;
    ops.push({ type: 'put', space, key, value: JSON.stringify({ round, i }), expiresAt });
  }
  return ops;
}

describe('sqlite quiet batches', () => {
  it('leave the same records as the memory driver (random batches, expiring keys, repeats)', async () => {
    const sqlite = sqliteDriver({ path: freshPath(), durability: 'normal' });
    const memory = memoryDriver();
    const next = rng(20261201);
    let now = 1_700_000_000_000;
    try {
      for (let round = 0; round < 60; round++) {
        const ops = batchOf(next, now, round);
        await sqlite.batch(ops, now, { results: false });
        await memory.batch(ops, now, { results: false });
        expect(await everything(sqlite, now)).toEqual(await everything(memory, now));
        now += Math.floor(next() * 8); // keys set to expire at now + 5 lapse between batches
      }
    } finally {
      await sqlite.close();
      await memory.close();
    }
  });

  it('runs a check after queued puts against what they wrote', async () => {
    const driver = sqliteDriver({ path: freshPath(), durability: 'normal' });
    try {
      const puts: WriteOp[] = KEYS.slice(0, QUIET_ROWS + 3).map((key) => ({
        type: 'put',
        space: 'kv.a',
        key,
        value: '1',
        expiresAt: null,
      }));
      await driver.batch([...puts, { type: 'check', space: 'kv.a', key: 'k0', expect: 1 }], 1000, { results: false });
      const late: WriteOp = { type: 'put', space: 'kv.a', key: 'k1', value: '2', expiresAt: null };
      await expect(
        driver.batch([late, { type: 'check', space: 'kv.a', key: 'k1', expect: 1 }], 1001, { results: false }),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      // The conflict rolled the queued put back with the rest.
      expect((await driver.getMany('kv.a', ['k1'], 1002))[0]).toMatchObject({ version: 1, value: '1' });
    } finally {
      await driver.close();
    }
  });

  it('is CORRUPT, store untouched, when a statement of many rows meets a damaged row', async () => {
    const path = freshPath();
    const driver = sqliteDriver({ path, durability: 'normal' });
    try {
      const rows = (value: string): WriteOp[] =>
        KEYS.slice(0, QUIET_ROWS * 2).map((key) => ({ type: 'put', space: 'kv.a', key, value, expiresAt: null }));
      await driver.batch(rows('"a"'), 1000, { results: false });
      const db = sqliteConnection(driver);
      // A damaged version in the middle of the second statement's rows.
      db.prepare(`UPDATE ${tableName('kv.a')} SET version = version + 256 WHERE key = ?`).run(KEYS[QUIET_ROWS + 5]);
      const before = db
        .prepare(`SELECT * FROM ${tableName('kv.a')} ORDER BY key`)
        .raw()
        .all();
      let code: string | undefined;
      try {
        await driver.batch(rows('"b"'), 2000, { results: false });
      } catch (error) {
        code = StrataError.is(error) ? error.code : String(error);
      }
      expect(code).toBe('CORRUPT');
      expect(
        db
          .prepare(`SELECT * FROM ${tableName('kv.a')} ORDER BY key`)
          .raw()
          .all(),
      ).toEqual(before);
    } finally {
      await driver.close();
    }
  });
});
