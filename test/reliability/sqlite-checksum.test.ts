// Every sqlite record and registry row carries a CRC-32: a damaged record is CORRUPT (naming
// space and key) on every read path and in verify(), never read back as other data; a damaged
// registry row cannot hide a space; verify() walks every table the file holds; a schema-2
// file is upgraded in place.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sqliteConnection, sqliteDriver } from '../../src/drivers/sqlite.js';
import type { Driver, ScanQuery } from '../../src/drivers/driver.js';
import { tableName } from '../../src/drivers/sqlite-spaces.js';
import { StrataError } from '../../src/errors.js';
import { parseFilter, parseSort } from '../../src/query/parse.js';
import { openStore } from '../../src/index.js';
import { put } from '../write-ops.js';

let root: string;
let counter = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'strata-sqlite-crc-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
const freshPath = (): string => join(root, `case-${++counter}`, 'store.db');

const NOW = 1_700_000_000_000;

async function expectCorrupt(run: () => unknown, where: { space?: string; key?: string }): Promise<void> {
  let error: unknown;
  try {
    await run();
  } catch (e) {
    error = e;
  }
  expect(error, 'a read of a damaged record must fail').toBeInstanceOf(StrataError);
  expect((error as StrataError).code, (error as Error).message).toBe('CORRUPT');
  expect((error as StrataError).details).toMatchObject(where);
}

async function seeded(): Promise<{ driver: Driver; raw: Database.Database }> {
  const driver = sqliteDriver({ path: freshPath() });
  await driver.ensureSpace('c.docs', { indexes: ['tag'] });
  await driver.batch(
    [1, 2, 3, 4, 5].map((i) => put('c.docs', `d${i}`, { id: `d${i}`, tag: i % 2 ? 'a' : 'b', n: i, o: { x: i } })),
    NOW,
  );
  await driver.batch([put('c.docs', 'd3', { id: 'd3', tag: 'a', n: 3, o: { x: 3 } })], NOW + 1);
  return { driver, raw: sqliteConnection(driver) };
}

const q = (query: Record<string, unknown>): ScanQuery => {
  const out: ScanQuery = {};
  if (query.filter) out.filter = parseFilter(query.filter as Record<string, unknown>);
  if (query.sort) out.sort = parseSort(query.sort as Record<string, 1 | -1>);
  for (const k of ['limit', 'offset', 'keysOnly', 'valuesOnly', 'prefix', 'after'] as const) {
    if (k in query) (out as Record<string, unknown>)[k] = query[k];
  }
  return out;
};

/** Every read path over `c.docs`, each expected to hit record d3. */
function readPaths(driver: Driver): Array<[string, () => unknown]> {
  const scan = (query: Record<string, unknown>) => () => driver.scan('c.docs', q(query), NOW + 5);
  return [
    ['get', () => driver.get('c.docs', 'd3', NOW + 5)],
    ['getSync', () => driver.getSync!('c.docs', 'd3', NOW + 5)],
    ['getMany', () => driver.getMany('c.docs', ['d1', 'd3'], NOW + 5)],
    ['scan', scan({})],
    ['scan valuesOnly', scan({ valuesOnly: true })],
    ['scan keysOnly', scan({ keysOnly: true })],
    ['scan prefix', scan({ prefix: 'd' })],
    ['scan filter (index)', scan({ filter: { tag: 'a' } })],
    ['scan filter on an object', scan({ filter: { o: { x: 3 } } })],
    ['scan sorted', scan({ sort: { n: -1 } })],
    ['scan after', scan({ sort: { n: 1 }, after: { key: 'd1', values: [1] } })],
    ['scan limit/offset', scan({ offset: 1, limit: 3 })],
    ['count filter on an object', () => driver.count('c.docs', { filter: parseFilter({ o: { x: 3 } }) }, NOW + 5)],
    ['batch delete, conditional', () => driver.batch([{ type: 'delete', space: 'c.docs', key: 'd3', expect: 2 }], NOW + 5)],
    ['batch check', () => driver.batch([{ type: 'check', space: 'c.docs', key: 'd3', expect: 2 }], NOW + 5)],
    ['batch put over it', () => driver.batch([put('c.docs', 'd3', { id: 'd3', tag: 'b' })], NOW + 5)],
    ['batch put over it, no results', () => driver.batch([put('c.docs', 'd3', { id: 'd3' })], NOW + 5, { results: false })],
  ];
}

