// verify() checks each page of 10,000 rows in SQL and reads a page again only when it holds
// damage: damage in any page, on either side of a page boundary, in keys that sort before
// every key Strata writes, and in JSON that carries a valid checksum is reported by key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteConnection, sqliteDriver } from '../../src/drivers/sqlite.js';
import type { Driver } from '../../src/drivers/driver.js';
import { recordCrc, vsumSql } from '../../src/drivers/sqlite-checksum.js';
import { tableName } from '../../src/drivers/sqlite-spaces.js';
import { put } from '../write-ops.js';
import { openStore } from '../../src/index.js';

const NOW = 1_700_000_000_000;
const SPACE = 'kv.items';
const ROWS = 25_000;
let root: string;
let counter = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'strata-verify-pages-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const keyOf = (i: number): string => `item:${String(i).padStart(6, '0')}`;

async function filled(): Promise<Driver> {
  const driver = sqliteDriver({ path: join(root, `case-${++counter}.db`), durability: 'normal' });
  for (let i = 0; i < ROWS; i += 5_000) {
    await driver.batch(
      Array.from({ length: 5_000 }, (_, j) => put(SPACE, keyOf(i + j), { n: i + j })),
      NOW,
    );
  }
  return driver;
}

const table = tableName(SPACE);
const damagedKeys = (report: Awaited<ReturnType<Driver['verify']>>): string[] =>
  report.issues.filter((i) => i.key !== undefined).map((i) => i.key!);

describe('sqlite verify, page by page', () => {
  it('a sound store: every row counted, nothing reported', async () => {
    const driver = await filled();
    const report = await driver.verify();
    expect(report).toMatchObject({ ok: true, issues: [] });
    expect(report.checked).toBeGreaterThanOrEqual(ROWS);
    await driver.close();
  });

  it('damage in the first, a middle and the last page, and on both sides of a page boundary, is reported by key', async () => {
    const driver = await filled();
    const db = sqliteConnection(driver);
    // Row 9,999 is the last of the first page, 10,000 the first of the second.
    const hit = [0, 9_999, 10_000, 17_321, ROWS - 1];
    const change = db.prepare(`UPDATE ${table} SET value = ? WHERE key = ?`);
    for (const i of hit) change.run(JSON.stringify({ n: -i - 1 }), keyOf(i));
    const report = await driver.verify();
    expect(report.ok).toBe(false);
    expect(damagedKeys(report).sort()).toEqual(hit.map(keyOf).sort());
    for (const issue of report.issues)
      expect(issue).toMatchObject({ code: 'CORRUPT', space: SPACE, message: 'the stored record fails its checksum' });
    await driver.close();
  });

  it('a value that is not JSON under a checksum made for it is reported as such', async () => {
    const driver = await filled();
    const db = sqliteConnection(driver);
    const key = keyOf(12_345);
    const text = '{"n": 1,';
    const crc = recordCrc(key, text, NOW, null);
    db.prepare(`UPDATE ${table} SET value = ?, crc = ? WHERE key = ?`).run(text, crc, key);
    db.prepare(`UPDATE ${table} SET vsum = ${vsumSql('version', 'created_at', 'crc')} WHERE key = ?`).run(key);
    const report = await driver.verify();
    expect(report.issues).toEqual([{ code: 'CORRUPT', space: SPACE, key, message: 'the stored value is not valid JSON' }]);
    await driver.close();
  });

  it('keys no Strata write makes (empty, a number) and a damaged version are found', async () => {
    const driver = await filled();
    const db = sqliteConnection(driver);
    db.prepare(`UPDATE ${table} SET key = '' WHERE key = ?`).run(keyOf(3));
    db.prepare(`UPDATE ${table} SET key = 42 WHERE key = ?`).run(keyOf(4));
    db.prepare(`UPDATE ${table} SET version = version + 1 WHERE key = ?`).run(keyOf(20_000));
    const report = await driver.verify();
    expect(damagedKeys(report).sort()).toEqual(['', '42', keyOf(20_000)].sort());
    expect(report.checked).toBeGreaterThanOrEqual(ROWS);
    await driver.close();
  });

  it('more than 1,000 damaged records: 1,000 listed and a line saying how many more', async () => {
    const driver = await filled();
    const db = sqliteConnection(driver);
    db.prepare(`UPDATE ${table} SET crc = crc + 1 WHERE key < ?`).run(keyOf(1_500));
    const report = await driver.verify();
    expect(damagedKeys(report)).toHaveLength(1_000);
    expect(report.issues.at(-1)).toMatchObject({ code: 'CORRUPT', message: `500 more damaged records in ${table}` });
    await driver.close();
  });

  it('store.verify() while an iteration of the same store is half-way through', async () => {
    const store = await openStore({ url: `sqlite:${join(root, `case-${++counter}.db`)}`, durability: 'normal' });
    const kv = store.kv('items');
    await kv.setMany(Array.from({ length: 3_000 }, (_, i) => [keyOf(i), { n: i }] as [string, unknown]));
    let seen = 0;
    for await (const entry of kv.entries()) {
      expect(entry[1]).toEqual({ n: seen });
      if (++seen === 1_500) expect(await store.verify()).toMatchObject({ ok: true, issues: [] });
    }
    expect(seen).toBe(3_000);
    await store.close();
  });
});
