// `get`/`getSync` read one packed text column and check it in JS (sqlite-spaces.ts PACKED,
// sqlite-checksum.ts unpackChecked). These cases pin what that fast path must agree on with the
// row path (`getMany`): awkward keys and values, expiry, numbers SQLite stores as REAL or
// negative, and a damaged `vsum` (the SQL check) read as CORRUPT, never as a missing record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteConnection, sqliteDriver } from '../../src/drivers/sqlite.js';
import type { Driver, WriteOp } from '../../src/drivers/driver.js';
import { tableName } from '../../src/drivers/sqlite-spaces.js';
import { StrataError } from '../../src/errors.js';

let root: string;
let counter = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'strata-sqlite-get-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const NOW = 1_700_000_000_000;
const SPACE = 'kv.app';
const KEYS = ['a', 'with space', ' lead', 'trail ', '1 2 3', 'ünï/cödé', '漢字キー', 'emoji 🎉 key', 'x'.repeat(300)];
const put = (key: string, value: unknown, expiresAt: number | null = null): WriteOp => ({
  type: 'put',
  space: SPACE,
  key,
  value: JSON.stringify(value),
  expiresAt,
});

async function fresh(): Promise<Driver> {
  const driver = sqliteDriver({ path: join(root, `case-${++counter}`, 'store.db') });
  await driver.ensureSpace(SPACE, {});
  return driver;
}

async function sameOnBothPaths(driver: Driver, key: string, now = NOW + 5): Promise<void> {
  const fast = driver.getSync!(SPACE, key, now);
  const [row] = await driver.getMany(SPACE, [key], now);
  expect(fast).toEqual(row ?? null);
  expect(await driver.get(SPACE, key, now)).toEqual(fast);
  expect(driver.getValueSync!(SPACE, key, now)).toEqual(fast === null ? null : fast.value);
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(StrataError);
    return (error as StrataError).code;
  }
  return undefined;
}

describe('sqlite packed point reads', () => {
  it('awkward keys and values read back exactly, the same as the row path', async () => {
    const driver = await fresh();
    try {
      const values = [{ s: 'a b  c', nul: '\u0000 x' }, 'plain', 0, [1, ' ', null], { deep: { k: '漢字 🎉' } }];
      await driver.batch(
        KEYS.map((key, i) => put(key, values[i % values.length], i % 3 === 0 ? NOW + 10_000 : null)),
        NOW,
      );
      await driver.batch([put('with space', { again: true })], NOW + 1);
      for (const key of KEYS) await sameOnBothPaths(driver, key);
      expect(driver.getSync!(SPACE, 'with space', NOW + 5)).toMatchObject({ version: 2, createdAt: NOW, updatedAt: NOW + 1 });
      expect(driver.getSync!(SPACE, 'missing', NOW + 5)).toBeNull();
      // Expired records read as missing on both paths.
      for (const key of KEYS) await sameOnBothPaths(driver, key, NOW + 20_000);
      expect(driver.getSync!(SPACE, KEYS[0]!, NOW + 20_000)).toBeNull();
    } finally {
      await driver.close();
    }
  });

  it('fractional (REAL) and negative timestamps still check and parse', async () => {
    const driver = await fresh();
    try {
      await driver.batch([put('r', { n: 1 }, NOW + 10_000.5), put('neg', { n: 2 })], -5_000);
      await driver.batch([put('r', { n: 1 }, NOW + 10_000.5)], NOW + 0.25);
      const raw = sqliteConnection(driver);
      expect(
        raw
          .prepare(`SELECT typeof(updated_at) FROM ${tableName(SPACE)} WHERE key = 'r'`)
          .pluck()
          .get(),
      ).toBe('real');
      expect(driver.getSync!(SPACE, 'r', NOW + 5)).toMatchObject({
        version: 2,
        createdAt: -5_000,
        updatedAt: NOW + 0.25,
        expiresAt: NOW + 10_000.5,
      });
      expect(driver.getSync!(SPACE, 'neg', NOW + 5)).toMatchObject({ version: 1, createdAt: -5_000, updatedAt: -5_000 });
      for (const key of ['r', 'neg']) await sameOnBothPaths(driver, key);
      // Damage to a REAL field is still found.
      raw.prepare(`UPDATE ${tableName(SPACE)} SET updated_at = updated_at + 0.5 WHERE key = 'r'`).run();
      expect(codeOf(() => driver.getSync!(SPACE, 'r', NOW + 5))).toBe('CORRUPT');
    } finally {
      await driver.close();
    }
  });

  it('a damaged vsum, crc type or key-adjacent byte is CORRUPT on getSync, never a missing record', async () => {
    const driver = await fresh();
    try {
      await driver.batch([put('k 1', { v: 1 }), put('k2', { v: 2 })], NOW);
      const raw = sqliteConnection(driver);
      raw.pragma('ignore_check_constraints = ON');
      const table = tableName(SPACE);
      const cases = [
        `UPDATE ${table} SET vsum = vsum + 1 WHERE key = 'k 1'`,
        `UPDATE ${table} SET crc = '' WHERE key = 'k 1'`,
        `UPDATE ${table} SET crc = 'x' || crc WHERE key = 'k 1'`,
        `UPDATE ${table} SET updated_at = updated_at || ' 1' WHERE key = 'k 1'`,
        `UPDATE ${table} SET created_at = created_at + 256 WHERE key = 'k 1'`,
        `UPDATE ${table} SET value = CAST(value AS BLOB) || X'00' WHERE key = 'k 1'`,
      ];
      for (const sql of cases) {
        const before = raw.prepare(`SELECT * FROM ${table} WHERE key = 'k 1'`).get();
        raw.prepare(sql).run();
        expect(
          codeOf(() => driver.getSync!(SPACE, 'k 1', NOW + 5)),
          sql,
        ).toBe('CORRUPT');
        expect(
          codeOf(() => driver.getValueSync!(SPACE, 'k 1', NOW + 5)),
          sql,
        ).toBe('CORRUPT');
        expect(driver.getSync!(SPACE, 'k2', NOW + 5)?.version).toBe(1);
        const cols = Object.keys(before as object);
        raw
          .prepare(`UPDATE ${table} SET ${cols.map((c) => `${c} = @${c}`).join(', ')} WHERE key = 'k 1'`)
          .run(before as Record<string, unknown>);
        expect(driver.getSync!(SPACE, 'k 1', NOW + 5)?.version).toBe(1);
      }
    } finally {
      await driver.close();
    }
  });
});