describe('sqlite record checksums', () => {
  const damages: Array<[string, string]> = [
    ['the value', `UPDATE ${tableName('c.docs')} SET value = replace(value, '"n":3', '"n":8') WHERE key = 'd3'`],
    ['the version', `UPDATE ${tableName('c.docs')} SET version = 7 WHERE key = 'd3'`],
    ['createdAt', `UPDATE ${tableName('c.docs')} SET created_at = created_at + 1 WHERE key = 'd3'`],
    ['updatedAt', `UPDATE ${tableName('c.docs')} SET updated_at = updated_at - 1000 WHERE key = 'd3'`],
    ['expiresAt', `UPDATE ${tableName('c.docs')} SET expires_at = ${NOW + 10 ** 9} WHERE key = 'd3'`],
    ['a NULL column', `UPDATE ${tableName('c.docs')} SET version = NULL WHERE key = 'd3'`],
    ['the checksum', `UPDATE ${tableName('c.docs')} SET crc = crc + 1 WHERE key = 'd3'`],
  ];
  for (const [what, sql] of damages) {
    it(`finds damage to ${what} on every read path and in verify()`, async () => {
      const { driver, raw } = await seeded();
      try {
        raw.pragma('ignore_check_constraints = ON');
        raw.prepare(sql.replace('version = NULL', "version = 'x'")).run();
        for (const [name, run] of readPaths(driver)) {
          // An overwrite reads only the version and createdAt of the old row (both checked);
          // damage to what it replaces (value, updatedAt, expiresAt) is overwritten, not read.
          if (name.startsWith('batch put') && ['the value', 'updatedAt', 'expiresAt'].includes(what)) continue;
          await expectCorrupt(run, { space: 'c.docs', key: 'd3' }).catch((e: Error) => {
            throw new Error(`${name}: ${e.message}`);
          });
        }
        const report = await driver.verify();
        expect(report.ok).toBe(false);
        expect(report.issues).toContainEqual(expect.objectContaining({ code: 'CORRUPT', space: 'c.docs', key: 'd3' }));
        // Untouched records still read.
        expect((await driver.get('c.docs', 'd1', NOW + 5))?.version).toBe(1);
      } finally {
        await driver.close();
      }
    });
  }

  it('a value SQLite cannot parse in a filtered, sorted or counted scan is CORRUPT, not UNAVAILABLE', async () => {
    const { driver, raw } = await seeded();
    try {
      // Damage that keeps the checksum right (as if written so): only SQLite's JSON functions
      // see it. (A field index would refuse the write, so it goes first.)
      for (const index of raw.prepare("SELECT name FROM sqlite_schema WHERE name GLOB 'strata_ix_*'").pluck().all()) {
        raw.exec(`DROP INDEX ${String(index)}`);
      }
      raw
        .prepare(
          `UPDATE ${tableName('c.docs')} SET value = '{"tag": "a"', crc = strata_crc(key, '{"tag": "a"', updated_at, expires_at) WHERE key = 'd3'`,
        )
        .run();
      raw
        .prepare(
          `UPDATE ${tableName('c.docs')} SET vsum = (version * 1000003 + created_at * 31 + crc) % 4294967291 WHERE key = 'd3'`,
        )
        .run();
      for (const query of [{ filter: { n: { $gt: 0 } } }, { sort: { n: 1 } }]) {
        await expectCorrupt(() => driver.scan('c.docs', q(query), NOW + 5), {});
      }
      await expectCorrupt(() => driver.count('c.docs', { filter: parseFilter({ n: { $gt: 0 } }) }, NOW + 5), {});
      expect((await driver.verify()).issues).toContainEqual(expect.objectContaining({ space: 'c.docs', key: 'd3' }));
    } finally {
      await driver.close();
    }
  });

  it('a damaged registry row is CORRUPT for names(), stats() and verify(); an unlisted table is found', async () => {
    const path = freshPath();
    const store = await openStore({ driver: sqliteDriver({ path }), sweepInterval: false });
    const docs = store.collection('docs', { indexes: ['tag'] });
    for (let i = 0; i < 40; i++) await docs.insert({ id: `d${i}`, tag: 'x' });
    await store.close();
    const raw = new Database(path);
    raw.prepare("UPDATE strata_spaces SET space = 'c.dOcs' WHERE space = 'c.docs'").run();
    raw.close();
    const again = await openStore({ driver: sqliteDriver({ path }), sweepInterval: false });
    try {
      await expectCorrupt(() => again.names(), {});
      await expectCorrupt(() => again.stats(), {});
      const report = await again.verify();
      expect(report.ok).toBe(false);
      // 40 documents and the store's remembered declaration of "docs" (meta.collections).
      expect(report.checked).toBe(41);
    } finally {
      await again.close();
    }
    const raw2 = new Database(path);
    raw2.prepare('DELETE FROM strata_spaces').run();
    raw2.close();
    const third = sqliteDriver({ path });
    try {
      const report = await third.verify();
      expect(report.ok).toBe(false);
      expect(report.checked).toBe(41);
      expect(report.issues.map((i) => i.message).join('\n')).toContain(tableName('c.docs'));
    } finally {
      await third.close();
    }
  });

  it('stats() counts live records, and expired ones not yet swept as `expired`', async () => {
    const driver = sqliteDriver({ path: freshPath() });
    try {
      const now = Date.now();
      await driver.batch(
        [put('kv.a', 'live', 1), put('kv.a', 'soon', 2, now + 60_000), put('kv.a', 'gone', 3, now - 1)],
        now - 10,
      );
      const stats = await driver.stats();
      expect(stats.spaces).toContainEqual(expect.objectContaining({ space: 'kv.a', records: 2, expired: 1 }));
    } finally {
      await driver.close();
    }
  });
});

