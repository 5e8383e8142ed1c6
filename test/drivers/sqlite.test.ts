import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { explainScan, sqliteConnection, sqliteDriver } from '../../src/drivers/sqlite.js';
import { memoryDriver } from '../../src/drivers/memory.js';
import type { ChangeEvent, ScanQuery, StoredRecord, WriteOp } from '../../src/drivers/driver.js';
import { StrataError } from '../../src/errors.js';
import { parseFilter, parseSort } from '../../src/query/parse.js';
import { sortValues } from '../../src/query/match.js';
import { parseJson } from '../../src/codec/json.js';
import { prefixUpperBound } from '../../src/query/sql.js';
import { driverFromUrl } from '../../src/drivers/registry.js';
import { tableName } from '../../src/drivers/sqlite-spaces.js';
import { openStore } from '../../src/index.js';
import { rng } from '../rng.js';

const root = mkdtempSync(join(tmpdir(), 'strata-sqlite-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshPath = (): string => join(root, `case-${++counter}`, 'store.db');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return StrataError.is(error) ? error.code : `not a StrataError: ${String(error)}`;
  }
  return undefined;
}

const puts = (space: string, entries: Array<[string, unknown]>, expiresAt: number | null = null): WriteOp[] =>
  entries.map(([key, value]) => ({ type: 'put', space, key, value: JSON.stringify(value), expiresAt }));

const STRINGS = [
  '',
  'a',
  'ab',
  'abc',
  'abd',
  'b',
  'B',
  'é',
  'e\u0301',
  '😀',
  '😀x',
  'a😀',
  '\uffff',
  '\ue000',
  'zz',
  '10',
  '2',
  'true',
  'null',
  '{"x":1}',
  'line\nbreak',
  'q"uote',
  'x\u0000y',
];
const NUMBERS = [0, -0, 1, -1, 2, 3, 1.5, -2.5, 10, 0.1 + 0.2, 1e-7, 1e21, 2 ** 60, -(2 ** 60), 2 ** 53 + 2];
const OBJECTS = [{}, { x: 1 }, { x: 1, y: 2 }, { y: 2, x: 1 }, [], [1, 2], ['a'], [{ x: 1 }]];
const SCALARS: unknown[] = [...STRINGS, ...NUMBERS, true, false, null];
const ALL: unknown[] = [...SCALARS, ...OBJECTS];
const PATHS = ['n', 's', 'b', 'z', 'm', 'o', 'o.x', 'o.y', 'o.deep.v', 'missing', 'm.x'];

function makeDoc(r: () => number, i: number): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
  if (i % 37 === 0) return pick(SCALARS); // a kv-style value that is not an object
  const doc: Record<string, unknown> = {};
  const maybe = (field: string, value: () => unknown): void => {
    if (r() < 0.75) doc[field] = value();
  };
  maybe('n', () => pick(NUMBERS));
  maybe('s', () => pick(STRINGS));
  maybe('b', () => r() < 0.5);
  maybe('z', () => (r() < 0.5 ? null : pick(ALL)));
  maybe('m', () => (r() < 0.2 ? { x: pick(SCALARS) } : pick(ALL)));
  maybe('o', () => {
    const o: Record<string, unknown> = {};
    if (r() < 0.8) o.x = pick(ALL);
    if (r() < 0.6) o.y = pick(SCALARS);
    if (r() < 0.5) o.deep = r() < 0.8 ? { v: pick(SCALARS) } : pick(SCALARS);
    return r() < 0.9 ? o : pick(SCALARS);
  });
  return doc;
}

function makeFilter(r: () => number, depth = 0): Record<string, unknown> {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
  const path = pick(PATHS);
  const roll = r();
  if (depth < 2 && roll < 0.12) {
    const n = 1 + Math.floor(r() * 3);
    return { [r() < 0.5 ? '$and' : '$or']: Array.from({ length: n }, () => makeFilter(r, depth + 1)) };
  }
  const ops = ['eq', '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$prefix'];
  const op = pick(ops);
  const comparable = (): unknown => (r() < 0.5 ? pick(NUMBERS) : pick(STRINGS));
  switch (op) {
    case 'eq':
      return {
        [path]: pick(
          ALL.filter((v) => v === null || typeof v !== 'object' || Array.isArray(v) || Object.keys(v as object).length > 0),
        ),
      };
    case '$eq':
    case '$ne':
      return { [path]: { [op]: pick(ALL) } };
    case '$in':
    case '$nin':
      return { [path]: { [op]: Array.from({ length: Math.floor(r() * 4) }, () => pick(ALL)) } };
    case '$exists':
      return { [path]: { $exists: r() < 0.5 } };
    case '$prefix':
      return { [path]: { $prefix: pick(['', 'a', 'ab', '😀', 'e', '\uffff', 'x', '1']) } };
    default:
      return { [path]: { [op]: comparable() } };
  }
}

