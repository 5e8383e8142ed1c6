import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { explainScan, sqliteDriver } from '../../src/drivers/sqlite.js';
import { memoryDriver } from '../../src/drivers/memory.js';
import { fileDriver } from '../../src/drivers/file/index.js';
import type { Driver, ScanQuery, WriteOp } from '../../src/drivers/driver.js';
import { StrataError } from '../../src/errors.js';
import { parseFilter } from '../../src/query/parse.js';
import { matches, sortValues } from '../../src/query/match.js';
import { compileFilter } from '../../src/query/sql.js';
import { parseJson } from '../../src/codec/json.js';
import Database from 'better-sqlite3';
import { rng } from '../rng.js';

const root = mkdtempSync(join(tmpdir(), 'strata-arrays-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SCALARS: unknown[] = ['a', 'b', 'ab', '', '[x', '{', 'é', '😀', 0, 1, 2, -1, 1.5, 10, 2 ** 60, true, false, null];
const ARRAYS: unknown[] = [[], ['a'], ['a', 'b'], ['b', 'a'], [1, 2], [0, 1], [null], [true], [['a']], [[1, 2], 3], [{ x: 1 }]];
const OBJECTS: unknown[] = [{}, { x: 1 }, { x: 1, y: 2 }, { y: 2, x: 1 }];
const VALUES = [...SCALARS, ...ARRAYS, ...OBJECTS];
const PATHS = ['tags', 's', 'n', 'items', 'items.sku', 'items.qty', 'items.parts.id', 'meta.labels', 'meta', 'a.b.c.d.e', 'x'];

type R = () => number;
const pick = <T>(r: R, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;

function someArray(r: R): unknown[] {
  return Array.from({ length: Math.floor(r() * 4) }, () => (r() < 0.8 ? pick(r, SCALARS) : pick(r, [...ARRAYS, ...OBJECTS])));
}

function makeDoc(r: R, i: number): unknown {
  // A value that is not an object: a top-level array is not entered (only nested ones are).
  if (i % 23 === 0) return r() < 0.3 ? pick(r, [...SCALARS, ...ARRAYS]) : [{ s: pick(r, SCALARS), tags: someArray(r) }];
  const doc: Record<string, unknown> = {};
  const maybe = (field: string, value: () => unknown): void => {
    if (r() < 0.75) doc[field] = value();
  };
  maybe('tags', () => (r() < 0.7 ? someArray(r) : pick(r, VALUES)));
  maybe('s', () => pick(r, SCALARS));
  maybe('n', () => (r() < 0.3 ? someArray(r) : pick(r, SCALARS)));
  maybe('items', () => {
    if (r() < 0.15) return r() < 0.5 ? { sku: pick(r, SCALARS) } : pick(r, VALUES);
    return Array.from({ length: Math.floor(r() * 4) }, () => {
      if (r() < 0.15) return pick(r, VALUES);
      const item: Record<string, unknown> = {};
      if (r() < 0.8) item.sku = r() < 0.3 ? someArray(r) : pick(r, SCALARS);
      if (r() < 0.6) item.qty = pick(r, [0, 1, 2, 5, 'x', null]);
      if (r() < 0.4) item.parts = r() < 0.7 ? [{ id: pick(r, SCALARS) }, { id: someArray(r) }] : { id: pick(r, SCALARS) };
      return item;
    });
  });
  maybe('meta', () => (r() < 0.8 ? { labels: r() < 0.6 ? someArray(r) : pick(r, VALUES) } : pick(r, VALUES)));
  maybe('a', () => ({ b: [{ c: { d: [{ e: pick(r, SCALARS) }, { e: someArray(r) }] } }] }));
  return doc;
}

function makeFilter(r: R, depth = 0): Record<string, unknown> {
  if (depth < 2 && r() < 0.12) {
    const n = 1 + Math.floor(r() * 3);
    return { [r() < 0.5 ? '$and' : '$or']: Array.from({ length: n }, () => makeFilter(r, depth + 1)) };
  }
  const path = pick(r, PATHS);
  const op = pick(r, ['eq', '$eq', '$ne', '$in', '$nin', '$all', '$size', '$exists', '$gt', '$gte', '$lt', '$lte', '$prefix']);
  const list = (): unknown[] => Array.from({ length: Math.floor(r() * 4) }, () => pick(r, VALUES));
  switch (op) {
    case 'eq': {
      // A plain object here would be read as a nested filter only if it had $ keys; it has none.
      return { [path]: pick(r, VALUES) };
    }
    case '$eq':
    case '$ne':
      return { [path]: { [op]: pick(r, VALUES) } };
    case '$in':
    case '$nin':
    case '$all':
      return { [path]: { [op]: list() } };
    case '$size':
      return { [path]: { $size: pick(r, [0, 1, 2, 3]) } };
    case '$exists':
      return { [path]: { $exists: r() < 0.5 } };
    case '$prefix':
      return { [path]: { $prefix: pick(r, ['', 'a', '[', 'é', '😀', 'x']) } };
    default:
      return { [path]: { [op]: r() < 0.5 ? pick(r, [0, 1, 1.5, 2, -1, 10]) : pick(r, ['', 'a', 'ab', 'b', '[', 'é']) } };
  }
}

async function load(drivers: Driver[], ops: WriteOp[]): Promise<void> {
  for (const driver of drivers) {
    await driver.ensureSpace('docs', { indexes: ['tags', 's', 'items.sku', 'meta.labels'] });
    await driver.batch(ops, 100);
  }
}

describe('array filters', () => {
  it('follow MongoDB semantics on hand-picked documents', () => {
    const doc = {
      tags: ['work', 'home', 3, null, ['x', 'y']],
      items: [{ sku: 'a1', qty: 2 }, { sku: ['b1', 'b2'], qty: 5 }, 'loose', [{ sku: 'nested' }]],
      meta: { labels: ['red'] },
      s: 'plain',
    };
    const yes = (filter: Record<string, unknown>): boolean => matches(parseFilter(filter), doc);
    const cases: Array<[Record<string, unknown>, boolean]> = [
      [{ tags: 'work' }, true],
      [{ tags: 'nope' }, false],
      [{ tags: { $in: ['nope', 'home'] } }, true],
      [{ tags: { $nin: ['work'] } }, false],
      [{ tags: { $nin: ['nope'] } }, true],
      [{ tags: { $ne: 'work' } }, false],
      [{ tags: { $ne: 'nope' } }, true],
      [{ tags: ['work', 'home', 3, null, ['x', 'y']] }, true],
      [{ tags: ['home', 'work', 3, null, ['x', 'y']] }, false], // order matters for whole-array equality
      [{ tags: { $eq: ['x', 'y'] } }, true], // an element that is that array
      [{ tags: { $eq: ['y', 'x'] } }, false],
      [{ tags: null }, true], // an element is null
      [{ s: null }, false],
      [{ missing: null }, true],
      [{ tags: { $all: ['home', 'work'] } }, true],
      [{ tags: { $all: ['home', 'nope'] } }, false],
      [{ tags: { $all: [] } }, false],
      [{ s: { $all: ['plain'] } }, true], // as MongoDB: a scalar field holds its one value
      [{ tags: { $size: 5 } }, true],
      [{ tags: { $size: 4 } }, false],
      [{ s: { $size: 1 } }, false],
      [{ tags: { $gt: 2 } }, true], // some element satisfies
      [{ tags: { $gt: 3 } }, false],
      [{ tags: { $gt: 2, $lt: 'x' } }, true], // each condition by any element (no $elemMatch)
      [{ tags: { $prefix: 'wo' } }, true],
      [{ tags: { $exists: true } }, true],
      [{ 'items.sku': 'a1' }, true],
      [{ 'items.sku': 'b2' }, true], // element of an array reached through an array
      [{ 'items.sku': 'nested' }, false], // arrays nested in arrays are not entered
      [{ 'items.sku': { $size: 2 } }, true],
      [{ 'items.qty': { $gte: 5 } }, true],
      [{ 'items.qty': { $gt: 5 } }, false],
      [{ 'items.qty': { $exists: true } }, true],
      [{ 'items.price': { $exists: true } }, false],
      [{ 'items.price': null }, true],
      [{ 'items.sku': null }, false],
      [{ 'meta.labels': 'red' }, true],
      [{ 'tags.0': 'work' }, false], // a numeric segment names an object key, not a position
    ];
    for (const [filter, expected] of cases) expect(yes(filter), JSON.stringify(filter)).toBe(expected);
  });

  it('refuses malformed $all and $size, and unknown operators, with BAD_INPUT', () => {
    const bad = [
      { tags: { $size: -1 } },
      { tags: { $size: 1.5 } },
      { tags: { $size: '2' } },
      { tags: { $size: Number.NaN } },
      { tags: { $all: 'work' } },
      { tags: { $all: [{ $gt: 1 }] } },
      { tags: { $elemMatch: { $gt: 1 } } },
      { tags: { $contains: 'work' } },
      { tags: { $in: ['a'], $nope: 1 } },
    ];
    for (const filter of bad) {
      let code: string | undefined;
      try {
        parseFilter(filter);
      } catch (error) {
        code = StrataError.is(error) ? error.code : String(error);
      }
      expect(code, JSON.stringify(filter)).toBe('BAD_INPUT');
    }
  });

  it('give identical answers on memory, sqlite and file drivers for random documents and filters', async () => {
    const r = rng(7_2026);
    const memory = memoryDriver();
    const sqlite = sqliteDriver({ path: join(root, 'random.db'), durability: 'normal' });
    const file = fileDriver({ dir: join(root, 'random-file'), durability: 'normal' });
    try {
      const ops: WriteOp[] = Array.from({ length: 300 }, (_, i) => ({
        type: 'put',
        space: 'docs',
        key: `k${String(i).padStart(3, '0')}`,
        value: JSON.stringify(makeDoc(r, i)),
        expiresAt: i % 31 === 0 ? 500 : null,
      }));
      await load([memory, sqlite, file], ops);
      const now = 1_000;
      let matched = 0;
      let exactFilters = 0;
      for (let q = 0; q < 500; q++) {
        const raw = makeFilter(r);
        const filter = parseFilter(raw);
        const sortPath = r() < 0.4 ? pick(r, ['s', 'n', 'tags', 'items.qty']) : undefined;
        const sort = sortPath === undefined ? [] : [{ path: sortPath.split('.'), dir: (r() < 0.5 ? 1 : -1) as 1 | -1 }];
        const query: ScanQuery = { filter, sort };
        const context = JSON.stringify({ q, raw, sort });
        const want = (await memory.scan('docs', query, now)).map((x) => x.key);
        expect(
          (await sqlite.scan('docs', query, now)).map((x) => x.key),
          context,
        ).toEqual(want);
        expect(
          (await file.scan('docs', query, now)).map((x) => x.key),
          context,
        ).toEqual(want);
        expect(await sqlite.count('docs', { filter }, now), context).toBe(want.length);
        expect(await file.count('docs', { filter }, now), context).toBe(want.length);
        if (compileFilter(filter).exact) exactFilters++;
        matched += want.length;
        if (q % 5 === 0) {
          const limit = 1 + Math.floor(r() * 7);
          const offset = Math.floor(r() * 3);
          const window = await sqlite.scan('docs', { ...query, limit, offset }, now);
          expect(
            window.map((x) => x.key),
            context,
          ).toEqual(want.slice(offset, offset + limit));
          // Keyset pages concatenate to the whole answer on every driver.
          for (const driver of [sqlite, file]) {
            const seen: string[] = [];
            let after: ScanQuery['after'];
            for (;;) {
              const page = await driver.scan('docs', { ...query, after, limit }, now);
              seen.push(...page.map((x) => x.key));
              if (page.length < limit) break;
              const last = page[page.length - 1]!;
              after = { key: last.key, values: sortValues(parseJson(last.value), sort) };
            }
            expect(seen, context).toEqual(want);
          }
        }
      }
      // The sample must exercise both matches and exact push-down, not only empty answers.
      expect(matched).toBeGreaterThan(5_000);
      expect(exactFilters).toBeGreaterThan(300);
    } finally {
      await memory.close();
      await sqlite.close();
      await file.close();
    }
  });

  it('serves scalar and element filters on an indexed field from its index', async () => {
    const sqlite = sqliteDriver({ path: join(root, 'plans.db') });
    try {
      await sqlite.ensureSpace('docs', { indexes: ['status', 'tags', 'meta.owner'] });
      const ops: WriteOp[] = Array.from({ length: 200 }, (_, i) => ({
        type: 'put',
        space: 'docs',
        key: `k${i}`,
        value: JSON.stringify({ status: i % 2 ? 'todo' : 'done', tags: [`t${i % 5}`], meta: { owner: `o${i % 3}` } }),
        expiresAt: null,
      }));
      await sqlite.batch(ops, 1);
      for (const raw of [
        { status: 'todo' },
        { status: { $in: ['todo', 'done'] } },
        { status: { $gt: 'm' } },
        { status: { $prefix: 'to' } },
        { tags: 't1' },
        { 'meta.owner': 'o1' },
      ]) {
        const plan = explainScan(sqlite, 'docs', { filter: parseFilter(raw) }, 2).join('\n');
        expect(plan, JSON.stringify(raw)).toMatch(/USING (COVERING )?INDEX strata_ix_/);
        // No full scan of the table: every branch is an index search.
        expect(plan, JSON.stringify(raw)).not.toMatch(/^SCAN strata_s_/m);
      }
      expect((await sqlite.scan('docs', { filter: parseFilter({ tags: 't1' }) }, 2)).length).toBe(40);
    } finally {
      await sqlite.close();
    }
  });

  it('compile paths known to hold no arrays to plain field tests with the same answers', () => {
    const r = rng(11);
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE t (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
      const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
      const docs = Array.from({ length: 200 }, (_, i) => {
        const doc: Record<string, unknown> = { tags: someArray(r) };
        if (r() < 0.8) doc.s = pick(r, SCALARS);
        if (r() < 0.8) doc.meta = r() < 0.8 ? { owner: pick(r, SCALARS) } : pick(r, SCALARS);
        insert.run(`k${String(i).padStart(3, '0')}`, JSON.stringify(doc));
        return [`k${String(i).padStart(3, '0')}`, doc] as const;
      });
      const arrayFree = (path: readonly string[]): boolean => ['s', 'meta', 'meta.owner'].includes(path.join('.'));
      expect(compileFilter(parseFilter({ s: 'a' }), undefined, { arrayFree }).sql).toBe(`json_extract(value, '$."s"') = ?`);
      expect(compileFilter(parseFilter({ s: 'a' })).sql).toContain('json_each');
      for (let q = 0; q < 300; q++) {
        const raw = makeFilter(r);
        const filter = parseFilter(raw);
        const compiled = compileFilter(filter, undefined, { arrayFree });
        const got = db
          .prepare(`SELECT key, value FROM t WHERE ${compiled.sql} ORDER BY key`)
          .raw(true)
          .all(...compiled.params) as Array<[string, string]>;
        const keys = got.filter(([, value]) => compiled.exact || matches(filter, parseJson(value))).map(([key]) => key);
        const want = docs.filter(([, doc]) => matches(filter, doc)).map(([key]) => key);
        expect(keys, JSON.stringify(raw)).toEqual(want);
      }
    } finally {
      db.close();
    }
  });
});