describe('sqlite schema 2 -> 3', () => {
  it('upgrades a schema-2 store in place: records and spaces keep their data and get checksums', async () => {
    const path = freshPath();
    const setup = sqliteDriver({ path });
    await setup.close();
    // A schema-2 file as stratadb 0.1 wrote it (no crc columns).
    rmSync(path);
    const raw = new Database(path);
    raw.pragma('journal_mode = WAL');
    const t = tableName('kv.demo');
    raw.exec(`
      CREATE TABLE strata_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE strata_spaces (space TEXT PRIMARY KEY, tbl TEXT NOT NULL, spec TEXT) WITHOUT ROWID;
      CREATE TABLE strata_watchers (id TEXT PRIMARY KEY, seen INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE strata_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, writer TEXT NOT NULL, at INTEGER NOT NULL, changes TEXT NOT NULL);
      INSERT INTO strata_meta VALUES ('schema', '2');
      CREATE TABLE ${t} (key TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL, created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL, expires_at INTEGER) WITHOUT ROWID;
      INSERT INTO strata_spaces VALUES ('kv.demo', '${t}', '{"indexes":[]}');
      INSERT INTO ${t} VALUES ('a', '{"x":1}', 3, 100, 200, NULL), ('b', '"two"', 1, 150, 150, 99999999999999);
    `);
    raw.close();
    const driver = sqliteDriver({ path });
    try {
      expect(await driver.get('kv.demo', 'a', 1000)).toEqual({
        key: 'a',
        value: '{"x":1}',
        version: 3,
        createdAt: 100,
        updatedAt: 200,
        expiresAt: null,
        stamp: expect.any(Number),
      });
      expect((await driver.scan('kv.demo', {}, 1000)).map((r) => r.key)).toEqual(['a', 'b']);
      expect(await driver.verify()).toMatchObject({ ok: true, checked: 2 });
      expect(await driver.spaces()).toEqual(['kv.demo']);
      expect(sqliteConnection(driver).prepare("SELECT value FROM strata_meta WHERE name = 'schema'").pluck().get()).toBe('3');
      await driver.batch([put('kv.demo', 'a', 5)], 2000);
      expect((await driver.get('kv.demo', 'a', 3000))?.version).toBe(4);
    } finally {
      await driver.close();
    }
  });
});

describe('repairing a damaged record', () => {
  it('an unconditional delete removes a damaged record; a conditional one and reads stay CORRUPT', async () => {
    const path = freshPath();
    const store = await openStore({ driver: sqliteDriver({ path }), sweepInterval: false });
    const kv = store.kv('app');
    await kv.set('a', { n: 1 });
    await kv.set('b', { n: 2 });
    const raw = new Database(path);
    raw.prepare(`UPDATE ${tableName('kv.app')} SET value = '{"n":9}' WHERE key = 'a'`).run();
    raw.close();
    await expectCorrupt(() => kv.get('a'), {});
    await expectCorrupt(() => kv.delete('a', { ifVersion: 1 }), {});
    expect(await kv.delete('a')).toBe(true);
    expect(await kv.get('a')).toBeNull();
    expect(await kv.get('b')).toEqual({ n: 2 });
    expect((await store.verify()).ok).toBe(true);
    await store.close();
  });
});