describe('sqlite driver', () => {
  it('serves a filtered scan on an indexed field from its index', async () => {
    const driver = sqliteDriver({ path: freshPath() });
    try {
      await driver.ensureSpace('tasks', { indexes: ['status', 'meta.priority'] });
      await driver.ensureSpace('tasks', { indexes: ['status'] });
      const now = 2;
      await driver.batch(
        puts(
          'tasks',
          Array.from({ length: 50 }, (_, i) => [`t${i}`, { status: i % 3 ? 'todo' : 'done', meta: { priority: i % 7 } }]),
        ),
        1,
      );
      const indexed: Array<Record<string, unknown>> = [
        { status: 'todo' },
        { 'meta.priority': 3 },
        { status: { $in: ['todo', 'done'] } },
        { status: { $prefix: 'to' } },
        { status: 'todo', other: { $exists: true } },
        ...['$gt', '$gte', '$lt', '$lte'].flatMap((op) => [{ 'meta.priority': { [op]: 3 } }, { status: { [op]: 'm' } }]),
      ];
      const plans = indexed.flatMap((filter) => [
        explainScan(driver, 'tasks', { filter: parseFilter(filter) }, now),
        explainScan(driver, 'tasks', { filter: parseFilter(filter), limit: 5 }, now),
      ]);
      for (const plan of plans) expect(plan.join('\n')).toMatch(/USING (COVERING )?INDEX strata_ix_[0-9a-f]{24}/);
      // A scan sorted on an indexed field walks the index instead of sorting.
      const sorted = explainScan(driver, 'tasks', { sort: parseSort({ status: 1 }), limit: 10 }, now).join('\n');
      expect(sorted).toMatch(/INDEX strata_ix_/);
      expect(sorted).not.toMatch(/TEMP B-TREE/);
      // A later page reads the index from its position, in index order, whichever side of
      // the position the NULLs (missing fields) sort on: one or two keyset segments, each
      // read through the index with no sort of the rest of the table. (The non-null rows
      // after an ascending NULL position are read once, by the page that leaves the NULLs.)
      const seek = (range: string): RegExp =>
        new RegExp(`^SEARCH \\S+ USING (COVERING )?INDEX strata_ix_[0-9a-f]{24} \\(${range}\\)`);
      const walk = /^SCAN \S+ USING (COVERING )?INDEX strata_ix_[0-9a-f]{24}/;
      const cases: Array<[1 | -1, string | null, RegExp[]]> = [
        [1, 'todo', [seek('<expr>>\\?')]],
        [1, null, [seek('<expr>=\\? AND key>\\?'), walk]],
        [-1, 'todo', [seek('<expr><\\?'), seek('<expr>=\\?')]],
        [-1, null, [seek('<expr>=\\? AND key>\\?')]],
      ];
      for (const [dir, value, segments] of cases) {
        const query: ScanQuery = { sort: [{ path: ['status'], dir }], after: { key: 't5', values: [value] }, limit: 10 };
        segments.forEach((shape, i) => {
          const plan = explainScan(driver, 'tasks', query, now, i).join('\n');
          const context = `dir ${dir}, position ${value}, segment ${i}: ${plan}`;
          expect(plan, context).toMatch(shape);
          expect(plan, context).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
        });
      }
      const result = await driver.scan('tasks', { filter: parseFilter({ 'meta.priority': { $gte: 5 } }) }, now);
      expect(result.map((r) => r.key).sort()).toEqual(
        Array.from({ length: 50 }, (_, i) => i)
          .filter((i) => i % 7 >= 5)
          .map((i) => `t${i}`)
          .sort(),
      );
      expect(await driver.spaces()).toEqual(['tasks']);
    } finally {
      await driver.close();
    }
  });

  it('returns exactly what the in-memory matcher returns for random documents and queries', async () => {
    const r = rng(20240611);
    const sqlite = sqliteDriver({ path: freshPath(), durability: 'normal' });
    const memory = memoryDriver();
    try {
      await sqlite.ensureSpace('docs', { indexes: ['n', 's', 'o.x'] });
      const ops: WriteOp[] = [];
      for (let i = 0; i < 400; i++) {
        const key = i % 50 === 0 ? `k😀${i}` : i % 41 === 0 ? `k\uffff${i}` : `k${String(i).padStart(3, '0')}`;
        const expiresAt = i % 23 === 0 ? 500 : i % 29 === 0 ? 5_000 : null;
        ops.push({ type: 'put', space: 'docs', key, value: JSON.stringify(makeDoc(r, i)), expiresAt });
      }
      await sqlite.batch(ops, 100);
      await memory.batch(ops, 100);
      const now = 1_000;
      const keys = [...new Set(ops.map((op) => op.key)), 'absent'];
      for (const at of [100, 1_000, 10_000]) {
        // Stamps differ by design (sqlite: the CRC; memory: a counter).
        const plain = (r: StoredRecord | null): StoredRecord | null => (r === null ? null : { ...r, stamp: undefined });
        for (const key of keys)
          expect(plain(await sqlite.get('docs', key, at)), key).toEqual(plain(await memory.get('docs', key, at)));
        expect((await sqlite.getMany('docs', keys, at)).map(plain)).toEqual((await memory.getMany('docs', keys, at)).map(plain));
      }
      let compared = 0;
      for (let q = 0; q < 400; q++) {
        const filter = parseFilter(makeFilter(r));
        const sortFields = [...PATHS].sort(() => r() - 0.5).slice(0, Math.floor(r() * 4));
        const sort = sortFields.map((f) => ({ path: f.split('.'), dir: (r() < 0.5 ? 1 : -1) as 1 | -1 }));
        const prefix = r() < 0.15 ? 'k1' : r() < 0.05 ? 'k😀' : undefined;
        const query: ScanQuery = { filter, sort, prefix };
        const context = JSON.stringify({ q, filter, sort, prefix });
        const want = (await memory.scan('docs', query, now)).map((x) => x.key);
        const got = (await sqlite.scan('docs', query, now)).map((x) => x.key);
        expect(got, context).toEqual(want);
        if (q % 3 === 0) {
          // valuesOnly selects two columns: same keys and values, nothing else promised.
          const lean = await sqlite.scan('docs', { ...query, valuesOnly: true, keysOnly: r() < 0.3 }, now);
          expect(
            lean.map((x) => x.key),
            context,
          ).toEqual(want);
          const full = await memory.scan('docs', query, now);
          if (lean.some((x) => x.value !== '')) {
            expect(
              lean.map((x) => [x.key, x.value]),
              context,
            ).toEqual(full.map((x) => [x.key, x.value]));
          }
        }
        expect(await sqlite.count('docs', { filter, prefix }, now), context).toBe(want.length);
        const offset = Math.floor(r() * 5);
        const limit = 1 + Math.floor(r() * 10);
        const window = (await sqlite.scan('docs', { ...query, offset, limit, keysOnly: r() < 0.5 }, now)).map((x) => x.key);
        expect(window, context).toEqual(want.slice(offset, offset + limit));
        if (q % 4 === 0) {
          // Keyset pagination: pages concatenate to the whole result, and both drivers agree page by page.
          const pageSize = 1 + Math.floor(r() * 25);
          const seen: string[] = [];
          let after: ScanQuery['after'];
          for (;;) {
            const page = await sqlite.scan('docs', { ...query, after, limit: pageSize }, now);
            const oracle = await memory.scan('docs', { ...query, after, limit: pageSize }, now);
            expect(
              page.map((x) => x.key),
              context,
            ).toEqual(oracle.map((x) => x.key));
            seen.push(...page.map((x) => x.key));
            if (page.length < pageSize) break;
            const last = page[page.length - 1]!;
            after = { key: last.key, values: sortValues(parseJson(last.value), sort) };
          }
          expect(seen, context).toEqual(want);
        }
        compared += want.length;
      }
      expect(compared).toBeGreaterThan(1000);
      // Long $in/$nin lists bind one JSON array instead of a placeholder per value.
      const many = [
        ...STRINGS,
        ...NUMBERS,
        ...Array.from({ length: 100 }, (_, i) => `v${i}`),
        ...Array.from({ length: 70 }, (_, i) => i),
      ];
      for (const path of ['n', 's', 'm', 'o.x']) {
        for (const op of ['$in', '$nin']) {
          const filter = parseFilter({ [path]: { [op]: many } });
          const want = (await memory.scan('docs', { filter }, now)).map((x) => x.key);
          expect(
            (await sqlite.scan('docs', { filter }, now)).map((x) => x.key),
            `${path} ${op}`,
          ).toEqual(want);
        }
      }
    } finally {
      await sqlite.close();
      await memory.close();
    }
  });

  it('computes prefix upper bounds in code-point order', () => {
    expect(prefixUpperBound('ab')).toBe('ac');
    expect(prefixUpperBound('a\u{10ffff}')).toBe('b');
    expect(prefixUpperBound('\u{10ffff}')).toBeNull();
    expect(prefixUpperBound('a\ud7ff')).toBe('a\ue000');
    expect(prefixUpperBound('😀')).toBe('😁');
  });

  it('creates the directory 0700 and the database files 0600', async () => {
    const path = freshPath();
    const driver = sqliteDriver({ path });
    try {
      await driver.batch(puts('app', [['token', 'secret']]), 1);
      expect(statSync(join(path, '..')).mode & 0o777).toBe(0o700);
      for (const file of [path, `${path}-wal`, `${path}-shm`]) {
        expect(existsSync(file), file).toBe(true);
        expect(statSync(file).mode & 0o777, file).toBe(0o600);
      }
    } finally {
      await driver.close();
    }
  });

  it('reports a garbled or truncated file as CORRUPT', async () => {
    const garbled = freshPath();
    const real = freshPath();
    sqliteDriver({ path: garbled }).close();
    writeFileSync(garbled, randomBytes(8192));
    expect(codeOf(() => sqliteDriver({ path: garbled }))).toBe('CORRUPT');

    const driver = sqliteDriver({ path: real });
    await driver.batch(
      puts(
        'big',
        Array.from({ length: 300 }, (_, i) => [`k${i}`, { text: 'x'.repeat(500), i }]),
      ),
      1,
    );
    await driver.close();
    const size = statSync(real).size;
    expect(size).toBeGreaterThan(100_000);
    truncateSync(real, Math.floor(size / 2));
    expect(codeOf(() => sqliteDriver({ path: real }))).toBe('CORRUPT');
    truncateSync(real, 60);
    expect(codeOf(() => sqliteDriver({ path: real }))).toBe('CORRUPT');

    // A damaged page inside an otherwise well-sized file surfaces as CORRUPT on use or verify.
    const damaged = freshPath();
    const d1 = sqliteDriver({ path: damaged });
    await d1.batch(
      puts(
        'big',
        Array.from({ length: 300 }, (_, i) => [`k${i}`, { text: 'y'.repeat(500), i }]),
      ),
      1,
    );
    await d1.close();
    const bytes = readFileSync(damaged);
    bytes.fill(0xa5, 4096 * 3, 4096 * 3 + 2048);
    writeFileSync(damaged, bytes);
    let code: string | undefined;
    try {
      const d2 = sqliteDriver({ path: damaged });
      try {
        const report = await d2.verify();
        code = report.ok ? 'ok' : report.issues[0]!.code;
        if (report.ok) await d2.scan('big', {}, 2);
      } finally {
        await d2.close();
      }
    } catch (error) {
      code = StrataError.is(error) ? error.code : String(error);
    }
    expect(code).toBe('CORRUPT');
  });

  it('delivers writes from another connection to watchers as remote events', async () => {
    const path = freshPath();
    const a = sqliteDriver({ path });
    const b = sqliteDriver({ path });
    try {
      const seenByB: ChangeEvent[] = [];
      const seenByA: ChangeEvent[] = [];
      const stopB = b.watch((e) => seenByB.push(e));
      const stopA = a.watch((e) => seenByA.push(e));
      await a.batch(puts('kv', [['x', 1]]), 10);
      await a.batch([{ type: 'delete', space: 'kv', key: 'x' }], 11);
      await b.batch(puts('kv', [['y', 2]]), 12);
      const deadline = Date.now() + 3_000;
      while (seenByB.filter((e) => e.origin === 'remote').length < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(seenByB).toEqual(
        [
          { space: 'kv', key: 'y', type: 'put', version: 1, value: '2', origin: 'local' },
          { space: 'kv', key: 'x', type: 'put', version: 1, origin: 'remote' },
          { space: 'kv', key: 'x', type: 'delete', version: null, origin: 'remote' },
        ].sort((p, q) => (p.origin === q.origin ? 0 : p.origin === 'local' ? -1 : 1)),
      );
      while (seenByA.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(seenByA.map((e) => `${e.origin}:${e.type}:${e.key}`)).toEqual(['local:put:x', 'local:delete:x', 'remote:put:y']);
      const db = sqliteConnection(a);
      const logged = (): number => db.prepare('SELECT count(*) FROM strata_changes').pluck().get() as number;
      expect(db.prepare('SELECT count(*) FROM strata_watchers').pluck().get()).toBe(2);
      stopA();
      stopB();
      stopB();
      // Nobody watches: writers stop paying for the change log.
      expect(db.prepare('SELECT count(*) FROM strata_watchers').pluck().get()).toBe(0);
      const before = logged();
      await b.batch(puts('kv', [['z', 1]]), 13);
      expect(logged()).toBe(before);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('keeps versions exact across connections and rolled-back batches', async () => {
    const path = freshPath();
    const a = sqliteDriver({ path });
    const b = sqliteDriver({ path });
    const put = (key: string, value: unknown, expect?: number): WriteOp =>
      ({
        type: 'put',
        space: 'kv',
        key,
        value: JSON.stringify(value),
        expiresAt: null,
        ...(expect === undefined ? {} : { expect }),
      }) as WriteOp;
    try {
      expect((await a.batch([put('k', 1)], 1))[0]).toMatchObject({ version: 1 });
      expect((await b.batch([put('k', 2)], 2))[0]).toMatchObject({ version: 2, createdAt: 1 });
      expect((await a.batch([put('k', 3)], 3))[0]).toMatchObject({ version: 3, createdAt: 1 });
      await expect(a.batch([put('k', 4, 2)], 4)).rejects.toMatchObject({ code: 'CONFLICT', details: { actual: 3 } });
      await b.batch([{ type: 'delete', space: 'kv', key: 'k' }], 5);
      expect((await a.batch([put('k', 5, 0)], 6))[0]).toMatchObject({ version: 1, createdAt: 6 });
      // A batch that fails half-way leaves nothing behind, in the file or in the driver's memory.
      await expect(
        a.batch([put('k', 6), put('n', 1), { type: 'check', space: 'kv', key: 'x', expect: 9 }], 7),
      ).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      expect((await a.batch([put('k', 7)], 8))[0]).toMatchObject({ version: 2 });
      expect(await a.get('kv', 'n', 8)).toBeNull();
      expect((await a.batch([put('n', 1, 0)], 9))[0]).toMatchObject({ version: 1 });
      // Purged (expired) records start again at version 1.
      await a.batch([{ type: 'put', space: 'kv', key: 'e', value: '1', expiresAt: 10 }], 9);
      expect(await a.purgeExpired(10)).toBe(1);
      expect((await a.batch([put('e', 2)], 11))[0]).toMatchObject({ version: 1, createdAt: 11 });
      expect((await b.batch([put('e', 3, 1)], 12))[0]).toMatchObject({ version: 2 });
      expect((await a.batch([{ type: 'check', space: 'kv', key: 'e', expect: 2 }, put('e', 4, 2)], 13))[1]).toMatchObject({
        version: 3,
      });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('reads values another program stored with __proto__ keys, escaped or not, without them', async () => {
    const path = freshPath();
    const driver = sqliteDriver({ path });
    const store = await openStore({ driver });
    try {
      const kv = store.kv('app');
      const docs = store.collection('docs');
      await kv.set('plain', { a: 1 });
      await kv.set('escaped', { a: 1 });
      await docs.insert({ id: 'd1', a: 1 });
      const raw = sqliteConnection(driver);
      const put = (space: string, key: string, json: string): void => {
        // Another program that writes the table keeps its checksums (schema 3) current too.
        raw
          .prepare(
            `UPDATE ${tableName(space)} SET value = @json, crc = strata_crc(key, @json, updated_at, expires_at) WHERE key = @key`,
          )
          .run({ json, key });
        raw
          .prepare(`UPDATE ${tableName(space)} SET vsum = (version * 1000003 + created_at * 31 + crc) % 4294967291 WHERE key = ?`)
          .run(key);
      };
      put('kv.app', 'plain', '{"__proto__": {"polluted": true}, "a": 1}');
      put('kv.app', 'escaped', '{"\\u005f_proto__": {"polluted": true}, "a": 1}');
      put('c.docs', 'd1', '{"id": "d1", "a": 1, "n": {"_\\u005fproto__": {"polluted": true}}}');
      const values = [
        await kv.get('plain'),
        await kv.get('escaped'),
        ...(await kv.getMany(['plain', 'escaped'])),
        ...(await docs.query({ a: 1 })),
        ((await docs.get('d1')) as { n: unknown }).n,
      ];
      for (const value of values) {
        expect(Object.prototype.hasOwnProperty.call(value, '__proto__')).toBe(false);
        expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('maps SQLite errors: a held write lock is LOCKED, a full database QUOTA_EXCEEDED', async () => {
    const path = freshPath();
    const a = sqliteDriver({ path });
    const b = sqliteDriver({ path, busyTimeoutMs: 50 });
    try {
      const raw = sqliteConnection(a);
      raw.exec('BEGIN IMMEDIATE');
      await expect(b.batch(puts('kv', [['x', 1]]), 1)).rejects.toMatchObject({ code: 'LOCKED', driver: 'sqlite' });
      raw.exec('ROLLBACK');
      expect((await b.batch(puts('kv', [['x', 1]]), 1))[0]).toMatchObject({ version: 1 });

      const pages = raw.pragma('page_count', { simple: true }) as number;
      raw.pragma(`max_page_count = ${pages + 2}`);
      const big = Array.from({ length: 50 }, (_, i): [string, unknown] => [`big${i}`, 'x'.repeat(4000)]);
      const error = await a.batch(puts('kv', big), 2).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'QUOTA_EXCEEDED', driver: 'sqlite' });
      expect((error as StrataError).cause).toBeDefined();
      expect(await a.get('kv', 'big0', 3)).toBeNull();
      expect(await a.count('kv', {}, 3)).toBe(1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('sets the synchronous pragma from durability, in WAL mode', async () => {
    const full = sqliteDriver({ path: freshPath() });
    const normal = sqliteDriver({ path: freshPath(), durability: 'normal', busyTimeoutMs: 1234 });
    try {
      expect(sqliteConnection(full).pragma('synchronous', { simple: true })).toBe(2);
      expect(sqliteConnection(normal).pragma('synchronous', { simple: true })).toBe(1);
      expect(sqliteConnection(full).pragma('journal_mode', { simple: true })).toBe('wal');
      expect(sqliteConnection(full).pragma('busy_timeout', { simple: true })).toBe(10_000);
      expect(sqliteConnection(normal).pragma('busy_timeout', { simple: true })).toBe(1234);
    } finally {
      await full.close();
      await normal.close();
    }
  });

  it('maps up to 256 MiB of the file for reads by default; mmapBytes and ?mmap= change it', async () => {
    const byDefault = sqliteDriver({ path: freshPath() });
    const off = sqliteDriver({ path: freshPath(), mmapBytes: 0 });
    try {
      expect(sqliteConnection(byDefault).pragma('mmap_size', { simple: true })).toBe(256 * 1024 * 1024);
      expect(sqliteConnection(off).pragma('mmap_size', { simple: true })).toBe(0);
    } finally {
      await byDefault.close();
      await off.close();
    }
    for (const [param, bytes] of [
      ['1GiB', 1024 ** 3],
      ['64mib', 64 * 1024 ** 2],
      ['0', 0],
      ['4096', 4096],
    ] as const) {
      const driver = await driverFromUrl(`sqlite:${freshPath()}?mmap=${param}`, 'full');
      try {
        expect(sqliteConnection(driver).pragma('mmap_size', { simple: true })).toBe(bytes);
      } finally {
        await driver.close();
      }
    }
    for (const bad of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 2]) {
      const path = freshPath();
      expect(codeOf(() => sqliteDriver({ path, mmapBytes: bad }))).toBe('BAD_INPUT');
      expect(existsSync(path)).toBe(false);
    }
    for (const bad of ['lots', '-5', '1TB', '', '2.5GiB']) {
      const path = freshPath();
      await expect(driverFromUrl(`sqlite:${path}?mmap=${bad}`, 'full')).rejects.toMatchObject({ code: 'BAD_INPUT' });
      expect(existsSync(path)).toBe(false);
    }
  });

  it('rejects every call with CLOSED after close()', async () => {
    const driver = sqliteDriver({ path: freshPath() });
    await driver.close();
    await driver.close();
    const calls: Array<() => Promise<unknown>> = [
      () => driver.get('a', 'b', 1),
      () => driver.getMany('a', ['b'], 1),
      () => driver.scan('a', {}, 1),
      () => driver.count('a', {}, 1),
      () => driver.batch(puts('a', [['b', 1]]), 1),
      () => driver.ensureSpace('a', {}),
      () => driver.spaces(),
      () => driver.purgeExpired(1),
      () => driver.stats(),
      () => driver.verify(),
    ];
    for (const call of calls) await expect(call()).rejects.toMatchObject({ code: 'CLOSED' });
    expect(codeOf(() => driver.watch(() => {}))).toBe('CLOSED');
  });

  it('keeps versions, expiry and batch atomicity like the memory driver', async () => {
    const path = freshPath();
    const driver = sqliteDriver({ path });
    try {
      const [first] = await driver.batch(puts('kv', [['a', 1]], 50), 10);
      expect(first).toMatchObject({ version: 1, createdAt: 10, updatedAt: 10, expiresAt: 50 });
      const [second] = await driver.batch(puts('kv', [['a', 2]], 50), 20);
      expect(second).toMatchObject({ version: 2, createdAt: 10, updatedAt: 20 });
      expect(await driver.get('kv', 'a', 49)).toMatchObject({ value: '2', version: 2 });
      expect(await driver.get('kv', 'a', 50)).toBeNull();
      expect(await driver.getMany('kv', ['a', 'zz', 'a'], 60)).toEqual([null, null, null]);
      // Expired counts as absent: expect 0 passes and the version starts again at 1.
      const [third] = await driver.batch([{ ...puts('kv', [['a', 3]])[0]!, expect: 0 } as WriteOp], 60);
      expect(third).toMatchObject({ version: 1, createdAt: 60, expiresAt: null });
      await expect(
        driver.batch([...puts('kv', [['b', 1]]), { type: 'check', space: 'kv', key: 'a', expect: 7 }], 70),
      ).rejects.toMatchObject({ code: 'CONFLICT', details: { index: 1, key: 'a', expected: 7, actual: 1 } });
      expect(await driver.get('kv', 'b', 70)).toBeNull();
      const results = await driver.batch(
        [
          ...puts('kv', [['b', 1]]),
          { type: 'put', space: 'kv', key: 'b', value: '2', expiresAt: null, expect: 1 },
          { type: 'delete', space: 'kv', key: 'b', expect: 2 },
          { type: 'delete', space: 'kv', key: 'never' },
          { type: 'check', space: 'kv', key: 'b', expect: 0 },
        ],
        80,
      );
      expect(results.map((x) => x?.version ?? null)).toEqual([1, 2, 2, null, null]);
      expect(await driver.getMany('kv', ['a', 'b'], 80)).toMatchObject([{ key: 'a', value: '3' }, null]);
      await driver.batch(
        puts(
          'kv',
          [
            ['t1', 1],
            ['t2', 2],
          ],
          90,
        ),
        80,
      );
      expect(await driver.purgeExpired(100)).toBe(2);
      const stats = await driver.stats();
      expect(stats).toMatchObject({ driver: 'sqlite', location: path, spaces: [{ space: 'kv', records: 1, bytes: 2 }] });
      expect(stats.storageBytes).toBeGreaterThan(0);
      expect(await driver.verify()).toEqual({ ok: true, checked: 1, issues: [] });
    } finally {
      await driver.close();
    }
    const reopened = sqliteDriver({ path, readonly: true });
    try {
      expect(await reopened.get('kv', 'a', 100)).toMatchObject({ value: '3', version: 1 });
      await expect(reopened.batch(puts('kv', [['c', 1]]), 100)).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    } finally {
      await reopened.close();
    }
  });
});
